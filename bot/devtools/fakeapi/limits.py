"""Own Telegram's limits that the spec's types do not express.

Text length after entity parsing (4096), caption length (1024), callback_data size (1-64 bytes
of UTF-8), inline buttons with a label and exactly one action, command names and descriptions,
two-letter language codes, chat actions, callback answer length. Each rule is one that the
real API enforces with a 400, so a bot breaking it has a bug; descriptions follow Telegram's
wording where it is known. This module must never look at parameters it was not given and never
put their values into a problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.devtools.fakeapi.entities import EntityParseError, plain_text

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER = 200
MAX_INLINE_BUTTONS = 100
MAX_COMMANDS = 100
MAX_DELETE_IDS = 100
BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_TEXT_METHODS = frozenset({"sendMessage", "editMessageText"})
_COMMAND_METHODS = frozenset({"setMyCommands", "deleteMyCommands", "getMyCommands"})
_EDIT_METHODS = frozenset(
    {"editMessageText", "editMessageReplyMarkup", "editMessageCaption", "editMessageMedia"}
)


def limit_problems(method: str, params: Mapping[str, Any]) -> list[str]:
    """List every Telegram limit the (already typed) parameters of ``method`` break."""
    problems: list[str] = []
    parse_mode = params.get("parse_mode")
    if method in _TEXT_METHODS and "text" in params:
        problems.extend(_text(params["text"], parse_mode))
    if method == "editMessageText" and "text" not in params and "rich_message" not in params:
        problems.append("text must be non-empty")
    if "caption" in params:
        problems.extend(_caption(params["caption"], parse_mode))
    if isinstance(params.get("reply_markup"), dict):
        problems.extend(_markup(params["reply_markup"]))
    identified = "chat_id" in params and "message_id" in params
    if method in _EDIT_METHODS and "inline_message_id" not in params and not identified:
        problems.append("message identifier is not specified")
    if method == "answerCallbackQuery" and len(params.get("text", "")) > MAX_CALLBACK_ANSWER:
        problems.append("MESSAGE_TOO_LONG: callback answer text is over 200 characters")
    if method in _COMMAND_METHODS:
        problems.extend(_commands(params))
    if method == "sendChatAction" and params.get("action") not in CHAT_ACTIONS:
        problems.append("wrong parameter action in request")
    if method == "deleteMessages" and not 1 <= len(params.get("message_ids", ())) <= MAX_DELETE_IDS:
        problems.append("message_ids must hold 1-100 identifiers")
    return problems


def visible_text(text: str, parse_mode: str | None) -> str:
    """Return what the user sees of a text; raise EntityParseError where Telegram would."""
    return plain_text(text, parse_mode)


def _text(text: str, parse_mode: str | None) -> list[str]:
    try:
        visible = plain_text(text, parse_mode)
    except EntityParseError as exc:
        return [f"can't parse entities: {exc}"]
    if not visible.strip():
        return ["message text is empty"]
    if len(visible) > MAX_TEXT:
        return ["message is too long"]
    return []


def _caption(caption: str, parse_mode: str | None) -> list[str]:
    try:
        visible = plain_text(caption, parse_mode)
    except EntityParseError as exc:
        return [f"can't parse entities: {exc}"]
    if len(visible) > MAX_CAPTION:
        return ["message caption is too long"]
    return []


def _markup(markup: Mapping[str, Any]) -> list[str]:
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list):
        return []
    problems: list[str] = []
    buttons = [button for row in rows if isinstance(row, list) for button in row]
    if len(buttons) > MAX_INLINE_BUTTONS:
        problems.append("reply markup is too long")
    for button in buttons:
        if not isinstance(button, dict):
            continue
        if not str(button.get("text", "")).strip():
            problems.append("BUTTON_TEXT_INVALID: inline keyboard button text is empty")
        actions = BUTTON_ACTIONS.intersection(button)
        if not actions:
            problems.append(
                "can't parse inline keyboard button: "
                "Text buttons are unallowed in the inline keyboard"
            )
        elif len(actions) > 1:
            problems.append("can't parse inline keyboard button: more than one action given")
        data = button.get("callback_data")
        if isinstance(data, str) and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
            problems.append("BUTTON_DATA_INVALID: callback_data must be 1-64 bytes")
    return problems


def _commands(params: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    language = params.get("language_code", "")
    if language and not _LANGUAGE.fullmatch(language):
        problems.append("language_code must be a two-letter ISO 639-1 code or empty")
    commands = params.get("commands", [])
    if len(commands) > MAX_COMMANDS:
        problems.append("too many commands")
    for command in commands:
        if not _COMMAND.fullmatch(str(command.get("command", ""))):
            problems.append("BOT_COMMAND_INVALID")
        description = str(command.get("description", "")).strip()
        if not 1 <= len(description) <= 256:
            problems.append("command description must be 1-256 characters")
    return problems
