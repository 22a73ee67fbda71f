"""Drive the real Application over HTTP against the fake Bot API: reports, bad input, canaries.

Every Bot API call is validated against the spec by the fake server; ``strict_fake_api`` fails
the test at teardown if the bot made a call Telegram would refuse.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
import unicodedata
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text as sql_text
from typer.testing import CliRunner

from bot.admin.binding import open_answers, stream_ref
from bot.app import deliver_reply_notices
from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.stream import open_stream_with_admin_key as open_with_stream
from bot.devtools.fakeapi import ChatMessage, FakeUser, Fault
from bot.devtools.fakeapi.state import FaultKind
from bot.i18n.translations import Translations
from bot.intake.texts import NEVER_GIVE_CODE
from bot.logs import configure_logging
from bot.settings import Settings
from storage.db import create_engine, normalise_database_url, session_factory, unit_of_work
from storage.repositories import ReportRepository
from storage.uploads import UploadRepository
from tests.botapi_driver import RunningAmanat, running_amanat
from tests.test_storage_conversations import REDIS_URL, redis_or_skip

Harness = RunningAmanat


@pytest.fixture
async def harness(make_settings: Callable[..., Settings]) -> AsyncIterator[Harness]:
    async with running_amanat(make_settings) as running:
        yield running
        assert not running.driver.errors, running.driver.errors


def keyboard_message(user: FakeUser) -> ChatMessage:
    """The newest bot message that still shows buttons."""
    return next(m for m in reversed(user.bot_messages()) if m.buttons)


async def press_data(h: Harness, user: FakeUser, fragment: str) -> list[ChatMessage]:
    message = keyboard_message(user)
    data = next(d for d in message.callback_data if fragment in d)
    return await h.driver.press(user, data, message)


async def answer_until_free_text(h: Harness, user: FakeUser) -> None:
    """Start a report and press the first answer until a free-text question (with Skip) shows."""
    await press_data(h, user, "m:report")
    while not any(d.endswith(":s:") for d in keyboard_message(user).callback_data):
        message = keyboard_message(user)
        if any(":t:" in d for d in message.callback_data):
            await press_data(h, user, ":t:money")
            await press_data(h, user, ":d:")
        else:
            await h.driver.press(user, message.callback_data[0], message)


async def walk_report(
    h: Harness,
    user: FakeUser,
    free_text: dict[str, str],
    *,
    on_step: Callable[[int], object] | None = None,
    start: bool = True,
) -> list[ChatMessage]:
    """Answer a whole report through the chat like a person; return the final messages."""
    if start:
        await press_data(h, user, "m:report")
    for number in range(60):
        if on_step is not None:
            await on_step(number)  # type: ignore[misc]
        message = keyboard_message(user)
        data = message.callback_data
        if any(":send:" in d for d in data):
            return await press_data(h, user, ":send:")
        if any(":t:" in d for d in data):
            await press_data(h, user, ":t:money")
            await press_data(h, user, ":d:")
        elif any(d.endswith(":s:") for d in data):
            text = free_text.pop("recruiter_contact", None) or free_text.pop("narrative", None)
            if text is None:
                await press_data(h, user, ":s:")
            else:
                await h.driver.say(user, text)
                if any(":d:" in d for d in keyboard_message(user).callback_data):
                    await press_data(h, user, ":d:")
        elif any(":a:yes" in d for d in data):
            await press_data(h, user, ":a:yes")
        elif any(":a:AF" in d for d in data):
            await press_data(h, user, ":a:AF")
        else:
            await h.driver.press(user, data[0], message)
    raise AssertionError("never reached the summary")


def receipt_code(messages: list[ChatMessage]) -> str:
    text = "\n".join(m.text or "" for m in messages)
    text = text.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
    found = re.search(r"\d{4}-\d{4}-\d{4}-\d{4}-\d{4}", text)
    assert found, text
    return found.group(0)


async def stored_reports(
    settings: Settings, admin_key: AdminPrivateKey
) -> list[dict[tuple[str, int], bytes]]:
    engine = create_engine(normalise_database_url(settings.database_url))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            repo = ReportRepository(session)
            reports = [await repo.get(s.id) for s in await repo.queue()]
    finally:
        await engine.dispose()
    opened = []
    for report in reports:
        assert report is not None
        document = open_answers(report, admin_key)
        opened.append(
            {
                (i.kind, i.index): open_with_admin_key(
                    i.blob, document.item_ref(report.id, i.kind, i.index), admin_key
                )
                for i in report.items
            }
        )
    return opened


async def test_english_report_end_to_end(harness: Harness, admin_key: AdminPrivateKey) -> None:
    user = harness.server.user(language_code="en")
    welcome = await harness.start(user)
    assert "Amanat" in (welcome[0].text or "")
    final = await walk_report(
        harness, user, {"recruiter_contact": "+98 912 000 0000", "narrative": "They offered money."}
    )
    code = receipt_code(final)
    assert all(m.protected for m in user.bot_messages()), "every bot message is protected"
    assert not harness.server.unanswered_callback_queries()
    reports = await stored_reports(harness.settings, admin_key)
    assert len(reports) == 1
    items = reports[0]
    assert items[("narrative", 0)] == b"They offered money."
    answers = json.loads(items[("answers", 0)])["answers"]
    assert answers["country"] == "AF"
    status = await harness.driver.command(user, "status", code)
    assert "saved" in (status[0].text or "")
    assert status[-1].text == "There is no answer from our team yet."


def _letters(text: str) -> tuple[int, int]:
    arabic = sum(
        1
        for c in text
        if unicodedata.category(c).startswith("L") and "ARABIC" in unicodedata.name(c, "")
    )
    latin = sum(1 for c in text if unicodedata.category(c).startswith("L") and c.isascii())
    return arabic, latin


@pytest.mark.parametrize(("language_code", "marker"), [("fa", "گزارش"), ("ps", "راپور")])
async def test_dari_and_pashto_reports_speak_the_chosen_language(
    harness: Harness, admin_key: AdminPrivateKey, language_code: str, marker: str
) -> None:
    user = harness.server.user(language_code=language_code)
    await harness.start(user)
    final = await walk_report(harness, user, {"narrative": "روایت من"})
    code = receipt_code(final)
    # The code reaches Telegram in the reader's digits, isolated so it never scrambles.
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert any(f"\u2068{persian}\u2069" in (m.text or "") for m in final)
    status = await harness.driver.command(user, "status", code)
    day_line = status[0].text or ""
    assert "۱۴۰" in day_line, "the date is in the solar calendar (years 140x)"
    assert "۲۰۲" not in day_line, "no Gregorian year"

    # Every message after the language picker (which is in all three languages, by design).
    def picker(message: ChatMessage) -> bool:  # its buttons are gone once a language is chosen
        return "Please choose your language." in (message.text or "")

    texts = [m.text or "" for m in user.bot_messages() if not picker(m)]
    assert any(marker in t for t in texts)
    for shown in texts:
        # Isolated values (the operator's emergency lines, codes) are not the bot's words.
        text = re.sub("\u2068[^\u2069]*\u2069", "", shown)
        arabic, latin = _letters(text)
        # Commands (/status) and the bot's name may stay Latin; the message itself must not.
        assert arabic > 4 * latin, text
        assert not re.search(r"[0-9]", re.sub(r"/\w+", "", text)), f"ASCII digits in: {text}"
    for message in user.bot_messages():
        if picker(message):
            continue  # the picker names each language in its own script
        for label in message.button_texts:
            arabic, latin = _letters(label)
            assert arabic >= latin, label
    assert len(await stored_reports(harness.settings, admin_key)) == 1


async def test_bad_input_is_answered_and_loses_nothing(
    harness: Harness, admin_key: AdminPrivateKey
) -> None:
    user = harness.server.user(language_code="en")
    group = harness.server.user(language_code="en", chat_type="group")
    await harness.start(user)

    async def disturb(number: int) -> None:
        if number != 4:
            return
        d = harness.driver
        answers_so_far = keyboard_message(user).text
        actions: list[Callable[[], Awaitable[int]]] = [
            user.send_sticker,
            lambda: user.send_photo(size_bytes=50_000),
            user.send_voice,
            lambda: user.send_document("passport.pdf", 30_000_000),
            lambda: user.send_contact("+93700000000"),
            lambda: user.edit_last_text("changed"),
            lambda: user.send_command("help"),
            lambda: user.send_command("nonsense"),
            lambda: user.send_text("banana"),
            lambda: user.forward_text("forwarded"),
        ]
        for action in actions:
            replies = await d.run(user, action())
            assert replies, "every input gets an answer"
        location = await d.run(user, user.send_location(34.5, 69.2))
        assert any("location" in (m.text or "") for m in location)
        assert not any(m.kind == "location" for m in user.chat_messages()), "location deleted"
        await d.run(group, group.send_command("start"))
        assert "private chat" in (group.bot_messages()[-1].text or "")
        assert keyboard_message(user).text == answers_so_far, "the question is shown again"
        # Answer by typing the button's number: the question's buttons go, so nobody presses
        # them later (a press that comes anyway is answered as stale: test_intake_step).
        old_message = keyboard_message(user)
        await d.say(user, "1")
        [old_now] = [m for m in user.bot_messages() if m.message_id == old_message.message_id]
        assert not old_now.buttons
        assert keyboard_message(user).message_id > old_message.message_id

    final = await walk_report(harness, user, {"narrative": "still here"}, on_step=disturb)
    receipt_code(final)
    reports = await stored_reports(harness.settings, admin_key)
    answers = json.loads(reports[0][("answers", 0)])["answers"]
    assert {"danger_now", "incident", "country", "province"} <= set(answers)


async def test_too_long_text_is_refused_politely(harness: Harness) -> None:
    user = harness.server.user(language_code="en")
    await harness.start(user)
    await answer_until_free_text(harness, user)
    replies = await harness.driver.say(user, "x" * 4000)
    assert "too long" in (replies[-1].text or "")


async def test_canaries_never_reach_disk_logs_or_temp(
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    log_file = tmp_path / "amanat.log"
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    configure_logging("DEBUG")
    file_handler = logging.FileHandler(log_file)
    root.addHandler(file_handler)
    canaries = {
        "recruiter_contact": f"CANARY-{uuid.uuid4().hex}",
        "narrative": f"CANARY-{uuid.uuid4().hex}",
    }
    try:
        async with running_amanat(make_settings) as h:
            settings = h.settings
            user = h.server.user(language_code="en")
            await h.start(user)
            await walk_report(h, user, dict(canaries))
            # While the bot still runs, the WAL holds the latest pages.
            _assert_absent(tmp_path, canaries.values())
    finally:
        root.removeHandler(file_handler)
        file_handler.close()
        root.setLevel(saved[0])
    assert log_file.stat().st_size > 0, "the log captured something"
    _assert_absent(tmp_path, canaries.values())
    # The admin, on their own machine, recovers every canary with the command line.
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes("admin passphrase 1", scrypt_n=2**10))
    app = create_app(CliConfig(load_settings=lambda: settings, scrypt_n=2**10))
    runner = CliRunner()
    env = {PASSPHRASE_ENV: "admin passphrase 1"}
    queue = await asyncio.to_thread(
        runner.invoke, app, ["admin", "queue", "--key", str(key_file)], env=env
    )
    assert queue.exit_code == 0, queue.output
    report_id = re.search(r"\b[0-9A-HJKMNP-TV-Z]{10}\b", queue.output)
    assert report_id, queue.output
    shown = await asyncio.to_thread(
        runner.invoke, app, ["admin", "show", report_id.group(0), "--key", str(key_file)], env=env
    )
    assert shown.exit_code == 0, shown.output
    for canary in canaries.values():
        assert canary in shown.output


def _assert_absent(folder: Path, canaries: object) -> None:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files)
    for path in files:
        data = path.read_bytes()
        for canary in canaries:  # type: ignore[attr-defined]
            assert canary.encode() not in data, f"canary found in {path.name}"


async def test_voice_notes_and_photos_are_sealed_as_streams(
    harness: Harness, admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    voice = b"OggS" + f"CANARY-VOICE-{uuid.uuid4().hex}".encode() * 5000  # about 230 kB
    photo = b"\xff\xd8" + f"CANARY-PHOTO-{uuid.uuid4().hex}".encode() * 50
    user = harness.server.user(language_code="en")
    await harness.start(user)
    await answer_until_free_text(harness, user)
    prompt = keyboard_message(user).text or ""
    assert "voice note" in prompt
    await harness.driver.run(user, user.send_photo(len(photo), content=photo))
    await harness.driver.press(user, keyboard_message(user).callback_data[0])  # former forces
    received = await harness.driver.run(user, user.send_voice(content=voice))
    assert "Received and locked (1)" in (received[-1].text or "")
    big = await harness.driver.run(user, user.send_document("film.mp4", 25 * 1024 * 1024))
    assert "too big" in (big[-1].text or "")
    await press_data(harness, user, ":d:")
    final = await walk_report(harness, user, {}, start=False)
    receipt_code(final)

    settings = harness.settings
    engine = create_engine(normalise_database_url(settings.database_url))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            [summary] = await ReportRepository(session).queue()
            report = await ReportRepository(session).get(summary.id)
            assert report is not None
            document = open_answers(report, admin_key)
            uploads = UploadRepository(session)
            opened = {}
            for file in report.files:
                chunks = [blob async for blob in uploads.chunks(file.upload_id)]
                ref = stream_ref(report, document, file.index)
                opened[file.index] = b"".join(
                    open_with_stream(chunks[0], chunks[1:], ref, admin_key)
                )
    finally:
        await engine.dispose()
    assert opened == {0: photo, 1: voice}
    # The admin exports them with the command line, on their own machine.
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes("admin passphrase 1", scrypt_n=2**10))
    app = create_app(CliConfig(load_settings=lambda: settings, scrypt_n=2**10))
    out = tmp_path.parent / f"{tmp_path.name}-export"
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["admin", "export", summary.id, "--to", str(out), "--key", str(key_file)],
        env={PASSPHRASE_ENV: "admin passphrase 1"},
    )
    assert result.exit_code == 0, result.output
    exported = sorted(out.iterdir())
    assert [p.read_bytes() for p in exported] == [photo, voice]
    assert [p.suffix for p in exported] == [".jpg", ".ogg"]
    again = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["admin", "export", summary.id, "--to", str(out), "--key", str(key_file)],
        env={PASSPHRASE_ENV: "admin passphrase 1"},
    )
    assert again.exit_code != 0
    assert "already holds" in again.output, again.output
    assert "another folder with --to" in again.output
    assert "Traceback" not in again.output
    assert [p.read_bytes() for p in sorted(out.iterdir())] == [photo, voice]  # untouched
    shown = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["admin", "show", summary.id, "--key", str(key_file)],
        env={PASSPHRASE_ENV: "admin passphrase 1"},
    )
    assert "[1] Photo" in shown.output, shown.output
    assert "[2] Voice note" in shown.output
    for path in list(tmp_path.rglob("*")):  # noqa: ASYNC240 - test teardown reads files
        if path.is_file():
            data = path.read_bytes()
            assert voice[4:40] not in data, path.name
            assert photo[2:40] not in data, path.name


async def test_admin_answer_reaches_only_the_holder_of_the_code(
    harness: Harness, admin_key: AdminPrivateKey, tmp_path: Path, translations: Translations
) -> None:
    user = harness.server.user(language_code="fa")
    await harness.start(user)
    code = receipt_code(await walk_report(harness, user, {"narrative": "روایت"}))
    settings = harness.settings
    [report_id] = [r for r in await _report_ids(settings)]
    answer = f"پاسخ تیم CANARY-{uuid.uuid4().hex}"
    said = await _answer_as_admin(settings, admin_key, tmp_path, report_id, answer)
    assert "sends a short notice" in said  # the walk answered Yes to notices
    before = len(user.bot_messages())
    assert await deliver_reply_notices(harness.services, harness.driver.application.bot) == 1
    notice = user.bot_messages()[before:]
    waiting = (
        "Our team has written to you about your report. Send /status and your code to read it."
    )
    assert [m.text for m in notice] == [translations.gettext("fa_AF", waiting)]
    assert answer not in (notice[0].text or "")
    assert await deliver_reply_notices(harness.services, harness.driver.application.bot) == 0
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    shown = await harness.driver.command(user, "status", persian)
    texts = "\n".join(m.text or "" for m in shown)
    assert answer in texts
    assert translations.gettext("fa_AF", "Our team is working on it.") in texts
    wrong = await harness.driver.command(user, "status", "1111-2222-3333-4444-5555")
    assert answer not in "\n".join(m.text or "" for m in wrong)
    for path in list(tmp_path.rglob("*")):  # noqa: ASYNC240 - test teardown reads files
        if path.is_file() and path.suffix != ".key":
            assert answer.encode() not in path.read_bytes(), path.name
    # The notice is part of the chat: /wipe deletes it with everything else.
    notice_id = notice[0].message_id
    await harness.driver.command(user, "wipe")
    assert notice_id not in [m.message_id for m in user.chat_messages()]


async def test_a_swapped_reply_key_makes_admin_reply_refuse(
    harness: Harness, admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    """Whoever writes the database swaps the reply key to read the team's answer: refused."""
    user = harness.server.user(language_code="en")
    await harness.start(user)
    receipt_code(await walk_report(harness, user, {"narrative": "what happened"}))
    settings = harness.settings
    [report_id] = await _report_ids(settings)
    attacker = AdminPrivateKey.generate().public_key().raw  # any X25519 key of theirs
    engine = create_engine(normalise_database_url(settings.database_url))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            await session.execute(
                sql_text("UPDATE reports SET reporter_key = :key WHERE id = :id"),
                {"key": attacker, "id": report_id},
            )
    finally:
        await engine.dispose()
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes("admin passphrase 1", scrypt_n=2**10))
    app = create_app(CliConfig(load_settings=lambda: settings, scrypt_n=2**10))
    secret = f"CANARY-{uuid.uuid4().hex}"
    refused = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["admin", "reply", report_id, "--key", str(key_file)],
        input=secret,
        env={PASSPHRASE_ENV: "admin passphrase 1"},
    )
    assert refused.exit_code == 1
    assert "is not the one sealed in its answers" in refused.output
    engine = create_engine(normalise_database_url(settings.database_url))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            stored = await session.scalar(sql_text("SELECT count(*) FROM replies"))
    finally:
        await engine.dispose()
    assert stored == 0, "nothing was sealed to the swapped key"
    argv = await asyncio.to_thread(
        CliRunner().invoke, app, ["admin", "reply", report_id, "--message", secret]
    )
    assert argv.exit_code == 2  # the answer never goes on the command line


async def _report_ids(settings: Settings) -> list[str]:
    engine = create_engine(normalise_database_url(settings.database_url))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            return [summary.id for summary in await ReportRepository(session).queue()]
    finally:
        await engine.dispose()


async def test_wipe_deletes_the_whole_conversation_both_sides(harness: Harness) -> None:
    user = harness.server.user(language_code="en")
    await harness.start(user)
    final = await walk_report(harness, user, {"narrative": "what happened"})
    code = receipt_code(final)
    assert len(user.chat_messages()) > 5  # the person's words and the bot's
    # The receipt offers the wipe once the code is written down.
    await harness.driver.press(user, "m:wipe", final[-1])
    assert user.chat_messages() == [], [m.text for m in user.chat_messages()]
    # The report is kept; the reporter can still ask about it, and wipe again.
    status = await harness.driver.command(user, "status", code)
    assert "saved" in (status[0].text or "")
    await harness.driver.command(user, "wipe")
    assert user.chat_messages() == []


async def test_wipe_in_the_middle_keeps_the_answers(harness: Harness) -> None:
    user = harness.server.user(language_code="en")
    await harness.start(user)
    await press_data(harness, user, "m:report")
    await press_data(harness, user, ":a:no")
    await harness.driver.command(user, "wipe")
    assert user.chat_messages() == []
    resumed = await harness.driver.command(user, "start")
    await harness.driver.press(user, "m:continue", resumed[-1])
    question = keyboard_message(user)
    assert "What happened?" in (question.text or "")


async def test_a_chat_searched_mid_report_shows_only_the_current_question(
    harness: Harness,
) -> None:
    """A pressed answer turns its question into the next one; Send turns the summary into
    the receipt. A phone searched at a checkpoint half-way through shows one question, not
    the answers given so far, and after Send no summary of them (docs/threat-model.md)."""
    user = harness.server.user(language_code="en")
    await harness.start(user)
    await press_data(harness, user, "m:report")
    await press_data(harness, user, ":a:no")  # not in danger now
    await press_data(harness, user, ":a:")  # what happened: the first choice
    await press_data(harness, user, ":a:AF")  # the country
    bot_texts = [m.text or "" for m in user.bot_messages()]
    assert len(bot_texts) == 1, bot_texts  # the picker became the menu, then each question
    assert not any("Your answer" in t for t in bot_texts), bot_texts
    assert not any("What happened?" in t or "In which country" in t for t in bot_texts)
    assert "In which province?" in bot_texts[-1]
    final = await walk_report(harness, user, {"narrative": "what happened"}, start=False)
    receipt_code(final)
    shown = [m.text or "" for m in user.bot_messages()]
    assert not any("Please check your report" in t for t in shown), shown
    assert not any("Your answer" in t for t in shown), shown


async def test_wipe_also_deletes_an_apology_and_the_message_it_was_for(harness: Harness) -> None:
    """A failed send is apologised for; the apology must not survive /wipe at a checkpoint."""
    user = harness.server.user(language_code="en")
    await harness.start(user)
    await press_data(harness, user, "m:report")
    # Telegram fails the next send, and each time it is tried again.
    harness.server.world.chats[user.chat_id].outages = harness.settings.send_attempts
    apology = await harness.driver.say(user, "no")
    assert [type(e).__name__ for e in harness.driver.errors] == ["NetworkError"]
    harness.driver.errors.clear()
    assert "something went wrong" in (apology[-1].text or ""), [m.text for m in apology]
    await harness.driver.command(user, "wipe")
    assert user.chat_messages() == [], [m.text for m in user.chat_messages()]


async def test_a_wipe_telegram_fails_forgets_nothing_and_says_so(harness: Harness) -> None:
    """A 500 on deleteMessages must not leave the receipt on the phone, untracked."""
    user = harness.server.user(language_code="en")
    await harness.start(user)
    final = await walk_report(harness, user, {"narrative": "what happened"})
    code = receipt_code(final)
    before = len(user.chat_messages())
    harness.server.world.chats[user.chat_id].outages = 1  # the deletion fails once
    failed = await harness.driver.command(user, "wipe")
    assert harness.driver.errors == [], harness.driver.errors
    assert "send /wipe again" in (failed[-1].text or ""), [m.text for m in failed]
    chat = user.chat_messages()
    assert len(chat) == before + 2  # nothing was deleted: /wipe and the answer came on top
    assert any(code in (m.text or "") for m in chat)
    await harness.driver.command(user, "wipe")
    assert user.chat_messages() == [], [m.text for m in user.chat_messages()]


async def test_the_apology_comes_in_the_language_the_person_chose(harness: Harness) -> None:
    """Telegram says English, the person chose Pashto: the apology is in Pashto."""
    user = harness.server.user(language_code="en")
    await harness.driver.command(user, "start")
    await press_data(harness, user, "l:ps")
    await press_data(harness, user, "m:report")
    # Telegram fails the next send, and each time it is tried again.
    harness.server.world.chats[user.chat_id].outages = harness.settings.send_attempts
    apology = await harness.driver.say(user, "no")
    harness.driver.errors.clear()
    assert "ستونزه پیدا شوه" in (apology[-1].text or ""), [m.text for m in apology]


async def test_files_wait_while_the_disk_is_nearly_full_but_text_goes_on(
    make_settings: Callable[..., Settings],
) -> None:
    """A flood of files must not fill the disk: below the reserve, files are refused politely.

    The reserve is set above any real disk's free space, so the real probe of this machine's
    disk says "not enough room" without anything being faked.
    """
    async with running_amanat(make_settings, min_free_disk_bytes=2**62) as h:
        user = h.server.user(language_code="en")
        await h.start(user)
        await answer_until_free_text(h, user)
        refused = await h.driver.run(user, user.send_voice(content=b"OggS" + b"x" * 500))
        assert "cannot keep files just now" in (refused[-1].text or ""), refused
        typed = await h.driver.say(user, "they called me twice")
        assert "Received and locked" in (typed[0].text or ""), [m.text for m in typed]
        assert not h.driver.errors, h.driver.errors
        stored = await _attachment_count(h.settings)
    assert stored == 0


async def _attachment_count(settings: Settings) -> int:
    engine = create_engine(normalise_database_url(settings.database_url))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            return int(
                (await session.execute(sql_text("SELECT count(*) FROM upload_chunks"))).scalar()
                or 0
            )
    finally:
        await engine.dispose()


async def test_only_the_newest_received_message_keeps_its_done_button(harness: Harness) -> None:
    user = harness.server.user(language_code="en")
    await harness.start(user)
    await answer_until_free_text(harness, user)
    await press_data(harness, user, ":s:")  # the recruiter's contact
    await harness.driver.press(user, keyboard_message(user).callback_data[0])  # former forces
    [first] = await harness.driver.say(user, "one")
    [second] = await harness.driver.say(user, "two")
    shown = {m.message_id: m for m in user.bot_messages()}
    assert "Received and locked (1)" in (first.text or "")
    assert not shown[first.message_id].buttons, "the older Done button is gone"
    assert any(":d:" in d for d in shown[second.message_id].callback_data)


async def _answer_as_admin(
    settings: Settings,
    admin_key: AdminPrivateKey,
    tmp_path: Path,
    report_id: str,
    answer: str = "Please write to us again.",
) -> str:
    """Answer a report with `amanat admin reply`, as an admin on their own machine; return
    what the command printed."""
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes("admin passphrase 1", scrypt_n=2**10))
    app = create_app(CliConfig(load_settings=lambda: settings, scrypt_n=2**10))
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["admin", "reply", report_id, "--key", str(key_file)],
        input=answer,
        env={PASSPHRASE_ENV: "admin passphrase 1"},
    )
    assert result.exit_code == 0, result.output
    return result.output


async def _pending_notices(settings: Settings) -> int:
    engine = create_engine(normalise_database_url(settings.database_url))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            query = sql_text("SELECT count(*) FROM reply_notices WHERE pending")
            return int((await session.execute(query)).scalar() or 0)
    finally:
        await engine.dispose()


async def test_a_notice_after_an_outage_goes_out_at_the_next_run(
    harness: Harness, admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    user = harness.server.user(language_code="en")
    await harness.start(user)
    receipt_code(await walk_report(harness, user, {"narrative": "what happened"}))
    [report_id] = await _report_ids(harness.settings)
    await _answer_as_admin(harness.settings, admin_key, tmp_path, report_id)
    bot = harness.driver.application.bot
    # Telegram answers 502 to every try of this run.
    harness.server.world.chats[user.chat_id].outages = harness.settings.send_attempts
    assert await deliver_reply_notices(harness.services, bot) == 0
    assert await _pending_notices(harness.settings) == 1
    assert await deliver_reply_notices(harness.services, bot) == 1
    assert await _pending_notices(harness.settings) == 0


async def test_a_notice_this_server_cannot_open_is_kept_and_reported(
    harness: Harness,
    admin_key: AdminPrivateKey,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A changed data folder or server secret must not silently drop waiting notices."""
    first, second = harness.server.user(language_code="en"), harness.server.user()
    for user in (first, second):
        await harness.start(user)
        receipt_code(await walk_report(harness, user, {"narrative": "what happened"}))
    report_ids = sorted(await _report_ids(harness.settings))
    for report_id in report_ids:
        await _answer_as_admin(harness.settings, admin_key, tmp_path, report_id)
    engine = create_engine(normalise_database_url(harness.settings.database_url))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            # Sealed under another server key: this key cannot open it.
            await session.execute(
                sql_text("UPDATE reply_notices SET blob = :blob WHERE report_id = :id"),
                {"blob": b"\x01" + bytes(80), "id": report_ids[0]},
            )
    finally:
        await engine.dispose()
    with caplog.at_level(logging.WARNING, logger="bot"):
        sent = await deliver_reply_notices(harness.services, harness.driver.application.bot)
    assert sent == 1  # the readable notice behind it still went out
    assert await _pending_notices(harness.settings) == 1
    assert "1 reply notices cannot be opened with this server's key and are kept" in caplog.text


async def test_start_and_safety_name_the_true_bot_in_the_chosen_language(
    make_settings: Callable[..., Settings], translations: Translations
) -> None:
    """Against impostor bots: the real name and the published phrase, in Dari, over HTTP."""
    phrase = "دریا به سوی شرق می‌رود"
    async with running_amanat(
        make_settings, bot_username="@amanat_test_bot", verification_phrase=phrase
    ) as h:
        user = h.server.user(language_code="en")
        await h.driver.command(user, "start")
        welcome = await press_data(h, user, "l:fa_AF")
        safety = await h.driver.command(user, "safety")
        assert not h.driver.errors, h.driver.errors
    never = translations.gettext("fa_AF", NEVER_GIVE_CODE)
    assert never != NEVER_GIVE_CODE  # the Dari text, not the English fallback
    for shown in (welcome, safety):
        text = "\n".join(m.text or "" for m in shown)
        assert "\u2068@amanat_test_bot\u2069" in text  # isolated: it reads right in RTL
        assert phrase in text
        assert never in text


async def _report_count(settings: Settings) -> int:
    return len(await _report_ids(settings))


@pytest.mark.parametrize("kind", ["dropped", "500", "502", "429", "answer_lost"])
async def test_a_receipt_telegram_fails_once_still_reaches_the_reporter(
    harness: Harness, kind: FaultKind
) -> None:
    """The one call carrying the receipt fails: the report is stored once, the code reaches
    the phone once, and nothing asks the person to start again.

    The receipt replaces the summary whose Send was pressed, so it travels in an
    ``editMessageText``; an edit Telegram made but whose answer was lost is "not modified"
    when tried again, so even then the code is shown once.
    """
    user = harness.server.user(language_code="en")
    await harness.start(user)
    state = harness.server.world.chats[user.chat_id]

    async def before_send(_: int) -> None:
        if any(":send:" in d for d in keyboard_message(user).callback_data):
            state.faults.append(Fault("editMessageText", kind))

    final = await walk_report(harness, user, {"narrative": "what happened"}, on_step=before_send)
    assert harness.driver.errors == [], harness.driver.errors
    code = receipt_code(final)
    assert await _report_count(harness.settings) == 1
    texts = [m.text or "" for m in user.chat_messages()]
    assert not any("something went wrong" in t for t in texts), texts
    with_code = [t for t in texts if code in t]
    assert len(with_code) == 1, with_code
    await harness.driver.command(user, "wipe")
    assert user.chat_messages() == [], [m.text for m in user.chat_messages()]


async def test_a_receipt_telegram_keeps_failing_comes_with_the_next_message(
    harness: Harness,
) -> None:
    """Stored but never shown: the next message, or Send pressed again, gets the receipt."""
    user = harness.server.user(language_code="en")
    await harness.start(user)
    state = harness.server.world.chats[user.chat_id]
    summary: list[ChatMessage] = []

    async def before_send(_: int) -> None:
        message = keyboard_message(user)
        if any(":send:" in d for d in message.callback_data):
            summary.append(message)
            attempts = harness.settings.send_attempts
            state.faults.extend(Fault("editMessageText", "502") for _ in range(attempts))

    final = await walk_report(harness, user, {"narrative": "what happened"}, on_step=before_send)
    assert harness.driver.errors == [], harness.driver.errors
    assert not [m for m in final if "Your code is" in (m.text or "")]
    assert await _report_count(harness.settings) == 1
    send = next(d for d in summary[0].callback_data if ":send:" in d)
    again = await harness.driver.press(user, send, summary[0])
    texts = [m.text or "" for m in again]
    assert any("Your code is" in t for t in texts), texts
    assert not any("button is old" in t for t in texts), texts
    code = receipt_code(again)
    assert await _report_count(harness.settings) == 1  # pressing Send again made no second
    later = await harness.driver.say(user, "hello")
    assert code not in "\n".join(m.text or "" for m in later)  # shown once, then forgotten
    status = await harness.driver.command(user, "status", code)
    assert "Our team has not opened it yet." in "\n".join(m.text or "" for m in status)


async def test_after_a_lost_receipt_the_next_typed_message_gets_it_first(
    harness: Harness,
) -> None:
    user = harness.server.user(language_code="fa")
    await harness.start(user)
    state = harness.server.world.chats[user.chat_id]

    async def before_send(_: int) -> None:
        if any(":send:" in d for d in keyboard_message(user).callback_data):
            attempts = harness.settings.send_attempts
            state.faults.extend(Fault("editMessageText", "dropped") for _ in range(attempts))

    await walk_report(harness, user, {"narrative": "روایت"}, on_step=before_send)
    later = await harness.driver.say(user, "سلام")
    assert harness.driver.errors == [], harness.driver.errors
    receipt_code(later[:1])  # the receipt comes first, in the person's digits
    await harness.driver.command(user, "wipe")
    assert user.chat_messages() == [], [m.text for m in user.chat_messages()]


async def test_one_slow_chat_does_not_hold_up_the_others(harness: Harness) -> None:
    """Every call to one person's chat takes 3 s: the others are answered meanwhile."""
    slow = harness.server.user(language_code="en")
    others = [harness.server.user(language_code="en") for _ in range(4)]
    for user in (slow, *others):
        await harness.start(user)
    harness.server.world.chats[slow.chat_id].latency = 3.0
    slow_update = await slow.send_command("help")
    await harness.server.wait_until_fetched(slow_update)
    updates = [await user.send_command("help") for user in others]
    for update_id in updates:
        await harness.driver.settle(update_id)
    assert slow_update not in harness.driver.processed  # still on its slow connection
    await harness.driver.settle(slow_update, timeout=20)
    for user in (slow, *others):
        assert "How to use Amanat" in (user.bot_messages()[-1].text or "")


async def test_sends_wait_for_one_of_a_few_connections_and_all_arrive(
    make_settings: Callable[..., Settings],
) -> None:
    """Five slow chats at once, two connections: the sends take turns; none fails."""
    async with running_amanat(make_settings, bot_api_connections=2) as amanat:
        users = [amanat.server.user(language_code="en") for _ in range(5)]
        for user in users:
            await amanat.start(user)
            amanat.server.world.chats[user.chat_id].latency = 0.5
        amanat.server.most_calls_at_once = 0
        updates = [await user.send_command("help") for user in users]
        for update_id in updates:
            await amanat.driver.settle(update_id, timeout=20)
        assert amanat.driver.errors == [], amanat.driver.errors
        assert amanat.server.most_calls_at_once == 2
        for user in users:
            assert "How to use Amanat" in (user.bot_messages()[-1].text or "")


async def _six_quick_story_messages(harness: Harness) -> None:
    user = harness.server.user(language_code="en")
    await harness.start(user)
    await answer_until_free_text(harness, user)
    while "your own words" not in (keyboard_message(user).text or ""):
        message = keyboard_message(user)
        skip = [d for d in message.callback_data if d.endswith(":s:")]
        await harness.driver.press(user, (skip or message.callback_data)[0], message)
    before = len(user.bot_messages())
    updates = [await user.send_text(f"part {n}") for n in range(1, 7)]
    for update_id in updates:
        await harness.driver.settle(update_id)
    assert harness.driver.errors == [], harness.driver.errors
    counts = [
        int(found.group(1))
        for message in user.bot_messages()[before:]
        if (found := re.search(r"Received and locked \((\d+)\)", message.text or ""))
    ]
    assert counts == [1, 2, 3, 4, 5, 6], [m.text for m in user.bot_messages()[before:]]


async def test_one_persons_quick_messages_are_handled_one_at_a_time_in_order(
    harness: Harness,
) -> None:
    """Six story messages sent at once: each is counted once, in the order sent."""
    await _six_quick_story_messages(harness)


async def test_with_redis_one_persons_quick_messages_never_race(
    make_settings: Callable[..., Settings],
) -> None:
    """With conversations in Redis every read and write waits on the network: two updates of
    one person handled at once would read the same draft and lose a message."""
    client = await redis_or_skip()
    await client.aclose()
    async with running_amanat(make_settings, redis_url=REDIS_URL) as h:
        await _six_quick_story_messages(h)


async def test_the_bot_never_sends_faster_than_telegrams_overall_limit(
    make_settings: Callable[..., Settings],
) -> None:
    """Ten new people at once (help, then the language picker: twenty messages), a limit of 5
    messages a second: no second holds more than that plus the limiter's first burst,
    however fast or slow this machine is."""
    rate = 5
    async with running_amanat(make_settings, overall_messages_per_second=rate) as h:
        people = [h.server.user(language_code="en") for _ in range(10)]
        updates = [await person.send_command("help") for person in people]
        for update_id in updates:
            await h.driver.settle(update_id, timeout=30)
        assert h.driver.errors == [], h.driver.errors
    times = sorted(call.at for call in h.server.calls_to("sendMessage"))
    assert len(times) == 20
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 2 * rate, busiest


async def test_at_every_step_of_a_report_only_one_message_has_buttons(harness: Harness) -> None:
    """Old buttons go, whether their message was edited or retired; none is left behind."""
    user = harness.server.user(language_code="en")
    await harness.start(user)
    seen: list[int] = []

    async def count(_: int) -> None:
        seen.append(len([m for m in user.bot_messages() if m.buttons]))

    await walk_report(harness, user, {"narrative": "what happened"}, on_step=count)
    assert seen
    assert set(seen) == {1}, seen
