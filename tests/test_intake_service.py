"""Test the intake service: volatile conversations, sealing, submission, restarts, revocation.

Conversations live in memory (the embedded default); reports go to a real SQLite file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from sqlalchemy import text as sql_text

from bot.admin.binding import open_answers
from bot.app import Services, open_services, purge_expired
from bot.crypto.errors import NotARecipient
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.reporter import seal_for_reporter
from bot.crypto.values import ItemRef
from bot.i18n.translations import SUPPORTED_LOCALES
from bot.intake.service import Handled, Inbound
from bot.intake.texts import DRAFT_EXPIRED, RECEIVED_MANY, RESTARTED
from bot.intake.values import Button, Command, Event, Pressed, Reply, Typed
from bot.questions import QUESTIONS, REPLY_NOTICE_DAYS
from bot.settings import Settings
from storage.conversations import MemoryConversations
from storage.db import session_factory, unit_of_work
from storage.records import StoredReport
from storage.replies import ReplyNoticeRepository, ReplyRepository
from storage.repositories import ReportRepository, StatsRepository
from tests.benchmark_support import run_quick
from tests.test_storage_conversations import REDIS_URL, redis_or_skip


class Person:
    """One reporter talking to the service, remembering the buttons last shown."""

    def __init__(self, services: Services, user_id: int = 4242, hint: str = "en") -> None:
        self.services = services
        self.user_id = user_id
        self.hint = hint
        self.update_id = user_id * 10_000  # update ids are unique across a bot's users
        self.last: tuple[Reply, ...] = ()

    async def send(self, event: Event, update_id: int | None = None) -> Handled:
        self.update_id += 1
        handled = await self.services.intake.handle(
            Inbound("telegram", self.user_id, event, update_id or self.update_id, self.hint)
        )
        if handled.replies:
            self.last = handled.replies
        return handled

    async def begin(self) -> Handled:
        """Send /start and, at a first contact, choose a language as a reporter would."""
        started = await self.send(Command("start"))
        if any(b.data.startswith("l:") for b in self.buttons()):
            return await self.send(Pressed(f"l:{self.hint or 'en'}"))
        return started

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
    await person.begin()
    await person.press("m:report")
    return await finish_report(person, canaries)


async def finish_report(person: Person, canaries: dict[str, str]) -> Handled:
    """Answer the questions from wherever the person is, then send the report."""
    for _ in range(40):
        if any(":send:" in b.data for b in person.buttons()):
            return await person.press(":send:")
        question = current_question(person)
        if question in canaries:
            await person.send(Typed(canaries[question]))
            if question == "narrative":
                await person.press(":d:")
        elif question in ("recruiter_contact", "narrative"):
            await person.press(":s:")
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


def texts(handled: Handled) -> list[str]:
    return [p.msgid for r in handled.replies for p in r.parts]


async def stored_reports(services: Services) -> list[StoredReport]:
    async with unit_of_work(session_factory(services.engine)) as session:
        reports = ReportRepository(session)
        found = [await reports.get(summary.id) for summary in await reports.queue()]
    return [report for report in found if report is not None]


async def start_story(person: Person, story: str) -> None:
    """Walk to the story question and tell part of it, without sending the report."""
    await person.begin()
    await person.press("m:report")
    for _ in range(40):
        question = current_question(person)
        if question == "narrative":
            await person.send(Typed(story))
            return
        if question == "recruiter_contact":
            await person.press(":s:")
        elif question == "offered":
            await person.press(":t:money")
            await person.press(":d:")
        else:
            await person.press(person.buttons()[0].data)
    raise AssertionError("the story question never came")


async def test_report_is_sealed_and_admin_recovers_every_answer(
    services: Services, admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    canaries = {"recruiter_contact": canary(), "narrative": canary()}
    handled = await fill_report(Person(services), canaries)
    assert "Thank you. Your report is saved and locked." in texts(handled)

    [report] = await stored_reports(services)
    assert report.urgent is True
    assert report.format_version == 3
    document = open_answers(report, admin_key)
    opened = {
        (item.kind, item.index): open_with_admin_key(
            item.blob, document.item_ref(report.id, item.kind, item.index), admin_key
        )
        for item in report.items
    }
    assert opened[("recruiter_contact", 0)].decode() == canaries["recruiter_contact"]
    assert opened[("narrative", 0)].decode() == canaries["narrative"]
    assert document.answers["danger_now"] == "yes"
    assert document.answers["offered"] == ("money",)
    # The reply key the database holds is the one sealed with the answers.
    assert document.reporter_key == report.reporter_key
    assert document.draft_id is not None
    assert report.id not in document.draft_id
    async with unit_of_work(session_factory(services.engine)) as session:
        # Statistics wait in memory for a batch: never written with their report.
        assert await StatsRepository(session).all() == []

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
    assert len(await stored_reports(services)) == 1


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
    assert "Your report of {day} is saved." in texts(found)
    missing = await person.send(Command("status", "1111-2222-3333-4444-5555"))
    assert "I could not find a report with this code. Please check the numbers." in texts(missing)


def receipt_code(handled: Handled) -> str:
    return next(
        value.text  # type: ignore[attr-defined]
        for r in handled.replies
        for p in r.parts
        for name, value in p.params
        if name == "code"
    )


def team_answers(handled: Handled) -> list[str]:
    return [
        value for r in handled.replies for p in r.parts for n, value in p.params if n == "reply"
    ]


async def answer_reporter(services: Services, report_id: str, text: str, key: bytes) -> None:
    """What `amanat admin reply` stores: the answer sealed to the report's reply key."""
    async with unit_of_work(session_factory(services.engine)) as session:
        replies = ReplyRepository(session)
        index = await replies.next_index(report_id)
        blob = seal_for_reporter(text.encode(), key, ItemRef(report_id, "reply", index))
        await replies.add(report_id, index, blob, date(2026, 12, 3))


async def test_a_new_report_takes_one_scrypt_run_and_its_code_opens_the_answers(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []
    real_derive = Scrypt.derive

    def counted(self: Scrypt, key_material: bytes) -> bytes:
        runs.append(1)
        return real_derive(self, key_material)

    person = Person(services)
    await start_story(person, canary())
    monkeypatch.setattr(Scrypt, "derive", counted)
    code = receipt_code(await finish_report(person, {}))
    assert len(runs) == 1  # the receipt hash and the reply key, from one run
    [report] = await stored_reports(services)
    assert report.format_version == 3
    assert report.reporter_key is not None
    await answer_reporter(services, report.id, "پاسخ تیم", report.reporter_key)
    runs.clear()
    assert team_answers(await person.send(Command("status", code))) == ["پاسخ تیم"]
    assert len(runs) == 1


async def test_a_report_from_before_one_scrypt_run_still_opens_its_answers(
    services: Services,
) -> None:
    """Reports of format 2 hold a reply key from a second scrypt run (docs/crypto.md §13.1)."""
    person = Person(services)
    code = receipt_code(await fill_report(person, {"narrative": canary()}))
    [report] = await stored_reports(services)
    old_key = services.server_keys.reporter_key_v1(code, report.id).public_bytes()
    async with unit_of_work(session_factory(services.engine)) as session:
        await session.execute(
            sql_text("UPDATE reports SET format_version = 2, reporter_key = :key"), {"key": old_key}
        )
    await answer_reporter(services, report.id, "جواب تیم", old_key)
    assert team_answers(await person.send(Command("status", code))) == ["جواب تیم"]


async def test_statistics_wait_for_a_batch_of_reports_and_empty_the_wal(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    async with open_services(make_settings(stats_batch=3)) as services:
        sessions = session_factory(services.engine)
        for user_id in (1, 2):
            await fill_report(Person(services, user_id), {"narrative": canary()})
        await purge_expired(services)
        async with unit_of_work(sessions) as session:
            assert await StatsRepository(session).all() == []  # two reports cover nothing
        await fill_report(Person(services, 3), {"narrative": canary()})
        wal = next(tmp_path.glob("*.db-wal"))  # noqa: ASYNC240 - a listing in a test
        assert wal.stat().st_size > 0
        done = await purge_expired(services)
        async with unit_of_work(sessions) as session:
            records = await StatsRepository(session).all()
        assert done.statistics == 3
        assert len(records) == 3
        assert wal.stat().st_size == 0


async def test_a_report_counts_in_the_month_it_was_sent(
    make_settings: Callable[..., Settings],
) -> None:
    """Counting by the month a draft started would let a settled month change later."""
    now = [datetime(2026, 11, 30, 23, 50, tzinfo=UTC)]
    store = MemoryConversations(lambda: now[0])
    settings = make_settings(stats_batch=3)
    async with open_services(settings, conversations=store, clock=lambda: now[0]) as services:
        person = Person(services, 5)
        await start_story(person, canary())
        now[0] = datetime(2026, 12, 1, 0, 10, tzinfo=UTC)
        await person.press(":d:")
        await finish_report(person, {})
        for user_id in (6, 7):
            await fill_report(Person(services, user_id), {"narrative": canary()})
        await purge_expired(services)
        async with unit_of_work(session_factory(services.engine)) as session:
            months = {record.month for record in await StatsRepository(session).all()}
    assert months == {"2026-12"}


async def test_no_statistics_record_without_consent_but_the_report_covers_a_batch(
    make_settings: Callable[..., Settings],
) -> None:
    async with open_services(make_settings(stats_batch=3)) as services:
        person = Person(services, user_id=7)
        await person.begin()
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
        for user_id in (8, 9):
            await fill_report(Person(services, user_id), {"narrative": canary()})
        await purge_expired(services)
        assert len(await stored_reports(services)) == 3
        async with unit_of_work(session_factory(services.engine)) as session:
            assert len(await StatsRepository(session).all()) == 2


async def test_a_flood_is_asked_to_wait_once_then_ignored(
    make_settings: Callable[..., Settings],
) -> None:
    async with open_services(make_settings(flood_limit=10)) as services:
        person = Person(services, user_id=99)
        answered = [await person.send(Command("help")) for _ in range(10)]
        assert all(h.replies for h in answered)
        warned = await person.send(Command("help"))
        assert texts(warned) == [
            "You are sending very many messages. Please wait ten minutes, then go on. "
            "Your earlier answers are safe."
        ]
        silent = await person.send(Command("help"))
        assert silent.duplicate
        assert not silent.replies
        # Someone else is not held up by the flood.
        other = await Person(services, user_id=100).send(Command("help"))
        assert other.replies


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


async def test_wiping_the_chat_stops_the_answer_notices_it_would_receive(
    services: Services,
) -> None:
    """A notice weeks later would put the bot's chat back on a phone that was wiped."""
    person = Person(services)
    await fill_report(person, {"narrative": canary()})
    async with unit_of_work(session_factory(services.engine)) as session:
        assert await session.scalar(sql_text("SELECT count(*) FROM reply_notices")) == 1
    await services.intake.remember_messages("telegram", person.user_id, [5, 6])
    wiped = await person.send(Command("wipe"))
    assert wiped.wipe == (5, 6)
    async with unit_of_work(session_factory(services.engine)) as session:
        assert await session.scalar(sql_text("SELECT count(*) FROM reply_notices")) == 0


async def test_a_chosen_language_is_remembered_in_memory(services: Services) -> None:
    person = Person(services)
    await person.send(Command("language"))
    await person.press("l:ps")
    helped = await person.send(Command("help"))
    assert helped.locale == "ps"
    assert await services.intake.locale_of("telegram", person.user_id) == "ps"
    async with unit_of_work(session_factory(services.engine)) as session:
        tables = await session.execute(sql_text("SELECT name FROM sqlite_master"))
        assert "language_prefs" not in set(tables.scalars())


async def test_after_a_restart_a_reporter_is_told_plainly_that_unsent_answers_are_gone(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    async with open_services(settings) as services:
        person = Person(services, hint="fa_AF")
        await start_story(person, canary())
        old_buttons = person.buttons()
    async with open_services(settings) as restarted:  # a new process: its memory is new
        person.services = restarted
        pressed = await person.send(Pressed(old_buttons[0].data))
        # The language went with the memory: the notice comes in all three, then the picker.
        assert texts(pressed).count(RESTARTED) == 3
        chosen = await person.send(Pressed("l:fa_AF"))
        assert chosen.locale == "fa_AF"
        assert any("m:report" in b.data for b in person.buttons())  # offered a new start
        again = await person.send(Typed("hello?"))
        assert RESTARTED not in texts(again)  # said once, not at every message
        # Someone who only types after the restart hears it too.
        typed = await Person(restarted, user_id=555, hint="ps").send(Typed("salam"))
        assert RESTARTED in texts(typed)
        # A redelivered Send after the restart makes no report and still gets an answer.
        redelivered = await Person(restarted, user_id=556).send(Pressed("12:send:"))
        assert redelivered.replies
        assert await stored_reports(restarted) == []


async def test_without_a_known_language_the_restart_notice_comes_in_all_three(
    make_settings: Callable[..., Settings],
) -> None:
    async with open_services(make_settings()) as services:
        handled = await Person(services, user_id=3, hint=None).send(Pressed("4:a:AF"))  # type: ignore[arg-type]
    notice = handled.replies[0]
    assert [p.msgid for p in notice.parts] == [RESTARTED] * 3
    assert [p.locale for p in notice.parts] == list(SUPPORTED_LOCALES)
    assert any(b.data == "l:ps" for row in handled.replies[-1].keyboard for b in row)


async def test_a_draft_dies_at_its_deadline_however_busy_its_reporter(
    make_settings: Callable[..., Settings],
) -> None:
    now = [datetime(2026, 12, 2, 8, 0, tzinfo=UTC)]
    store = MemoryConversations(lambda: now[0])
    settings = make_settings(draft_ttl_minutes=60)
    async with open_services(settings, conversations=store, clock=lambda: now[0]) as services:
        person = Person(services)
        await start_story(person, canary())
        for minutes in (20, 40, 59):  # activity does not renew the draft's life
            now[0] = datetime(2026, 12, 2, 8, minutes, tzinfo=UTC)
            kept = await person.send(Typed(canary()))
            assert DRAFT_EXPIRED not in texts(kept)
        now[0] = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        late = await person.send(Typed(canary()))
        assert DRAFT_EXPIRED in texts(late)
        assert not any(":send:" in b.data for b in person.buttons())
        await person.press("m:report")
        assert await stored_reports(services) == []


async def test_a_key_revoked_before_submission_opens_nothing_of_the_report(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    """Items sealed while a revoked key was configured are never submitted as such."""
    revoked = AdminPrivateKey.generate()
    store = MemoryConversations()  # the same memory across the restart, as Redis would be
    both = (admin_key.public_key().to_text(), revoked.public_key().to_text())
    story = canary()
    async with open_services(
        make_settings(admin_public_keys=both), conversations=store
    ) as services:
        person = Person(services)
        await start_story(person, story)
    only = (admin_key.public_key().to_text(),)
    async with open_services(
        make_settings(admin_public_keys=only), conversations=store
    ) as services:
        person.services = services
        told = await person.send(Typed("and more"))
        assert RESTARTED in texts(told)
        await fill_report(person, {"narrative": canary()})
        [report] = await stored_reports(services)
    for item in report.items:
        with pytest.raises(NotARecipient):
            open_with_admin_key(
                item.blob,
                open_answers(report, admin_key).item_ref(report.id, item.kind, item.index),
                revoked,
            )
        open_with_admin_key(
            item.blob,
            open_answers(report, admin_key).item_ref(report.id, item.kind, item.index),
            admin_key,
        )
    await store.close()


async def test_with_redis_a_draft_survives_a_worker_restart_and_leaves_no_readable_trace(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    """Several workers share conversations through Redis; a deploy loses no half-told report."""
    client = await redis_or_skip()
    await client.aclose()
    settings = make_settings(redis_url=REDIS_URL)
    story = canary()
    async with open_services(settings) as services:
        person = Person(services, user_id=424_242)
        await start_story(person, story)
        key = services.intake.memory.key("telegram", person.user_id)
    dumped = await redis_dump()
    assert story.encode() not in dumped  # sealed to the admins, then locked
    assert b"424242" not in dumped  # no account id
    assert key.encode() in dumped  # keys are keyed hashes of accounts, values ciphertext
    async with open_services(settings) as restarted:  # another worker, the same Redis
        person.services = restarted
        more = await person.send(Typed("and then they came back"))
        assert RESTARTED not in texts(more)
        await person.press(":d:")
        await finish_report(person, {})
        [report] = await stored_reports(restarted)
    document = open_answers(report, admin_key)
    narrative = open_with_admin_key(
        next(i.blob for i in report.items if (i.kind, i.index) == ("narrative", 0)),
        document.item_ref(report.id, "narrative", 0),
        admin_key,
    )
    assert narrative.decode() == story


async def test_with_redis_a_story_message_costs_four_round_trips(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Take the turn, open the update, write its changes, give the turn back.

    Each round trip costs a write and a wake-up on both sides; there were ten before the
    reads and the writes of an update went out together (benchmarks/throughput.py).
    """
    client = await redis_or_skip()
    await client.aclose()
    async with open_services(make_settings(redis_url=REDIS_URL)) as services:
        person = Person(services, user_id=515_151)
        await start_story(person, canary())
        trips: list[int] = []
        real_send = AbstractConnection.send_packed_command

        async def counted(
            self: AbstractConnection, command: object, check_health: bool = True
        ) -> None:
            trips.append(1)
            await real_send(self, command, check_health)  # type: ignore[arg-type]

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
        handled = await person.send(Typed(canary()))
        monkeypatch.undo()
        assert RECEIVED_MANY in texts(handled)
        assert len(trips) == 4


async def redis_dump() -> bytes:
    """Every key and value of the test database, as a memory image of Redis would show."""
    client = Redis.from_url(REDIS_URL)
    parts: list[bytes] = []
    try:
        for name in await client.keys("*"):
            parts.append(name)
            kind = (await client.type(name)).decode()
            if kind == "string":
                parts.append(await client.get(name) or b"")
            elif kind == "hash":
                for field, value in (await client.hgetall(name)).items():
                    parts += [field, value]
            elif kind == "list":
                parts += await client.lrange(name, 0, -1)
    finally:
        await client.aclose()
    return b"\n".join(parts)


def test_the_conversation_benchmark_runs_quick() -> None:
    """The benchmark runs end to end and ends with one JSON object (nothing timed)."""
    figures = run_quick("conversation.py")
    for name in ("story_3_median_ms", "story_300_median_ms", "ratio"):
        assert isinstance(figures[name], int | float), name
    assert (figures["short"], figures["long"]) == (3, 300)


async def test_forget_confirms_in_the_language_it_forgets(services: Services) -> None:
    person = Person(services, hint="en")
    await person.begin()
    await person.send(Command("language"))
    await person.press("l:ps")
    forgotten = await person.send(Command("forget"))
    assert forgotten.locale == "ps"
    assert await services.intake.locale_of("telegram", person.user_id) is None


async def test_wipe_says_plainly_what_is_too_old_to_delete(
    make_settings: Callable[..., Settings],
) -> None:
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    store = MemoryConversations(lambda: now[0])
    async with open_services(make_settings(), conversations=store, clock=lambda: now[0]) as svc:
        person = Person(svc)
        await person.begin()
        await svc.intake.remember_messages("telegram", person.user_id, [1, 2, 3])
        now[0] += timedelta(hours=47)
        await svc.intake.remember_messages("telegram", person.user_id, [4])
        now[0] += timedelta(hours=2)  # 1, 2 and 3 are now beyond Telegram's 48 hours
        wiped = await person.send(Command("wipe"))
    assert wiped.wiping
    assert wiped.wipe == (4,)
    [notice] = wiped.replies
    assert notice.parts[0].msgid.startswith("I deleted what I could. Some older messages")


async def test_wipe_works_even_while_the_flood_limit_applies(
    make_settings: Callable[..., Settings],
) -> None:
    async with open_services(make_settings(flood_limit=10)) as services:
        person = Person(services, user_id=98)
        for _ in range(12):
            await person.send(Command("help"))
        await services.intake.remember_messages("telegram", person.user_id, [7, 8])
        wiped = await person.send(Command("wipe"))
    assert wiped.wiping
    assert wiped.wipe == (7, 8)
