"""The fake Bot API: a real PTB Application and Bot talk HTTP to it; it validates like Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MenuButtonCommands,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
)
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.devtools.fakeapi import FakeBotApi, FakeUser
from bot.devtools.fakeapi.entities import EntityParseError, plain_text
from bot.devtools.fakeapi.spec import dumps, load_vendored, regenerate, trim, vendored_text
from bot.devtools.fakeapi.validation import CallValidator
from tests.botapi_driver import AnyApplication, application_builder, running_bot, strict_fake_api

REPO = Path(__file__).resolve().parent.parent
FULL_SPEC_CANDIDATES = (
    Path("/work/shared/telegram-bot-api/api.json"),
    REPO.parent / "shared" / "telegram-bot-api" / "api.json",
)


@contextmanager
def refused(kind: type[Exception], words: str) -> Iterator[None]:
    """Expect a refusal; PTB re-capitalises Telegram's descriptions, so compare case-blind."""
    with pytest.raises(kind) as caught:
        yield
    assert words.lower() in str(caught.value).lower()


def message_of(update: Update) -> Message:
    """The update's message, which the test knows is there."""
    assert update.message is not None
    return update.message


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b


def assert_results_match_spec(server: FakeBotApi) -> None:
    """Every successful answer of the fake is a valid instance of the method's return type."""
    validator = CallValidator(server.spec)
    for call in server.calls:
        if not call.ok:
            continue
        method = server.spec.method(call.method)
        assert method is not None
        outcomes = [validator.object_problems(t, call.result, call.method) for t in method.returns]
        assert any(not problems for problems in outcomes), (call.method, outcomes)


def tiny_bot(server: FakeBotApi) -> AnyApplication:
    """An echo bot with a /start menu whose buttons are answered and edited in place."""
    app = application_builder(server).build()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Yes", callback_data="yes"),
                    InlineKeyboardButton("No", callback_data="no"),
                ]
            ]
        )
        await update.effective_message.reply_text(
            "Menu", reply_markup=keyboard, protect_content=True
        )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        assert message.text is not None
        await message.reply_text(message.text)

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("noted")
        await query.edit_message_text(f"You chose {query.data}")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(button))
    return app


# --- the vendored spec ---------------------------------------------------------------------


def test_vendored_spec_equals_trim_of_full_spec(tmp_path: Path) -> None:
    source = next((path for path in FULL_SPEC_CANDIDATES if path.exists()), None)
    if source is None:
        pytest.skip("the full api.json is not next to this checkout")
    regenerated = regenerate(source, tmp_path / "botapi_spec.json")
    expected = regenerated.read_text(encoding="utf-8")
    assert expected == dumps(trim(json.loads(source.read_text(encoding="utf-8"))))
    assert vendored_text() == expected, (
        f"run: python -m bot.devtools.fakeapi.spec --regenerate {source}"
    )


def test_vendored_spec_keeps_notice_and_finds_methods_case_insensitively() -> None:
    document = json.loads(vendored_text())
    assert document["license"] == "MIT"
    assert "Permission is hereby granted" in document["notice"]
    spec = load_vendored()
    assert spec.version == "Bot API 10.1"
    found = spec.method("SENDmessage")
    assert found is not None
    assert found.name == "sendMessage"
    assert found.fields["chat_id"].types == ("Integer", "String")
    assert spec.method("sendMessages") is None
    scope = spec.types["BotCommandScopeChat"]
    assert scope.fields["type"].const == "chat"


# --- a real Application over HTTP ------------------------------------------------------------


async def test_echo_round_trip_through_real_application(server: FakeBotApi) -> None:
    user = server.user(first_name="Ahmad", language_code="fa")
    async with running_bot(tiny_bot(server), server) as driver:
        replies = await driver.say(user, "سلام، کمک لازم دارم")
        assert [m.text for m in replies] == ["سلام، کمک لازم دارم"]
        assert [m.sender for m in user.chat_messages()] == ["user", "bot"]
        assert driver.errors == []
    sent = server.calls_to("sendMessage")
    assert [call.params["chat_id"] for call in sent] == [user.chat_id]
    assert server.violations == []
    assert_results_match_spec(server)


async def test_button_press_is_answered_and_edits_the_menu(server: FakeBotApi) -> None:
    user = server.user()
    async with running_bot(tiny_bot(server), server) as driver:
        menu = await driver.command(user, "/start")
        assert [m.button_texts for m in menu] == [["Yes", "No"]]
        assert menu[0].callback_data == ["yes", "no"]
        assert menu[0].protected
        changed = await driver.press(user, "No")
        assert [m.message_id for m in changed] == [menu[0].message_id]  # edited, nothing new
        shown = user.last_bot_message()
        assert shown is not None
        assert (shown.text, shown.edited) == ("You chose no", True)
        assert shown.buttons == ()  # editing without reply_markup removes the keyboard
        with pytest.raises(LookupError):
            await user.press("Yes")  # no keyboard left to press
        assert driver.errors == []
    assert server.unanswered_callback_queries() == []
    answer = server.calls_to("answerCallbackQuery")[0]
    assert answer.params["text"] == "noted"
    assert server.violations == []
    assert_results_match_spec(server)


async def test_every_fake_user_action_reaches_ptb_as_a_valid_update(server: FakeBotApi) -> None:
    app = application_builder(server).build()
    seen: list[Update] = []

    async def collect(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    app.add_handler(TypeHandler(Update, collect))
    user = server.user(username="someone")
    async with running_bot(app, server) as driver:
        actions = [
            user.send_text("hello"),
            user.send_command("/start", "partner_x"),
            user.send_sticker(),
            user.send_photo(size_bytes=70_000, caption="a caption"),
            user.send_voice(duration=4),
            user.send_location(34.5, 69.2),
            user.send_contact("+93700000000", "Recruiter"),
            user.send_document("big.zip", 30 * 1024 * 1024),
            user.forward_text("forwarded words", origin="hidden_user"),
            user.edit_last_text("edited words"),
            user.block_bot(),
        ]
        for action in actions:
            await driver.settle(await action)
    messages = [message_of(u) for u in seen if u.message is not None]
    assert [m.text for m in messages[:2]] == ["hello", "/start partner_x"]
    assert list(messages[1].parse_entities().values()) == ["/start"]
    assert messages[2].sticker is not None
    assert messages[3].photo[-1].file_size == 70_000
    assert messages[3].caption == "a caption"
    assert messages[4].voice is not None
    assert messages[5].location is not None
    assert messages[5].location.latitude == 34.5
    assert messages[6].contact is not None
    assert messages[7].document is not None
    assert messages[7].document.file_name == "big.zip"
    assert messages[8].forward_origin is not None
    assert messages[8].forward_origin.type == "hidden_user"
    edited = [u.edited_message for u in seen if u.edited_message is not None]
    assert [(e.message_id, e.text) for e in edited] == [(2, "edited words")]  # the /start
    assert edited[0].edit_date is not None
    blocked = [u.my_chat_member for u in seen if u.my_chat_member is not None]
    assert [b.new_chat_member.status for b in blocked] == ["kicked"]


async def test_group_chat_updates_have_group_shape(server: FakeBotApi) -> None:
    app = application_builder(server).build()
    seen: list[Update] = []

    async def collect(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    app.add_handler(TypeHandler(Update, collect))
    member = server.user(user_id=555, chat_type="group", chat_title="Village")
    other = server.user(user_id=556, chat_type="group", chat_id=member.chat_id)
    super_member = server.user(user_id=557, chat_type="supergroup")
    async with running_bot(app, server) as driver:
        await driver.settle(await member.add_bot_to_group())
        await driver.settle(await member.send_command("/start", mention=True))
        await driver.settle(await other.send_text("hi all"))
        await driver.settle(await super_member.send_text("hello"))
    added = seen[0].my_chat_member
    assert added is not None
    assert added.new_chat_member.status == "member"
    command, group_hello, super_hello = (message_of(u) for u in seen[1:])
    assert command.text == "/start@amanat_test_bot"
    assert (command.chat.type, command.chat.title) == ("group", "Village")
    assert command.chat.id < 0
    assert [
        (m.chat.id, m.from_user.id if m.from_user else None) for m in (command, group_hello)
    ] == [
        (member.chat_id, 555),
        (member.chat_id, 556),
    ]
    assert [m.message_id for m in member.chat_messages()] == [1, 2]  # ids shared in the chat
    assert super_hello.chat.type == "supergroup"
    assert str(super_hello.chat.id).startswith("-100")


# --- validation: refused like Telegram AND recorded -----------------------------------------


async def test_unknown_parameter_is_refused_and_recorded(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    await user.send_text("hi")
    with refused(BadRequest, "unknown parameter"):
        await bot.send_message(user.chat_id, "x", api_kwargs={"reply_to_message": 1})
    assert [v.method for v in server.violations] == ["sendMessage"]
    assert server.calls[-1].status == 400
    assert server.calls[-1].response["description"].startswith("Bad Request: ")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBUserWarning")  # raw calls on purpose
async def test_missing_chat_id_is_refused(server: FakeBotApi, bot: Bot) -> None:
    with refused(BadRequest, '"chat_id" is required'):
        await bot.do_api_request("sendMessage", api_kwargs={"text": "hello"})
    assert len(server.violations) == 1


async def test_text_over_4096_characters_is_refused(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    await user.send_text("hi")
    await bot.send_message(user.chat_id, "x" * 4096)
    assert server.violations == []
    with refused(BadRequest, "too long"):
        await bot.send_message(user.chat_id, "x" * 4097)
    assert len(server.violations) == 1
    html = "<b>" + "x" * 4096 + "</b>"  # counted after entity parsing: allowed
    await bot.send_message(user.chat_id, html, parse_mode=ParseMode.HTML)
    assert len(server.violations) == 1


async def test_callback_data_over_64_bytes_is_refused(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    await user.send_text("hi")
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x" * 64)]])
    await bot.send_message(user.chat_id, "fits", reply_markup=fits)
    too_big = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data="ب" * 33)]])
    with refused(BadRequest, "BUTTON_DATA_INVALID"):
        await bot.send_message(user.chat_id, "66 bytes", reply_markup=too_big)
    assert len(server.violations) == 1


async def test_empty_button_text_and_caption_limit_are_refused(
    server: FakeBotApi, bot: Bot
) -> None:
    user = server.user()
    await user.send_text("hi")
    empty = InlineKeyboardMarkup([[InlineKeyboardButton(" ", callback_data="a")]])
    with refused(BadRequest, "BUTTON_TEXT_INVALID"):
        await bot.send_message(user.chat_id, "x", reply_markup=empty)
    with refused(BadRequest, "caption is too long"):
        await bot.send_document(user.chat_id, b"data", filename="a.txt", caption="c" * 1025)
    assert len(server.violations) == 2


async def test_unknown_method_is_refused_as_telegram_does(server: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):  # Telegram answers 404 Not Found
        await bot.do_api_request("sendMesage", api_kwargs={"chat_id": 1, "text": "x"})
    assert [v.method for v in server.violations] == ["sendMesage"]


async def test_unimplemented_method_is_a_violation_not_a_silent_success(
    server: FakeBotApi, bot: Bot
) -> None:
    user = server.user()
    await user.send_text("hi")
    with refused(NetworkError, "not implemented"):
        await bot.send_poll(user.chat_id, "Question?", ["a", "b"])
    assert [v.method for v in server.violations] == ["sendPoll"]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBUserWarning")  # raw calls on purpose
async def test_nested_objects_are_checked_field_by_field(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    await user.send_text("hi")
    with refused(BadRequest, "chat_id is required in BotCommandScopeChat"):
        await bot.do_api_request(
            "setMyCommands",
            api_kwargs={
                "commands": [{"command": "a", "description": "b"}],
                "scope": {"type": "chat"},
            },
        )
    with refused(BadRequest, "unknown field"):
        markup = {"inline_keyboard": [[{"text": "a", "callback": "b"}]]}
        await bot.do_api_request(
            "sendMessage", api_kwargs={"chat_id": user.chat_id, "text": "x", "reply_markup": markup}
        )
    with refused(BadRequest, "must be Boolean"):
        await bot.do_api_request(
            "sendMessage",
            api_kwargs={"chat_id": user.chat_id, "text": "x", "protect_content": "maybe"},
        )
    with refused(BadRequest, "two-letter"):
        await bot.set_my_commands([BotCommand("start", "Start")], language_code="fa_AF")
    with refused(BadRequest, "can't parse entities"):
        await bot.send_message(user.chat_id, "a <unknown> tag", parse_mode=ParseMode.HTML)
    assert len(server.violations) == 5


async def test_wrong_token_is_unauthorized(server: FakeBotApi) -> None:
    head = server.token.split(":")[0]
    wrong = Bot(f"{head}:wrong", base_url=server.base_url)
    try:
        with pytest.raises(InvalidToken):
            await wrong.initialize()
    finally:
        await wrong.shutdown()
    assert [v.description for v in server.violations] == ["Unauthorized"]


async def test_common_calls_are_not_false_positives(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    await user.send_text("hi")
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("دری", callback_data="lang:fa_AF")],
            [InlineKeyboardButton("Web", url="https://example.org")],
        ]
    )
    sent = await bot.send_message(
        user.chat_id,
        "<b>Hello</b> &amp; welcome",
        parse_mode=ParseMode.HTML,
        protect_content=True,
        reply_markup=keyboard,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        reply_parameters=ReplyParameters(message_id=1),
    )
    assert (sent.text, sent.has_protected_content) == ("Hello & welcome", True)
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.text == "hi"
    await bot.send_message(user.chat_id, r"*bold* and a dot\.", parse_mode=ParseMode.MARKDOWN_V2)
    edited = await bot.edit_message_text(
        "Changed", chat_id=user.chat_id, message_id=sent.message_id, reply_markup=keyboard
    )
    assert isinstance(edited, Message)
    assert edited.text == "Changed"
    await bot.edit_message_reply_markup(chat_id=user.chat_id, message_id=sent.message_id)
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("wipe", "Wipe")])
    await bot.set_my_commands(
        [BotCommand("start", "شروع")], scope=BotCommandScopeAllPrivateChats(), language_code="fa"
    )
    await bot.set_my_commands([BotCommand("help", "Help")], scope=BotCommandScopeChat(user.chat_id))
    commands = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="fa")
    assert [c.command for c in commands] == ["start"]
    await bot.delete_my_commands(scope=BotCommandScopeChat(user.chat_id))
    await bot.set_chat_menu_button(chat_id=user.chat_id, menu_button=MenuButtonCommands())
    await bot.send_chat_action(user.chat_id, ChatAction.TYPING)
    chat = await bot.get_chat(user.chat_id)
    assert chat.id == user.chat_id
    info = await bot.get_webhook_info()
    assert info.url == ""
    second = await bot.send_message(user.chat_id, "two")
    third = await bot.send_message(user.chat_id, "three")
    assert await bot.delete_messages(user.chat_id, [second.message_id, third.message_id, 999])
    assert [m.text for m in user.chat_messages()] == ["hi", "Changed", "bold and a dot."]
    assert server.violations == []
    assert_results_match_spec(server)


async def test_answer_callback_query_once_only(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    await user.send_text("hi")
    menu = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    await bot.send_message(user.chat_id, "menu", reply_markup=menu)
    await user.press("Go")
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None
    assert query.message is not None
    assert query.data == "go"
    assert await bot.answer_callback_query(query.id, text="ok", show_alert=False, cache_time=0)
    with refused(BadRequest, "query is too old"):
        await bot.answer_callback_query(query.id)
    assert server.violations == []


# --- Telegram's state semantics --------------------------------------------------------------


async def test_delete_message_semantics(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    await user.send_text("my secret report")
    reply = await bot.send_message(user.chat_id, "received")
    assert await bot.delete_message(user.chat_id, 1)  # the user's own message, private chat
    assert [m.text for m in user.chat_messages()] == ["received"]
    with refused(BadRequest, "Message to delete not found"):
        await bot.delete_message(user.chat_id, 1)
    with refused(BadRequest, "Message to delete not found"):
        await bot.delete_message(user.chat_id, 42)
    await bot.delete_message(user.chat_id, reply.message_id)
    assert user.chat_messages() == []
    with refused(BadRequest, "Message to edit not found"):
        await bot.edit_message_text("x", chat_id=user.chat_id, message_id=reply.message_id)
    await user.send_text("again")
    assert user.chat_messages()[0].message_id == 3  # ids keep growing after deletions
    assert server.violations == []  # refusals of state are not malformed calls


async def test_edit_semantics(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    await user.send_text("hi")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await bot.send_message(user.chat_id, "same", reply_markup=markup)
    with refused(BadRequest, "not modified"):
        await bot.edit_message_text(
            "same", chat_id=user.chat_id, message_id=sent.message_id, reply_markup=markup
        )
    await bot.edit_message_text("same", chat_id=user.chat_id, message_id=sent.message_id)
    shown = user.last_bot_message()
    assert shown is not None
    assert (shown.buttons, shown.edited) == ((), True)
    with refused(BadRequest, "not modified"):
        await bot.edit_message_reply_markup(chat_id=user.chat_id, message_id=sent.message_id)
    with refused(BadRequest, "can't be edited"):
        await bot.edit_message_text("mine now", chat_id=user.chat_id, message_id=1)
    await bot.edit_message_text(
        "<i>same</i>", chat_id=user.chat_id, message_id=sent.message_id, parse_mode="HTML"
    )
    assert server.violations == []


async def test_chat_access_refusals(server: FakeBotApi, bot: Bot) -> None:
    stranger = server.user()
    with refused(Forbidden, "initiate"):
        await bot.send_message(stranger.chat_id, "hello?")
    with refused(BadRequest, "Chat not found"):
        await bot.send_message(123, "nobody")
    await stranger.send_text("hi")
    await bot.send_message(stranger.chat_id, "now I may")
    await stranger.block_bot()
    with refused(Forbidden, "blocked"):
        await bot.send_message(stranger.chat_id, "still there?")
    assert server.violations == []


async def test_get_updates_offset_limit_and_allowed_updates(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    ids = [await user.send_text(f"m{n}") for n in range(4)]
    assert ids == [1, 2, 3, 4]
    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates(limit=2)] == [1, 2]
    assert [u.update_id for u in await bot.get_updates(offset=3)] == [3, 4]
    assert [u.update_id for u in await bot.get_updates()] == [3, 4]  # 1 and 2 were confirmed
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [4]
    assert [u.update_id for u in await bot.get_updates()] == [4]  # -1 forgot the older ones
    assert await bot.get_updates(offset=5) == ()
    await bot.get_updates(offset=5, allowed_updates=["callback_query"])
    await user.send_text("filtered out")
    assert await bot.get_updates(offset=5) == ()
    assert server.world.highest_fetched == 4
    await bot.set_webhook("https://example.org/hook")
    with refused(Conflict, "webhook is active"):
        await bot.get_updates()
    assert server.violations == []


async def test_long_poll_waits_and_wakes_on_new_update(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await server.wait_for(lambda: server.waiting_polls == 1, timeout=5)
    update_id = await user.send_text("wake up")
    updates = await poll
    assert [u.update_id for u in updates] == [update_id]
    assert time.monotonic() - started < 3
    await server.wait_until_fetched(update_id, timeout=1)
    empty_started = time.monotonic()
    assert await bot.get_updates(offset=update_id + 1, timeout=1) == ()
    assert time.monotonic() - empty_started >= 0.9


async def test_files_upload_get_file_and_download(server: FakeBotApi, bot: Bot) -> None:
    user = server.user()
    await user.send_document("small.txt", 12, content=b"hello world!")
    await user.send_document("huge.bin", 25 * 1024 * 1024)
    updates = await bot.get_updates()
    small, huge = (message_of(u).document for u in updates)
    assert small is not None
    assert huge is not None
    handle = await bot.get_file(small.file_id)
    assert bytes(await handle.download_as_bytearray()) == b"hello world!"
    with refused(BadRequest, "File is too big"):
        await bot.get_file(huge.file_id)
    with refused(BadRequest, "Invalid file_id"):
        await bot.get_file("nonsense")
    sent = await bot.send_document(user.chat_id, b"report bytes", filename="r.txt", caption="c")
    assert sent.document is not None
    assert sent.document.file_name == "r.txt"
    again = await bot.get_file(sent.document.file_id)
    assert bytes(await again.download_as_bytearray()) == b"report bytes"
    photo = await bot.send_photo(user.chat_id, b"\xff\xd8fakejpeg")
    voice = await bot.send_voice(user.chat_id, small.file_id, duration=2)
    assert photo.photo
    assert voice.voice is not None
    assert [m.kind for m in user.bot_messages()] == ["document", "photo", "voice"]
    assert server.violations == []
    assert_results_match_spec(server)


async def test_raw_http_bodies_json_form_query(server: FakeBotApi) -> None:
    user = server.user()
    await user.send_text("hi")
    url = f"{server.base_url}{server.token}"
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/SendMessage", json={"chat_id": user.chat_id, "text": "json"}
        ) as r:
            assert r.status == 200
            assert (await r.json())["result"]["text"] == "json"
        async with session.post(
            f"{url}/sendmessage", data={"chat_id": str(user.chat_id), "text": "form"}
        ) as r:
            assert r.status == 200
        async with session.get(f"{url}/getMe") as r:
            assert (await r.json())["result"]["is_bot"] is True
        async with session.get(
            f"{url}/sendMessage", params={"chat_id": str(user.chat_id), "text": "q"}
        ) as r:
            assert r.status == 200
        async with session.post(f"{url}/sendMessage", json={"chat_id": [1], "text": "x"}) as r:
            body: dict[str, Any] = await r.json()
            assert r.status == 400
            assert body == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat_id must be Integer or String",
            }
        async with session.post(
            f"{url}/sendMessage", data=b"{", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400
    assert [m.text for m in user.bot_messages()] == ["json", "form", "q"]
    assert len(server.violations) == 2


# --- entity parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode", "visible"),
    [
        ("<b>a</b> &lt;b&gt; &amp; &#1587;", "HTML", "a <b> & س"),
        ('<a href="https://x.org/?a=1&b=2">link</a>', "html", "link"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "HTML", "st"),
        (
            r"*b* _i_ __u__ ~s~ ||p|| `c\`` [l](https://x.org/a\)b) \. \!",
            "MarkdownV2",
            "b i u s p c` l . !",
        ),
        ("```python\ncode here\n```", "MarkdownV2", "code here\n"),
        (">quote\nnext\\.", "MarkdownV2", "quote\nnext."),
        ("*b* _i_ `c` [l](https://x.org)", "Markdown", "b i c l"),
        ("plain <b> and *", None, "plain <b> and *"),
    ],
)
def test_entity_parsing_visible_text(text: str, mode: str | None, visible: str) -> None:
    assert plain_text(text, mode) == visible


@pytest.mark.parametrize(
    ("text", "mode", "error"),
    [
        ("a < b", "HTML", "name token"),
        ("<foo>x</foo>", "HTML", "unsupported start tag"),
        ("<b>x", "HTML", "end tag"),
        ("<b>x</i>", "HTML", "unmatched end tag"),
        ("<span>x</span>", "HTML", "unsupported start tag"),
        ("1.5", "MarkdownV2", "reserved"),
        ("*open", "MarkdownV2", "Bold"),
        ("[x](no end", "MarkdownV2", "url"),
        ("*open", "Markdown", "end of the entity"),
        ("x", "XML", "unsupported parse_mode"),
    ],
)
def test_entity_parsing_errors(text: str, mode: str, error: str) -> None:
    with pytest.raises(EntityParseError, match=error):
        plain_text(text, mode)


def test_validator_union_members_and_arrays() -> None:
    validator = CallValidator(load_vendored())
    assert validator.object_problems("BotCommandScope", {"type": "all_private_chats"}) == []
    assert validator.object_problems("BotCommandScope", {"type": "private"}) == [
        "value must be BotCommandScope"
    ]
    assert (
        validator.object_problems("Array of Array of InlineKeyboardButton", [[{"text": "a"}]]) == []
    )
    assert validator.object_problems("Array of Integer", [1, True]) == ["value[1] must be Integer"]
    assert validator.object_problems("Float", 3) == []
    origin = {"type": "user", "date": 1, "sender_user": {"id": 1, "is_bot": False}}
    assert validator.object_problems("MessageOrigin", origin) == [
        "value.sender_user.first_name is required in User"
    ]


async def test_injecting_an_invalid_update_fails_fast(server: FakeBotApi) -> None:
    with refused(ValueError, "not a valid Update"):
        await server.inject("message", {"message_id": 1, "text": "no chat or date"})
    assert server.world.pending == []


async def test_fake_user_helpers_are_consistent(server: FakeBotApi) -> None:
    user: FakeUser = server.user(user_id=77, language_code="ps")
    assert user.user_id == user.chat_id == 77
    assert user.user["language_code"] == "ps"
    with refused(ValueError, "private chat"):
        server.user(user_id=78, chat_id=79)
    with pytest.raises(LookupError):
        await user.edit_last_text("nothing to edit")
    await user.send_text("/help now")
    await user.send_text("/ not a command")
    typed = [update["message"] for update in server.world.pending]
    assert typed[0]["entities"] == [{"type": "bot_command", "offset": 0, "length": 5}]
    assert "entities" not in typed[1]


async def test_strict_fake_api_fails_teardown_on_a_swallowed_violation() -> None:
    with refused(AssertionError, "message text is empty"):
        async with strict_fake_api() as api:
            user = api.user()
            await user.send_text("hi")
            async with Bot(api.token, base_url=api.base_url) as quiet:
                with contextlib.suppress(BadRequest):  # the bot swallows the refusal
                    await quiet.send_message(user.chat_id, "   ")


async def test_wait_for_times_out_with_a_clear_error(server: FakeBotApi) -> None:
    with refused(TimeoutError, "did not hold"):
        await server.wait_for(lambda: False, timeout=0.05)


async def test_a_newer_poll_ends_an_abandoned_one(server: FakeBotApi) -> None:
    url = f"{server.base_url}{server.token}/getUpdates"
    user = server.user()
    async with aiohttp.ClientSession() as session:

        async def poll() -> list[Any]:
            async with session.post(url, json={"timeout": 5}) as response:
                result: list[Any] = (await response.json())["result"]
                return result

        first = asyncio.create_task(poll())
        await server.wait_for(lambda: server.waiting_polls == 1)
        second = asyncio.create_task(poll())
        assert await asyncio.wait_for(first, 2) == []
        await server.wait_for(lambda: server.waiting_polls == 1)
        update_id = await user.send_text("for the newer poll")
        assert [u["update_id"] for u in await asyncio.wait_for(second, 2)] == [update_id]


async def test_webhooks_go_over_several_connections_to_several_workers(
    server: FakeBotApi, bot: Bot
) -> None:
    """Like Telegram with max_connections and a round-robin proxy: updates are posted at the
    same time, spread over the workers, each taken once."""
    seen: dict[int, list[int]] = {0: [], 1: [], 2: []}
    open_now = 0
    most_open = 0

    def worker(number: int) -> Any:
        async def receive(request: web.Request) -> web.Response:
            nonlocal open_now, most_open
            assert request.headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret"
            open_now += 1
            most_open = max(most_open, open_now)
            await asyncio.sleep(0.05)  # a worker busy with the update
            seen[number].append((await request.json())["update_id"])
            open_now -= 1
            return web.Response()

        return receive

    runners = []
    origins = []
    try:
        for number in seen:
            app = web.Application()
            app.router.add_post("/hook", worker(number))
            runner = web.AppRunner(app)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            origins.append(f"http://{host}:{port}")
        await bot.set_webhook("https://bot.example.org/hook", secret_token="s3cret")
        server.deliver_webhooks_to(*origins, connections=6)
        users = [server.user() for _ in range(12)]
        sent = [await user.send_text("hello") for user in users]
        await server.wait_for(lambda: sum(len(ids) for ids in seen.values()) == 12)
    finally:
        for runner in runners:
            await runner.cleanup()
    taken = sorted(i for ids in seen.values() for i in ids)
    assert taken == sorted(sent)  # each update once
    assert all(len(ids) == 4 for ids in seen.values()), seen  # round robin
    assert most_open > 1  # at the same time, over several connections
    assert set(server.webhook_statuses) == {200}
