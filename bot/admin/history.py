"""Say who wrote each team note and answer, and on which day, from the signed audit chain.

Every note and answer is stored in the same transaction as its audit entry (action ``note`` or
``reply``, subject the report id), so the n-th entry of a kind records the n-th item of that
kind. Reports older than the chain have more items than entries: the entries then belong to
the newest items, and the oldest ones are shown without a name or a day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Final

from bot.questions import NOTE_KIND, REPLY_KIND

RECORDED_ACTIONS: Final = {NOTE_KIND: "note", REPLY_KIND: "reply"}
"""Which audit action records each kind of team item."""


def who_and_when(
    entries: Iterable[tuple[str, date, str]], indexes: Mapping[str, Iterable[int]]
) -> dict[tuple[str, int], tuple[date, str]]:
    """Match (action, day, admin) entries, oldest first, to the team items' indexes by kind."""
    found: dict[tuple[str, int], tuple[date, str]] = {}
    listed = list(entries)
    for kind, action in RECORDED_ACTIONS.items():
        recorded = [(day, admin) for done, day, admin in listed if done == action]
        items = sorted(indexes.get(kind, ()))
        if not recorded or not items:
            continue
        matched = min(len(recorded), len(items))
        for index, record in zip(items[-matched:], recorded[-matched:], strict=True):
            found[(kind, index)] = record
    return found
