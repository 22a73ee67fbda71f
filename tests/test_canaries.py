"""Prove docs/design.md §3.2, "no plaintext anywhere else", path by path, with canaries.

Each test runs the real Application against the fake Bot API, with logging at DEBUG into a
file and the temp dir inside ``tmp_path``, sends unique canaries down one path (typed and
forwarded answers; every kind of file the bot keeps; a draft that is cancelled or expires;
failures with content in flight; inputs the bot refuses; PostgreSQL) and then greps every byte
the run left: the SQLite main, -wal and -shm files, the log, temp files, every file the process
holds open (pytest's captured stdout and stderr included), files written meanwhile in the
system temp dirs and the working tree, and what the bot sent to Telegram. The reporter's
Telegram id is looked for in the same places. Each test also recovers, with the admin key,
the canaries that were meant to be kept, so none can pass by storing nothing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.admin.binding import open_answers, stream_ref
from bot.app import purge_expired
from bot.crypto.constants import STREAM_CHUNK_SIZE
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.server import ServerKeys
from bot.crypto.stream import open_stream_with_admin_key
from bot.crypto.values import ItemRef
from bot.devtools.fakeapi import ChatMessage, FakeBotApi, FakeUser
from bot.devtools.fakeapi.users import ForwardOrigin
from bot.intake.memory import ConversationMemory
from bot.questions import ATTACHMENT_KIND, QUESTIONS, FreeText
from bot.settings import Settings
from handlers.intake import TRANSPORT
from storage.db import checkpoint_wal, session_factory, unit_of_work
from storage.models import StatRecordRow
from storage.repositories import ReportRepository
from storage.uploads import UploadRepository
from tests.botapi_driver import RunningAmanat, running_amanat
from tests.canary_support import (
    Leak,
    Needle,
    debug_log_file,
    files_under,
    files_written_since,
    find_in_bytes,
    find_in_files,
    new_canary,
    open_files,
)
from tests.storage_backends import ScratchPostgres

REPO = Path(__file__).resolve().parent.parent
FREE_TEXT_PROMPTS = {q.id: q.prompt[:40] for q in QUESTIONS if isinstance(q, FreeText)}
NOTICE_PROMPTS = tuple(q.prompt[:40] for q in QUESTIONS if q.id == "notify_replies")
"""The opt-in to be told of answers: it keeps the account, sealed with a server key."""
RECEIPT = re.compile(r"\d{4}-\d{4}-\d{4}-\d{4}-\d{4}")
WIDE_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")


# --------------------------------------------------------------------------- the scene


@dataclass
class Scene:
    """Where one test's run can leave bytes: its folder, its log, and since when to look."""

    tmp_path: Path
    log_file: Path
    started: float
    system_temp_dirs: tuple[Path, ...]

    def places(self) -> list[Path]:
        """Every file to grep now: tmp_path, open files, and what was written meanwhile."""
        return [
            *files_under(self.tmp_path),
            *open_files(),
            *files_written_since(self.system_temp_dirs, self.started, recursive=False),
            *files_written_since([REPO], self.started, recursive=True),
        ]

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8")


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """Point every temp dir into tmp_path and capture a DEBUG log into a file."""
    system_temp_dirs = tuple({Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")})
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))  # SQLite and other C code read it
    with debug_log_file(tmp_path / "amanat.log") as log_file:
        yield Scene(tmp_path, log_file, time.time() - 1, system_temp_dirs)


Bot = RunningAmanat
running = running_amanat


def new_user_id() -> int:
    """A Telegram id of 43 bits: unique enough to grep for, stored by SQLite in 6 bytes."""
    return 5 * 10**12 + secrets.randbelow(10**12)


def reporter(bot: Bot) -> FakeUser:
    return bot.server.user(user_id=new_user_id(), language_code="en")


# --------------------------------------------------------------------------- driving


def keyboard_message(user: FakeUser) -> ChatMessage:
    """The newest bot message that still shows buttons."""
    return next(m for m in reversed(user.bot_messages()) if m.buttons)


async def press(bot: Bot, user: FakeUser, fragment: str) -> list[ChatMessage]:
    message = keyboard_message(user)
    data = next(d for d in message.callback_data if fragment in d)
    return await bot.driver.press(user, data, message)


def free_text_question(message: ChatMessage) -> str | None:
    """Which free-text question a message asks, if any."""
    text = message.text or ""
    return next((qid for qid, prompt in FREE_TEXT_PROMPTS.items() if prompt in text), None)


async def answer_until(bot: Bot, user: FakeUser, stop: str, *, notify: bool = False) -> None:
    """Answer button questions (skipping other free-text ones) until ``stop`` is asked.

    ``stop`` is a free-text question id, or "summary" for the check-and-send screen. Every
    consent is given, except the notice of answers unless ``notify``.
    """
    for _ in range(60):
        message = keyboard_message(user)
        data = message.callback_data
        if any(":send:" in d for d in data):
            if stop == "summary":
                return
            raise AssertionError(f"reached the summary before {stop}")
        asked = free_text_question(message)
        if asked == stop:
            return
        if asked is not None:  # another free-text question: finish it, or skip it
            await press(bot, user, ":d:" if any(":d:" in d for d in data) else ":s:")
        elif any(":t:" in d for d in data):
            await press(bot, user, ":t:money")
            await press(bot, user, ":d:")
        elif any(prompt in (message.text or "") for prompt in NOTICE_PROMPTS):
            await press(bot, user, ":a:yes" if notify else ":a:no")
        elif any(":a:AF" in d for d in data):
            await press(bot, user, ":a:AF")
        elif any(":a:yes" in d for d in data):
            await press(bot, user, ":a:yes")
        else:
            await bot.driver.press(user, data[0], message)
    raise AssertionError(f"never reached {stop}")


async def start_report(bot: Bot, user: FakeUser) -> None:
    await bot.start(user)
    await press(bot, user, "m:report")


async def submit(bot: Bot, user: FakeUser, *, notify: bool = False) -> str:
    """Answer what is left, press Send, and return the receipt code shown."""
    await answer_until(bot, user, "summary", notify=notify)
    final = await press(bot, user, ":send:")
    text = "\n".join(m.text or "" for m in final).translate(WIDE_DIGITS)
    found = RECEIPT.search(text)
    assert found, text
    return found.group(0)


async def send_file(bot: Bot, user: FakeUser, kind: str, content: bytes, **fields: Any) -> int:
    """Send an audio, video or video note: kinds FakeUser has no helper for."""
    world = bot.server.world
    stored_file = world.add_file(len(content), content=content, folder=kind, name=f"f.{kind}")
    media: dict[str, Any] = {
        "file_id": stored_file.file_id,
        "file_unique_id": stored_file.file_unique_id,
        "file_size": stored_file.size,
        **fields,
    }
    return await inject_message(bot, user, {kind: media})


async def inject_message(bot: Bot, user: FakeUser, content: dict[str, Any]) -> int:
    """Put a message from ``user`` into the chat as Telegram would, even if the bot is blocked."""
    state = bot.server.world.chats[user.chat_id]
    world = bot.server.world

    def build(message_id: int) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "from": user.user,
            "chat": state.chat,
            "date": world.now(),
            **content,
        }

    stored = state.add("user", build, None)
    return await bot.server.inject("message", copy.deepcopy(stored.data))


# --------------------------------------------------------------------------- the admin's view


@dataclass
class Opened:
    """What an admin recovers from one report or draft with their private key."""

    report_id: str
    items: dict[tuple[str, int], bytes] = field(default_factory=dict)
    attachments: dict[int, bytes] = field(default_factory=dict)

    def everything(self) -> bytes:
        return b"\n".join([*self.items.values(), *self.attachments.values()])


async def _open_files(
    session: AsyncSession,
    files: Mapping[int, str],
    binding: Callable[[int], ItemRef],
    key: AdminPrivateKey,
) -> dict[int, bytes]:
    """Open uploaded files (index → upload id) with the admin key."""
    uploads = UploadRepository(session)
    opened: dict[int, bytes] = {}
    for index, upload_id in files.items():
        chunks = [blob async for blob in uploads.chunks(upload_id)]
        ref = binding(index)
        opened[index] = b"".join(open_stream_with_admin_key(chunks[0], chunks[1:], ref, key))
    return opened


async def open_reports(engine: AsyncEngine, key: AdminPrivateKey) -> list[Opened]:
    """Open every submitted report as the admin command line would, on the admin's machine."""
    result: list[Opened] = []
    async with unit_of_work(session_factory(engine)) as session:
        reports = ReportRepository(session)
        for summary in await reports.queue():
            report = await reports.get(summary.id)
            assert report is not None
            document = open_answers(report, key)
            opened = Opened(report.id)
            for item in report.items:
                ref = document.item_ref(report.id, item.kind, item.index)
                opened.items[(item.kind, item.index)] = open_with_admin_key(item.blob, ref, key)
            files = {file.index: file.upload_id for file in report.files}
            opened.attachments = await _open_files(
                session, files, lambda i, r=report, d=document: stream_ref(r, d, i), key
            )
            result.append(opened)
    return result


def memory_of(bot: Bot) -> ConversationMemory:
    return bot.services.intake.memory


async def readable_draft(bot: Bot, user: FakeUser) -> bytes:
    """What memory holds of a person, opened with the server key: what a memory image of the
    running server gives whoever also holds the server secret (sealed items stay sealed)."""
    memory = memory_of(bot)
    key = memory.key(TRANSPORT, user.user_id)
    server = ServerKeys(bot.settings.server_secret_bytes())
    found = [
        ("persona", await memory.store.load_state(key)),
        ("draft", await memory.store.get_item(key, "draft")),
    ]
    return b"\n".join(
        server.open_volatile(blob, f"{key}/{name}") for name, blob in found if blob is not None
    )


async def open_draft(bot: Bot, user: FakeUser, key: AdminPrivateKey) -> Opened | None:
    """Open a draft in progress: the server key opens its records, the admin key its items."""
    memory = memory_of(bot)
    conversation = memory.key(TRANSPORT, user.user_id)
    remembered = await memory.load(
        conversation, datetime.now(UTC), bot.services.intake.sealer_fingerprint
    )
    draft_id = remembered.draft.draft_id
    if draft_id is None:
        # Outside a report memory keeps the language and message ids: nothing sealed.
        assert not remembered.uploads
        assert not remembered.draft.answers
        return None
    opened = Opened(draft_id)
    for (kind, index), blob in (await memory.sealed_items(conversation)).items():
        opened.items[(kind, index)] = open_with_admin_key(blob, ItemRef(draft_id, kind, index), key)
    files = {index: upload.upload_id for index, upload in remembered.uploads.items()}
    async with unit_of_work(session_factory(bot.engine)) as session:
        opened.attachments = await _open_files(
            session, files, lambda i: ItemRef(draft_id, ATTACHMENT_KIND, i), key
        )
    return opened


async def stored_uploads(bot: Bot, user: FakeUser) -> tuple[list[str], list[Needle]]:
    """A draft's upload ids, and slices of their stored ciphertext to prove them gone later."""
    memory = memory_of(bot)
    conversation = memory.key(TRANSPORT, user.user_id)
    remembered = await memory.load(
        conversation, datetime.now(UTC), bot.services.intake.sealer_fingerprint
    )
    ids = [upload.upload_id for upload in remembered.uploads.values()]
    needles: list[Needle] = []
    async with unit_of_work(session_factory(bot.engine)) as session:
        uploads = UploadRepository(session)
        for upload_id in ids:
            async for chunk in uploads.chunks(upload_id):
                needles.append(Needle.binary(f"upload chunk {len(needles)}", chunk.data[40:104]))
    return ids, needles


# --------------------------------------------------------------------------- the checks


def needles_for(canaries: Mapping[str, str], user_id: int) -> list[Needle]:
    return [
        *(Needle.text(label, text) for label, text in canaries.items()),
        Needle.integer("the reporter's Telegram id", user_id),
    ]


def outgoing_requests(server: FakeBotApi) -> bytes:
    """What the bot sent to Telegram: every request's parameters except the chat to send to."""
    requests = [
        {k: v for k, v in call.params.items() if k not in ("chat_id", "user_id")}
        for call in server.calls
        if call.method != "getUpdates"
    ]
    return json.dumps(requests, ensure_ascii=False, default=repr).encode()


async def assert_no_leak(
    scene: Scene,
    needles: Iterable[Needle],
    bot: Bot | None = None,
    *,
    users: Iterable[FakeUser] = (),
    stage: str,
) -> None:
    """Grep every place for every needle; name what leaked where.

    With a running ``bot``, also what it sent to Telegram and, for each of ``users``, the
    draft opened with the server key: a seized server holds that key too.
    """
    needles = list(needles)
    leaks: list[Leak] = find_in_files(scene.places(), needles)
    if bot is not None:
        leaks += find_in_bytes(outgoing_requests(bot.server), "requests to Telegram", needles)
        for user in users:
            draft = await readable_draft(bot, user)
            leaks += find_in_bytes(draft, "the draft opened with the server key", needles)
    assert not leaks, f"{stage}: " + "; ".join(map(str, leaks))


def assert_logged_something(scene: Scene) -> None:
    assert scene.log_file.stat().st_size > 0, "the DEBUG log captured nothing"


def contains_all(haystack: bytes, canaries: Iterable[str]) -> None:
    missing = [c for c in canaries if c.encode() not in haystack]
    assert not missing, f"the admin could not recover {missing}"


def contains_none(haystack: bytes, canaries: Iterable[str]) -> None:
    kept = [c for c in canaries if c.encode() in haystack]
    assert not kept, f"kept although the bot said it was not: {kept}"


# --------------------------------------------------------------------------- 1. free text


async def test_typed_and_forwarded_answers_exist_only_sealed(
    scene: Scene, make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    forwards: dict[ForwardOrigin, str] = {
        "user": "story, forwarded from a person",
        "hidden_user": "story, forwarded from a hidden user",
        "channel": "story, forwarded from a channel",
    }
    canaries = {
        "recruiter contact, typed": new_canary("contact"),
        "story, typed": new_canary("story"),
        "story, typed in Dari": new_canary("روایت", prefix="قناری"),
        **{label: new_canary(f"fwd-{origin}") for origin, label in forwards.items()},
    }
    async with running(make_settings) as bot:
        user = reporter(bot)
        needles = needles_for(canaries, user.user_id)
        await start_report(bot, user)
        await answer_until(bot, user, "recruiter_contact")
        await bot.driver.say(user, canaries["recruiter contact, typed"])
        await answer_until(bot, user, "narrative")
        await bot.driver.say(user, canaries["story, typed"])
        await bot.driver.say(user, canaries["story, typed in Dari"])
        for origin, label in forwards.items():
            await bot.driver.run(user, user.forward_text(canaries[label], origin))
        await assert_no_leak(scene, needles, bot, users=[user], stage="draft in progress")
        # Opting in to be told of answers keeps the account: sealed, never in the clear.
        code = await submit(bot, user, notify=True)
        await assert_no_leak(scene, needles, bot, users=[user], stage="submitted, bot running")
        [report] = await open_reports(bot.engine, admin_key)
        async with unit_of_work(session_factory(bot.engine)) as session:
            notices = await session.scalar(sql_text("SELECT count(*) FROM reply_notices"))
        assert notices == 1, "the opt-in (and so the account, sealed) was stored"
        assert not bot.driver.errors, bot.driver.errors
    await assert_no_leak(scene, [*needles, Needle.text("receipt code", code)], stage="bot stopped")
    assert_logged_something(scene)
    assert report.items[("recruiter_contact", 0)] == canaries["recruiter contact, typed"].encode()
    stories = [report.items[("narrative", i)].decode() for i in range(5)]
    assert stories == [v for k, v in canaries.items() if k.startswith("story")]


# --------------------------------------------------------------------------- 2. attachments


def _media(label: str, header: bytes, repeat: int) -> tuple[str, bytes]:
    marker = new_canary(label)
    return marker, header + marker.encode() * repeat


async def test_every_kept_file_kind_exists_only_sealed(
    scene: Scene, make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    # One of them spans several stream chunks; a caption and a file name ride along.
    files = {
        "photo": _media("photo", b"\xff\xd8\xff\xe0", 40),
        "voice": _media("voice", b"OggS", 4000),  # about 180 kB: three stream chunks
        "audio": _media("audio", b"ID3\x04", 40),
        "document": _media("document", b"%PDF-1.7\n", 40),
        "video": _media("video", b"\x00\x00\x00\x18ftypmp42", 40),
        "video_note": _media("video-note", b"\x00\x00\x00\x18ftypisom", 40),
    }
    worded = {
        "photo caption": new_canary("caption"),
        "document caption": new_canary("doc-caption"),
        "document file name": new_canary("filename"),
    }
    canaries = {kind: marker for kind, (marker, _) in files.items()} | worded
    async with running(make_settings) as bot:
        user = reporter(bot)
        needles = needles_for(canaries, user.user_id)
        await start_report(bot, user)
        await answer_until(bot, user, "narrative")
        d = bot.driver
        sends: list[Callable[[], Awaitable[int]]] = [
            lambda: user.send_photo(caption=worded["photo caption"], content=files["photo"][1]),
            lambda: user.send_voice(content=files["voice"][1]),
            lambda: send_file(bot, user, "audio", files["audio"][1], duration=3),
            lambda: user.send_document(
                f"{worded['document file name']}.pdf",
                caption=worded["document caption"],
                content=files["document"][1],
            ),
            lambda: send_file(
                bot, user, "video", files["video"][1], width=64, height=48, duration=2
            ),
            lambda: send_file(
                bot, user, "video_note", files["video_note"][1], length=240, duration=2
            ),
        ]
        for count, action in enumerate(sends, start=1):
            replies = await d.run(user, action())
            assert f"Received and locked ({count})" in (replies[-1].text or ""), replies
        await assert_no_leak(scene, needles, bot, users=[user], stage="files in a draft")
        draft = await open_draft(bot, user, admin_key)
        assert draft is not None
        assert sorted(draft.attachments.values()) == sorted(c for _, c in files.values())
        await submit(bot, user)
        await assert_no_leak(scene, needles, bot, users=[user], stage="submitted, bot running")
        [report] = await open_reports(bot.engine, admin_key)
        async with unit_of_work(session_factory(bot.engine)) as session:
            stored = await ReportRepository(session).get(report.report_id)
            assert stored is not None
            voice = next(f.upload_id for f in stored.files if f.index == 1)
            voice_chunks = len([c async for c in UploadRepository(session).chunks(voice)])
        assert voice_chunks == 1 + len(files["voice"][1]) // STREAM_CHUNK_SIZE + 1, voice_chunks
        assert not bot.driver.errors, bot.driver.errors
    await assert_no_leak(scene, needles, stage="bot stopped")
    assert_logged_something(scene)
    assert list(report.attachments.values()) == [content for _, content in files.values()]
    contains_all(report.everything(), worded.values())  # sealed with the file, never dropped


# --------------------------------------------------------------------------- 3. drafts


@pytest.mark.parametrize("ending", ["cancel", "expiry"])
async def test_an_unsent_draft_exists_only_sealed_and_is_gone_after(
    scene: Scene,
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    ending: str,
) -> None:
    canaries = {
        "recruiter contact": new_canary("contact"),
        "story": new_canary("story"),
        "voice note": new_canary("voice"),
    }
    voice = b"OggS" + canaries["voice note"].encode() * 50
    now = [datetime.now(UTC)]
    async with running(make_settings, clock=lambda: now[0], draft_ttl_minutes=10) as bot:
        user = reporter(bot)
        needles = needles_for(canaries, user.user_id)
        await start_report(bot, user)
        await answer_until(bot, user, "recruiter_contact")
        await bot.driver.say(user, canaries["recruiter contact"])
        await answer_until(bot, user, "narrative")
        await bot.driver.say(user, canaries["story"])
        await bot.driver.run(user, user.send_voice(content=voice))
        # Before anything is submitted: the main file, the -wal and the -shm.
        names = {p.name for p in files_under(scene.tmp_path)}
        assert {"amanat.db", "amanat.db-wal", "amanat.db-shm"} <= names, names
        await assert_no_leak(scene, needles, bot, users=[user], stage="draft in progress")
        draft = await open_draft(bot, user, admin_key)
        assert draft is not None
        contains_all(draft.everything(), canaries.values())
        uploads, ciphertext = await stored_uploads(bot, user)
        assert len(ciphertext) >= 2, "the voice note's header and chunk were stored"

        if ending == "cancel":
            await bot.driver.command(user, "cancel")
            gone = await press(bot, user, ":x:yes")
            assert any("deleted" in (m.text or "") for m in gone), gone
        else:
            now[0] += timedelta(minutes=11)
            told = await bot.driver.say(user, "hello?")
            assert any("within" in (m.text or "") for m in told), [m.text for m in told]
        await checkpoint_wal(bot.engine)
        assert await open_draft(bot, user, admin_key) is None
        async with unit_of_work(session_factory(bot.engine)) as session:
            chunks = [await UploadRepository(session).total_chunks(u) for u in uploads]
        assert chunks == [0], "the voice note's chunks are deleted with the draft"
        assert await open_reports(bot.engine, admin_key) == []
        await assert_no_leak(scene, needles, bot, users=[user], stage=f"after {ending}")
        # Deleted means gone from the disk too: not even the ciphertext lingers.
        await assert_no_leak(scene, ciphertext, stage=f"ciphertext after {ending} and a checkpoint")
        assert not bot.driver.errors, bot.driver.errors
    await assert_no_leak(scene, needles, stage="bot stopped")
    assert_logged_something(scene)


# --------------------------------------------------------------------------- 4. failures


async def _sqlite(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as connection:
        for statement in statements:
            await connection.exec_driver_sql(statement)


async def test_failures_with_content_in_flight_log_and_answer_nothing_of_it(
    scene: Scene, make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    canaries = {
        "contact, stored": new_canary("contact"),
        "story, stored": new_canary("story"),
        "voice note, upload failed": new_canary("lost-voice"),
        "story, resent": new_canary("resent"),
        "story, reply blocked": new_canary("blocked"),
    }
    async with running(make_settings) as bot:
        user = reporter(bot)
        needles = needles_for(canaries, user.user_id)
        d = bot.driver
        await start_report(bot, user)
        await answer_until(bot, user, "recruiter_contact")
        await d.say(user, canaries["contact, stored"])
        await answer_until(bot, user, "narrative")
        await d.say(user, canaries["story, stored"])

        # A voice note is sealed, then storing its chunks fails: nothing kept, apologised for.
        await _sqlite(
            bot.engine,
            "CREATE TRIGGER fail_upload BEFORE INSERT ON upload_chunks "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        )
        lost = b"OggS" + canaries["voice note, upload failed"].encode() * 30
        failed = await d.run(user, user.send_voice(content=lost))
        assert "something went wrong" in (failed[-1].text or ""), failed
        await _sqlite(bot.engine, "DROP TRIGGER fail_upload")
        await d.say(user, canaries["story, resent"])

        # The bot is blocked while it answers: the handler raises into PTB's error handlers.
        state = bot.server.world.chats[user.chat_id]
        state.blocked = True
        await d.settle(await inject_message(bot, user, {"text": canaries["story, reply blocked"]}))
        state.blocked = False
        assert [type(e).__name__ for e in d.errors] == ["Forbidden"], d.errors
        d.errors.clear()

        # Storing the report fails half-way: nothing is acknowledged, the draft survives.
        await answer_until(bot, user, "summary")
        await _sqlite(
            bot.engine,
            "CREATE TRIGGER fail_items BEFORE INSERT ON report_items "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        )
        refused = await press(bot, user, ":send:")
        assert "could not be saved" in (refused[-1].text or ""), refused
        assert await open_reports(bot.engine, admin_key) == []
        await assert_no_leak(scene, needles, bot, users=[user], stage="after the failures")
        await _sqlite(bot.engine, "DROP TRIGGER fail_items")
        await submit(bot, user)
        [report] = await open_reports(bot.engine, admin_key)
        assert not d.errors, d.errors
    await assert_no_leak(scene, needles, bot, stage="bot stopped")
    log = scene.log_text()
    assert "storage failed" in log, "the failed write was logged (its type only)"
    assert "failed: Forbidden" in log, "the error handler logged the failure (type only)"
    kept = [v for k, v in canaries.items() if "failed" not in k]
    contains_all(report.everything(), kept)
    contains_none(report.everything(), [canaries["voice note, upload failed"]])


# --------------------------------------------------------------------------- 5. odd inputs


async def test_refused_and_odd_inputs_leave_nothing(
    scene: Scene, make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    kept = {
        "recruiter contact as first typed": new_canary("contact"),
        "photo at the story": new_canary("photo"),
        "caption at the story": new_canary("caption-story"),
    }
    refused = {
        "/start payload": new_canary("start_payload").replace("-", "_"),
        "text while idle": new_canary("idle"),
        "text at a button question": new_canary("at-choice"),
        "forward at a button question": new_canary("fwd-choice"),
        "photo at a button question": new_canary("photo-at-choice"),
        "caption at a button question": new_canary("caption-at-choice"),
        "document name at a button question": new_canary("docname"),
        "/status argument": new_canary("status"),
        "unknown command argument": new_canary("nonsense"),
        "contact card phone": "+93 " + str(secrets.randbelow(10**12)).zfill(12),
        "contact card name": new_canary("contact-name"),
        "edit of a button answer": new_canary("edit-choice"),
        "edit of the contact answer": new_canary("edit-contact"),
        "too long answer": new_canary("too-long"),
        "group command": new_canary("group_cmd").replace("-", "_"),
        "group text": new_canary("group-text"),
        "group mention": new_canary("group-mention"),
    }
    latitude = round(30 + secrets.randbelow(10**7) / 10**7, 7)
    longitude = round(60 + secrets.randbelow(10**7) / 10**7, 7)
    canaries = kept | refused
    async with running(make_settings) as bot:
        user = reporter(bot)
        group = bot.server.user(user_id=new_user_id(), language_code="en", chat_type="group")
        needles = [
            *needles_for(canaries, user.user_id),
            Needle.integer("the group member's Telegram id", group.user_id),
            Needle.text("latitude", str(latitude)),
            Needle.text("longitude", str(longitude)),
        ]
        d = bot.driver
        # In a group: refused, and the text is never repeated or kept.
        await d.run(group, group.send_command("start", refused["group command"], mention=True))
        await d.run(group, group.send_text(refused["group text"]))
        mention = f"@{bot.server.bot_user['username']} {refused['group mention']}"
        await d.run(group, group.send_text(mention))
        assert "private chat" in (group.bot_messages()[-1].text or "")

        await d.command(user, "start", refused["/start payload"])
        await press(bot, user, "l:en")
        await d.say(user, refused["text while idle"])
        await press(bot, user, "m:report")
        # At a button question, every kind of stray input.
        await d.say(user, refused["text at a button question"])
        await d.run(user, user.forward_text(refused["forward at a button question"], "channel"))
        await d.run(
            user,
            user.send_photo(
                caption=refused["caption at a button question"],
                content=b"\xff\xd8" + refused["photo at a button question"].encode() * 20,
            ),
        )
        await d.run(
            user, user.send_document(f"{refused['document name at a button question']}.pdf")
        )
        await d.run(user, user.send_sticker())
        await d.command(user, "status", refused["/status argument"])
        await d.command(user, "nonsense", refused["unknown command argument"])
        await d.run(user, user.edit_last_text(refused["edit of a button answer"]))
        await d.run(user, user.send_location(latitude, longitude))
        await d.run(
            user,
            user.send_contact(refused["contact card phone"], refused["contact card name"]),
        )
        kinds = {m.kind for m in user.chat_messages()}
        assert not kinds & {"location", "contact"}, "the bot deleted the location and contact"

        await answer_until(bot, user, "recruiter_contact")
        too_long = refused["too long answer"] + " " + "x" * bot.settings.max_answer_chars
        assert "too long" in ((await d.say(user, too_long))[-1].text or "")
        await d.say(user, kept["recruiter contact as first typed"])
        await d.run(user, user.edit_last_text(refused["edit of the contact answer"]))
        await answer_until(bot, user, "narrative")
        photo = b"\xff\xd8" + kept["photo at the story"].encode() * 20
        await d.run(user, user.send_photo(caption=kept["caption at the story"], content=photo))
        await assert_no_leak(scene, needles, bot, users=[user], stage="draft in progress")
        await submit(bot, user)
        [report] = await open_reports(bot.engine, admin_key)
        assert not d.errors, d.errors
    await assert_no_leak(scene, needles, bot, stage="bot stopped")
    assert_logged_something(scene)
    contains_all(report.everything(), kept.values())
    contains_none(report.everything(), refused.values())


# --------------------------------------------------------------------------- 6. PostgreSQL


async def _database_dump(database: ScratchPostgres, since: float) -> tuple[bytes, list[Path]]:
    """Every row of every table of the public schema, as text and raw bytes; and the server's
    files this run may have touched (the database's heap, the WAL, the server log) when the
    server runs on this machine and they are readable."""
    connection = await asyncpg.connect(
        f"postgresql://postgres@127.0.0.1:5432/{database.database}", timeout=5
    )
    parts: list[bytes] = []
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        for (table,) in tables:
            for row in await connection.fetch(f'SELECT * FROM "{table}"'):
                for value in row.values():
                    parts.append(value if isinstance(value, bytes) else str(value).encode())
        await connection.execute("CHECKPOINT")  # heap pages onto disk, for the file scan
        data_dir = Path(await connection.fetchval("SHOW data_directory"))
        oid = await connection.fetchval(
            "SELECT oid FROM pg_database WHERE datname = $1", database.database
        )
    finally:
        await connection.close()
    heap = data_dir / "base" / str(oid)
    files = files_under(heap) if heap.is_dir() else []
    files += files_written_since(
        [data_dir / "pg_wal", Path("/var/log/postgresql")], since, recursive=False
    )
    return b"\n".join(parts), files


def _pg_dump(database: ScratchPostgres) -> bytes | None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    result = subprocess.run(
        [pg_dump, "-h", "127.0.0.1", "-U", "postgres", "--data-only", database.database],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


async def assert_postgres_clean(
    database: ScratchPostgres, needles: list[Needle], since: float, *, stage: str
) -> bytes:
    """Grep every row, a pg_dump, and the server's files; return the rows read."""
    rows, files = await _database_dump(database, since)
    leaks = find_in_bytes(rows, "PostgreSQL rows", needles)
    dump = await asyncio.to_thread(_pg_dump, database)
    if dump is not None:
        leaks += find_in_bytes(dump, "pg_dump output", needles)
    leaks += find_in_files(files, needles)  # none when the server's files are elsewhere
    assert not leaks, f"{stage}: " + "; ".join(map(str, leaks))
    return rows


async def test_postgresql_holds_no_plaintext(
    scene: Scene,
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    scratch_database: ScratchPostgres,
) -> None:
    canaries = {
        "recruiter contact": new_canary("contact"),
        "story": new_canary("story"),
        "story, forwarded": new_canary("fwd"),
        "voice note": new_canary("voice"),
    }
    voice = b"OggS" + canaries["voice note"].encode() * 4000
    async with running(make_settings, database_url=scratch_database.url) as bot:
        user = reporter(bot)
        needles = needles_for(canaries, user.user_id)
        await start_report(bot, user)
        await answer_until(bot, user, "recruiter_contact")
        await bot.driver.say(user, canaries["recruiter contact"])
        await answer_until(bot, user, "narrative")
        await bot.driver.say(user, canaries["story"])
        await bot.driver.run(user, user.forward_text(canaries["story, forwarded"]))
        await bot.driver.run(user, user.send_voice(content=voice))
        await assert_no_leak(scene, needles, bot, users=[user], stage="draft in progress")
        await assert_postgres_clean(
            scratch_database, needles, scene.started, stage="draft in progress"
        )
        code = await submit(bot, user)
        needles.append(Needle.text("receipt code", code))
        rows = await assert_postgres_clean(
            scratch_database, needles, scene.started, stage="submitted"
        )
        assert len(rows) > len(voice), "the rows hold the sealed voice note"
        [report] = await open_reports(bot.engine, admin_key)
        assert not bot.driver.errors, bot.driver.errors
    await assert_no_leak(scene, needles, stage="bot stopped")  # the receipt went to Telegram
    assert not list(scene.tmp_path.glob("*.db*")), "PostgreSQL only: no SQLite file"
    contains_all(report.everything(), canaries.values())
    assert list(report.attachments.values()) == [voice]


# --------------------------------------------------------------------------- linkage in logs


async def test_the_debug_log_links_no_report_to_its_reporter_or_statistics(
    scene: Scene, make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    async with running(make_settings) as bot:
        user = reporter(bot)
        await start_report(bot, user)
        await submit(bot, user)
        [report] = await open_reports(bot.engine, admin_key)
        for _ in range(bot.settings.stats_batch - 1):  # enough reports to release a batch
            other = reporter(bot)
            await start_report(bot, other)
            await submit(bot, other)
        await purge_expired(bot.services)
        async with unit_of_work(session_factory(bot.engine)) as session:
            stat_ids = (await session.scalars(select(StatRecordRow.id))).all()
        assert len(stat_ids) == bot.settings.stats_batch
        owner = memory_of(bot).key(TRANSPORT, user.user_id)
        assert not bot.driver.errors, bot.driver.errors
    assert_logged_something(scene)
    needles = [
        Needle.text("the reporter's pseudonym", owner),
        Needle.text("the report id", report.report_id),
        *(Needle.text("a statistics record id", stat_id) for stat_id in stat_ids),
    ]
    leaks = find_in_files([scene.log_file], needles)
    assert not leaks, "; ".join(map(str, leaks))
