"""Re-key from a lead's machine through the admin API (the server's side: ``rekeying``).

The same planning as on the database (:func:`bot.admin.rekey.rewrap_reports`), with the
reports read and written through signed requests. The run is chained before anything is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.admin.redaction import blob_hash
from bot.admin.rekey import (
    STREAM_KINDS,
    Planner,
    Problem,
    ReportOutcome,
    outcome_of,
    rekey_subject,
    rewrap_item,
)
from bot.adminapi.client import AdminApiClient, ApiRefused, report_from_answer
from bot.adminapi.rekeying import REKEY, REKEY_CHECK
from bot.crypto.encoding import b64decode, b64encode
from bot.crypto.errors import CryptoError
from bot.crypto.items import rewrap_for_admins
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.values import SealedBlob
from bot.partners.months import Month
from bot.partners.snapshot import snapshot_ref


async def start_rekey(
    api: AdminApiClient, target: Sequence[AdminPublicKey], *, execute: bool
) -> None:
    """Chain the run (``rekey``, or ``rekey-check`` for a dry run) before reading anything."""
    ids = [key.key_id for key in target]
    await api.audited(
        "POST",
        "/v1/rekey",
        REKEY if execute else REKEY_CHECK,
        rekey_subject(ids),
        {"target": ids, "execute": execute},
    )


class ApiRekeyStore:
    """The reports as the admin API serves them to a lead with a run started today."""

    def __init__(self, api: AdminApiClient, target: Sequence[AdminPublicKey]) -> None:
        """Take the signed client and the new key set (named in every write)."""
        self._api = api
        self._ids = [key.key_id for key in target]

    async def report_ids(self, after: str | None, limit: int) -> list[str]:
        """The next page of report ids (the server's page size bounds ``limit``)."""
        query = "" if after is None else f"?after={after}"
        answer = await self._api.call("GET", "/v1/rekey/reports" + query)
        ids = answer.get("ids") if isinstance(answer, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiRefused(502, "the server's answer is not a page of report ids")
        return ids[:limit]

    async def rekey_one(
        self, report_id: str, planner: Planner, *, execute: bool
    ) -> ReportOutcome | None:
        """Fetch, plan here and, with ``execute``, send the replacements back."""
        try:
            answer = await self._api.call("GET", f"/v1/rekey/reports/{report_id}")
        except ApiRefused as refused:
            if refused.status == 404:
                return None  # deleted meanwhile
            raise
        try:
            stored = report_from_answer(answer["report"])
            headers = [
                (int(h["index"]), SealedBlob(b64decode(h["header"], size=None)))
                for h in answer["headers"]
            ]
        except (KeyError, TypeError, ValueError, CryptoError):
            raise ApiRefused(502, "the server's answer is not a sealed report") from None
        plan = planner(stored, headers)
        if not execute:
            return ReportOutcome(plan.report_id, len(plan.replacements), plan.problems)
        items: list[dict[str, Any]] = []
        streams: list[dict[str, Any]] = []
        for replacement in plan.replacements:
            entry = {
                "kind": replacement.kind,
                "index": replacement.index,
                "old": b64encode(blob_hash(replacement.old)),
                "new": b64encode(replacement.new.data),
            }
            (streams if replacement.kind in STREAM_KINDS else items).append(entry)
        written = await self._api.call(
            "POST",
            f"/v1/rekey/reports/{report_id}",
            {"target": self._ids, "items": items, "headers": streams},
        )
        try:
            return outcome_of(plan, int(written["done"]), int(written["changed"]))
        except (KeyError, TypeError, ValueError):
            raise ApiRefused(502, "the server's answer is not a count") from None


async def rewrap_snapshots_through_api(
    api: AdminApiClient,
    keys: Sequence[AdminPrivateKey],
    target: Sequence[AdminPublicKey],
    *,
    execute: bool,
) -> tuple[int, list[str]]:
    """Re-wrap every month's snapshot to ``target``: how many, and the months left over."""
    answer = await api.call("GET", "/v1/rekey/snapshots")
    try:
        found = [
            (str(s["month"]), SealedBlob(b64decode(s["blob"], size=None)))
            for s in answer["snapshots"]
        ]
    except (KeyError, TypeError, CryptoError):
        raise ApiRefused(502, "the server's answer is not a list of snapshots") from None
    ids = [key.key_id for key in target]
    rewrapped, left = 0, []
    for month, sealed in found:
        new = rewrap_item(rewrap_for_admins, sealed, snapshot_ref(Month.parse(month)), keys, target)
        if isinstance(new, Problem):
            left.append(month)
            continue
        if execute:
            body = {"target": ids, "old": b64encode(blob_hash(sealed)), "new": b64encode(new.data)}
            written = await api.call("POST", f"/v1/rekey/snapshots/{month}", body)
            if not (isinstance(written, dict) and written.get("replaced") is True):
                left.append(month)
                continue
        rewrapped += 1
    return rewrapped, left
