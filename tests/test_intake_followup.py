"""Test talking to the team after the report: the code opens it, for an hour, and nothing else.

Conversations live in memory (the embedded default); reports go to a real SQLite file, and
what the reporter sent is opened with the admin's key, as the admin's machine would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.admin.binding import open_answers
from bot.admin.export import export_attachments
from bot.answers import decode_consent
from bot.app import Services, open_services
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.intake.followup import FINISH_REPORT_FIRST, NEED_CODE, WRITE_PROMPT, WRITING_DONE
from bot.intake.service import CODE_TRIES, Handled, Inbound
from bot.intake.values import Attached, Code, Command, Pressed, Typed
from bot.questions import CONSENT_KIND, FOLLOWUP_KIND, FOLLOWUP_META_KIND
from bot.settings import Settings
from storage.consent import ConsentRepository
from storage.conversations import MemoryConversations
from storage.db import session_factory, unit_of_work
from storage.records import StoredReport
from storage.repositories import ReportRepository
from tests.test_intake_service import Person, canary, fill_report, start_story, texts

SENT = "Sent to our team and locked. You can send more, or press Done."


def receipt_code(handled: Handled) -> str:
    """Read the code from the receipt, as the reporter copies it onto paper."""
    for reply in handled.replies:
        for part in reply.parts:
            for _, value in part.params:
                if isinstance(value, Code):
                    return value.text
    raise AssertionError("no receipt code in the replies")


async def the_report(services: Services) -> StoredReport:
    async with unit_of_work(session_factory(services.engine)) as session:
        reports = ReportRepository(session)
        [summary] = await reports.queue()
        report = await reports.get(summary.id)
    assert report is not None
    return report


async def ask_consent(services: Services, report_id: str) -> None:
    """Ask as ``amanat admin ask-consent`` does."""
    async with unit_of_work(session_factory(services.engine)) as session:
        assert await ConsentRepository(session).ask(report_id, datetime.now(UTC).date())


def opened(report: StoredReport, kind: str, key: AdminPrivateKey) -> list[bytes]:
    """Open every item of one kind with the admin's key, in index order."""
    document = open_answers(report, key)
    return [
        open_with_admin_key(item.blob, document.item_ref(report.id, item.kind, item.index), key)
        for item in sorted(report.items, key=lambda i: i.index)
        if item.kind == kind
    ]


async def test_a_reporter_writes_to_the_team_after_opening_the_report_with_the_code(
    services: Services, admin_key: AdminPrivateKey
) -> None:
    person = Person(services)
    code = receipt_code(await fill_report(person, {}))
    refused = await person.send(Pressed("m:write"))
    assert texts(refused) == [NEED_CODE]

    status = await person.send(Command("status", code))
    assert "m:write" in [b.data for b in person.buttons()]
    assert status.replies[-1].keyboard  # the button sits under the last message
    prompt = await person.press("m:write")
    assert texts(prompt) == [WRITE_PROMPT]
    first, second = canary(), canary()
    assert texts(await person.send(Typed(first))) == [SENT]
    assert texts(await person.send(Typed(second))) == [SENT]
    done = await person.press("w:done")
    assert texts(done)[0] == WRITING_DONE
    after = await person.send(Typed("this goes nowhere"))
    assert SENT not in texts(after)  # writing ended: a typed line is not sent on

    report = await the_report(services)
    assert opened(report, FOLLOWUP_KIND, admin_key) == [first.encode(), second.encode()]


async def test_a_file_sent_afterwards_is_sealed_to_the_report_and_exports(
    services: Services, admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    person = Person(services)
    code = receipt_code(await fill_report(person, {}))
    await person.send(Command("status", code))
    await person.press("m:write")
    voice = b"OggS" + canary().encode() * 100

    async def fetch(ref: str) -> bytes:
        assert ref == "voice-1"
        return voice

    caption = canary()
    person.update_id += 1
    sent = await services.intake.handle(
        Inbound(
            "telegram",
            person.user_id,
            Attached("voice", "voice-1", len(voice), caption=caption),
            person.update_id,
            "en",
            fetch_file=fetch,
        )
    )
    assert texts(sent) == [SENT]
    report = await the_report(services)
    [meta] = opened(report, FOLLOWUP_META_KIND, admin_key)
    assert json.loads(meta) == {"caption": caption, "kind": "voice", "size": len(voice)}
    [written] = await export_attachments(
        session_factory(services.engine), report.id, admin_key, tmp_path / "out"
    )
    assert written.path.read_bytes() == voice
    assert written.path.suffix == ".ogg"


async def test_the_code_opens_the_report_for_an_hour_and_a_wipe_closes_it(
    make_settings: Callable[..., Settings],
) -> None:
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    store = MemoryConversations(lambda: now[0])
    async with open_services(make_settings(), conversations=store, clock=lambda: now[0]) as svc:
        person = Person(svc)
        code = receipt_code(await fill_report(person, {}))
        await person.send(Command("status", code))
        now[0] += timedelta(minutes=61)
        assert texts(await person.send(Pressed("m:write"))) == [NEED_CODE]

        await person.send(Command("status", code))
        await person.press("m:write")
        await person.send(Command("wipe"))
        after_wipe = await person.send(Typed(canary()))
        assert SENT not in texts(after_wipe)
        assert texts(await person.send(Pressed("m:write"))) == [NEED_CODE]


async def test_typed_codes_are_limited_found_or_not(
    make_settings: Callable[..., Settings],
) -> None:
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    store = MemoryConversations(lambda: now[0])
    async with open_services(make_settings(), conversations=store, clock=lambda: now[0]) as svc:
        person = Person(svc)
        code = receipt_code(await fill_report(person, {}))
        wrong = "1111-2222-3333-4444-5555"
        for _ in range(CODE_TRIES):
            tried = await person.send(Command("status", wrong))
            assert "I could not find a report" in texts(tried)[0]
        blocked = await person.send(Command("status", code))  # even the right one, for now
        assert texts(blocked)[0].startswith("You have tried many codes")
        assert "m:write" not in [b.data for b in person.buttons()]
        now[0] += timedelta(minutes=10)
        found = await person.send(Command("status", code))
        assert texts(found)[0] == "Your report of {day} is saved."


async def test_the_reporter_gives_and_refuses_consent_with_buttons_or_words(
    services: Services, admin_key: AdminPrivateKey
) -> None:
    person = Person(services)
    code = receipt_code(await fill_report(person, {}))
    report = await the_report(services)
    nothing_asked = await person.send(Command("status", code))
    assert "c:yes" not in [b.data for b in person.buttons()]
    assert nothing_asked.replies

    await ask_consent(services, report.id)
    await person.send(Command("status", code))
    assert {"c:yes", "c:no"} <= {b.data for b in person.buttons()}
    yes = await person.press("c:yes")
    assert texts(yes) == ["Thank you. Our team may now share your case, without your name."]
    again = await person.send(Pressed("c:no"))  # an old button, pressed later
    assert texts(again) == ["There is no question from our team waiting for your answer."]

    await ask_consent(services, report.id)
    await person.send(Command("status", code))
    typed = await person.send(Typed("No"))  # typed, as many do
    assert texts(typed) == ["Understood. We will not share your case. You can still write to us."]

    answers = [
        decode_consent(d) for d in opened(await the_report(services), CONSENT_KIND, admin_key)
    ]
    assert answers == [True, False]
    async with unit_of_work(session_factory(services.engine)) as session:
        assert await ConsentRepository(session).pending(report.id) is None


async def test_writing_waits_while_a_new_report_is_being_written(services: Services) -> None:
    person = Person(services)
    code = receipt_code(await fill_report(person, {}))
    await person.send(Command("status", code))
    await start_story(person, canary())
    busy = await person.send(Pressed("m:write"))
    assert texts(busy)[0] == FINISH_REPORT_FIRST
