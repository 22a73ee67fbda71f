"""Test the intake service on a real SQLite file: sealing, durability, duplicates, canaries."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text as sql_text

from bot.app import Services, open_services, purge_expired
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.values import ItemRef
from bot.intake.service import LANGUAGE_KEPT, LEDGER_TTL, Handled, Inbound, ledger_expiry
from bot.intake.values import Button, Command, Event, Pressed, Reply, Typed
from bot.questions import QUESTIONS, REPLY_NOTICE_DAYS
from bot.settings import Settings
from storage.db import session_factory, unit_of_work
from storage.replies import ReplyNoticeRepository
from storage.repositories import ReportRepository, StatsRepository


@pytest.fixture
async def services(make_settings: Callable[..., Settings]) -> AsyncIterator[Services]:
    async with open_services(make_settings()) as opened:
        yield opened


class Person:
    """One reporter talking to the service, remembering the buttons last shown."""

    def __init__(self, services: Services, user_id: int = 4242) -> None:
        self.services = services
        self.user_id = user_id
        self.update_id = user_id * 10_000  # update ids are unique across a bot's users
        self.last: tuple[Reply, ...] = ()

    async def send(self, event: Event, update_id: int | None = None) -> Handled:
        self.update_id += 1
        handled = await self.services.intake.handle(
            Inbound("telegram", self.user_id, event, update_id or self.update_id, "en")
        )
        if handled.replies:
            self.last = handled.replies
        return handled

    def buttons(self) -> list[Button]:
        return [b for r in self.last for row in r.keyboard for b in row]

    async def press(self, suffix: str) -> Handled:
        for button in self.buttons():
            if suffix in button.data:
                return await self.send(Pressed(button.data))
        raise AssertionError(f"{suffix!r} not in {[b.data for b in self.buttons()]}")

    def position(self) -> str:
        return self.buttons()[0].data.split(":")[1] if self.buttons() else ""


def current_question(person: Person) -> str | None:
    """Name the question on screen by its prompt, as a reader would."""
    asking = [r for r in person.last if r.keyboard] or list(person.last)
    shown = {p.msgid for p in asking[-1].parts}
    return next((q.id for q in QUESTIONS if q.prompt in shown), None)


async def fill_report(person: Person, canaries: dict[str, str]) -> Handled:
    """Answer every question; free-text answers are the given canaries."""
    await person.send(Command("start"))
    await person.press("m:report")
    for _ in range(40):
        if any(":send:" in b.data for b in person.buttons()):
            return await person.press(":send:")
        question = current_question(person)
        if question in canaries:
            await person.send(Typed(canaries[question]))
            if question == "narrative":
                await person.press(":d:")
        elif question == "offered":
            await person.press(":t:money")
            await person.press(":d:")
        elif any(":a:yes" in b.data for b in person.buttons()):
            await person.press(":a:yes")
        else:
            await person.press(person.buttons()[0].data)
    raise AssertionError("the report never reached the summary")


def canary() -> str:
    return f"CANARY-{uuid.uuid4().hex}"


async def test_report_is_sealed_and_admin_recovers_every_answer(
    services: Services, admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    canaries = {"recruiter_contact": canary(), "narrative": canary()}
    handled = await fill_report(Person(services), canaries)
    texts = [p.msgid for r in handled.replies for p in r.parts]
    assert "Thank you. Your report is saved and locked." in texts

    async with unit_of_work(session_factory(services.engine)) as session:
        queue = await ReportRepository(session).queue()
        assert len(queue) == 1
        report = await ReportRepository(session).get(queue[0].id)
        stats = await StatsRepository(session).all()
    assert report is not None
    assert report.urgent is True
    opened = {
        (item.kind, item.index): open_with_admin_key(
            item.blob, ItemRef(report.id, item.kind, item.index), admin_key
        )
        for item in report.items
    }
    assert opened[("recruiter_contact", 0)].decode() == canaries["recruiter_contact"]
    assert opened[("narrative", 0)].decode() == canaries["narrative"]
    answers = json.loads(opened[("answers", 0)])
    assert answers["answers"]["danger_now"] == "yes"
    assert answers["answers"]["offered"] == ["money"]
    assert len(stats) == 1
    assert stats[0].urgency == "urgent"

    await services.engine.dispose()
    for path in list(tmp_path.rglob("*")):  # noqa: ASYNC240 - test teardown reads files
        if path.is_file():
            data = path.read_bytes()
            for value in (canaries["recruiter_contact"], canaries["narrative"]):
                assert value.encode() not in data, f"canary leaked into {path.name}"


async def test_duplicate_update_is_processed_once(services: Services) -> None:
    person = Person(services)
    first = await person.send(Command("start"), update_id=77)
    again = await person.send(Command("start"), update_id=77)
    assert first.replies
    assert not first.duplicate
    assert again.duplicate
    assert not again.replies


async def test_second_send_press_does_not_make_a_second_report(services: Services) -> None:
    person = Person(services)
    canaries = {"recruiter_contact": canary(), "narrative": canary()}
    await fill_report(person, canaries)
    # A re-delivered press of the old Send button arrives with a new update id.
    handled = await person.send(Pressed("999:send:"))
    assert handled.replies
    async with unit_of_work(session_factory(services.engine)) as session:
        assert len(await ReportRepository(session).queue()) == 1


async def test_status_finds_report_by_code_in_persian_digits(services: Services) -> None:
    person = Person(services)
    handled = await fill_report(person, {"recruiter_contact": canary(), "narrative": canary()})
    code = next(
        value.text  # type: ignore[attr-defined]
        for r in handled.replies
        for p in r.parts
        for name, value in p.params
        if name == "code"
    )
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    found = await person.send(Command("status", persian))
    assert "Your report of {day} is saved." in [p.msgid for r in found.replies for p in r.parts]
    missing = await person.send(Command("status", "1111-2222-3333-4444-5555"))
    assert "I could not find a report with this code. Please check the numbers." in [
        p.msgid for r in missing.replies for p in r.parts
    ]


async def test_purge_keeps_statistics_but_not_their_order_and_empties_the_wal(
    services: Services, tmp_path: Path
) -> None:
    for user_id in (1, 2, 3):
        person = Person(services, user_id=user_id)
        await fill_report(person, {"recruiter_contact": canary(), "narrative": canary()})
    sessions = session_factory(services.engine)
    async with unit_of_work(sessions) as session:
        before = await StatsRepository(session).all()
    wal = next(tmp_path.glob("*.db-wal"))  # noqa: ASYNC240 - a directory listing in a test
    assert wal.stat().st_size > 0
    await purge_expired(services.engine)
    async with unit_of_work(sessions) as session:
        after = await StatsRepository(session).all()
    assert sorted(map(repr, after)) == sorted(map(repr, before))
    assert wal.stat().st_size == 0


async def test_no_statistics_record_without_consent(services: Services) -> None:
    person = Person(services, user_id=7)
    await person.send(Command("start"))
    await person.press("m:report")
    for _ in range(40):
        if any(":send:" in b.data for b in person.buttons()):
            await person.press(":send:")
            break
        question = current_question(person)
        if question in ("recruiter_contact", "narrative"):
            await person.press(":s:")
        elif question == "offered":
            await person.press(":t:money")
            await person.press(":d:")
        elif question == "consent_statistics":
            await person.press(":a:no")
        else:
            await person.press(person.buttons()[0].data)
    async with unit_of_work(session_factory(services.engine)) as session:
        assert len(await ReportRepository(session).queue()) == 1
        assert await StatsRepository(session).all() == []


async def test_a_flood_is_asked_to_wait_once_then_ignored(
    make_settings: Callable[..., Settings],
) -> None:
    async with open_services(make_settings(flood_limit=10)) as services:
        person = Person(services, user_id=99)
        answered = [await person.send(Command("help")) for _ in range(10)]
        assert all(h.replies for h in answered)
        warned = await person.send(Command("help"))
        assert [p.msgid for r in warned.replies for p in r.parts] == [
            "You are sending very many messages. Please wait ten minutes, then go on. "
            "Your earlier answers are safe."
        ]
        silent = await person.send(Command("help"))
        assert silent.duplicate
        assert not silent.replies
        # Someone else is not held up by the flood.
        other = await Person(services, user_id=100).send(Command("help"))
        assert other.replies


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 25, 23, 41, 7, 123456, UTC), datetime(2026, 11, 28, tzinfo=UTC)),
        (datetime(2026, 11, 25, 0, 0, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)),
        (datetime(2026, 11, 25, 0, 0, 0, 1, UTC), datetime(2026, 11, 28, tzinfo=UTC)),
    ],
)
def test_ledger_entries_expire_at_midnight_never_before_two_days(
    now: datetime, expected: datetime
) -> None:
    """The submitting update's entry is written with the report: it must not date it exactly."""
    assert ledger_expiry(now) == expected
    assert ledger_expiry(now) - now >= LEDGER_TTL


async def test_a_reply_notice_link_lives_three_months_and_no_longer(services: Services) -> None:
    """The account ↔ report link the reporter chose is deleted when its time is up."""
    await fill_report(Person(services), {"recruiter_contact": canary(), "narrative": canary()})
    async with unit_of_work(session_factory(services.engine)) as session:
        [report] = await ReportRepository(session).queue()
        [(expires_on,)] = (
            await session.execute(sql_text("SELECT expires_on FROM reply_notices"))
        ).all()
    due = report.submitted_on + timedelta(days=REPLY_NOTICE_DAYS)
    assert date.fromisoformat(str(expires_on)) == due
    async with unit_of_work(session_factory(services.engine)) as session:
        notices = ReplyNoticeRepository(session)
        assert await notices.purge_expired(due - timedelta(days=1)) == 0
        assert await notices.purge_expired(due) == 1
    question = next(q for q in QUESTIONS if q.id == "notify_replies")
    assert REPLY_NOTICE_DAYS == 90
    assert "for three months at most" in question.prompt


async def test_a_chosen_language_is_remembered_for_ninety_days(services: Services) -> None:
    person = Person(services)
    before = datetime.now(UTC).date()
    await person.send(Command("language"))
    await person.press("l:ps")
    after = datetime.now(UTC).date()  # the same day, unless the test ran across midnight
    async with unit_of_work(session_factory(services.engine)) as session:
        [(locale, expires_on)] = (
            await session.execute(sql_text("SELECT locale, expires_on FROM language_prefs"))
        ).all()
    assert locale == "ps"
    assert timedelta(days=90) == LANGUAGE_KEPT
    assert date.fromisoformat(str(expires_on)) - LANGUAGE_KEPT in {before, after}
