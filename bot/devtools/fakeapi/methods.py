"""Own what each implemented Bot API method does to the fake Telegram's state.

Every method takes parameters that already passed validation and answers with a result shaped
like the real one (so python-telegram-bot's ``de_json`` reads it) or raises :class:`ApiError`
with Telegram's own wording for refusals a correct bot must handle (message not found, message
is not modified, blocked by the user, query too old). Methods the fake does not implement raise
:class:`NotImplementedInFake`. This module must never do I/O; ``getUpdates`` (long polling)
belongs to the server.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from bot.devtools.fakeapi.limits import visible_text
from bot.devtools.fakeapi.state import (
    DEFAULT_UPDATE_TYPES,
    MAX_DOWNLOAD_BYTES,
    ApiError,
    ChatState,
    JsonDict,
    StoredFile,
    StoredMessage,
    World,
    bad_request,
)
from bot.devtools.fakeapi.validation import UploadedFile

Handler = Callable[[dict[str, Any]], Any]
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


class NotImplementedInFake(Exception):
    """The call is valid but the fake cannot honour it; nobody may rely on it silently."""


class Methods:
    """The implemented methods, bound to one world."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._table: Mapping[str, Handler] = MappingProxyType(
            {
                "getMe": self.get_me,
                "logOut": self.always_true,
                "close": self.always_true,
                "deleteWebhook": self.delete_webhook,
                "setWebhook": self.set_webhook,
                "getWebhookInfo": self.get_webhook_info,
                "setMyCommands": self.set_my_commands,
                "getMyCommands": self.get_my_commands,
                "deleteMyCommands": self.delete_my_commands,
                "setChatMenuButton": self.set_chat_menu_button,
                "getChatMenuButton": self.get_chat_menu_button,
                "sendMessage": self.send_message,
                "editMessageText": self.edit_message_text,
                "editMessageReplyMarkup": self.edit_message_reply_markup,
                "deleteMessage": self.delete_message,
                "deleteMessages": self.delete_messages,
                "answerCallbackQuery": self.answer_callback_query,
                "sendChatAction": self.send_chat_action,
                "getChat": self.get_chat,
                "getFile": self.get_file,
                "sendPhoto": self.send_photo,
                "sendDocument": self.send_document,
                "sendVoice": self.send_voice,
            }
        )

    def handler(self, method: str) -> Handler | None:
        """Return the implementation of a (canonically named) method, if the fake has one."""
        return self._table.get(method)

    @property
    def implemented(self) -> frozenset[str]:
        """The names of the methods the fake implements (getUpdates is the server's)."""
        return frozenset(self._table) | {"getUpdates"}

    def get_me(self, params: dict[str, Any]) -> JsonDict:
        """Describe the bot."""
        return dict(self._world.bot_user)

    def always_true(self, params: dict[str, Any]) -> bool:
        """Answer methods whose only effect is on Telegram's side (logOut, close)."""
        return True

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        """Switch back to getUpdates, dropping pending updates when asked."""
        self._world.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._world.pending.clear()
        return True

    def set_webhook(self, params: dict[str, Any]) -> bool:
        """Record a webhook; getUpdates then refuses as Telegram does."""
        url = params["url"]
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._world.webhook_url = url
        self._world.webhook_secret = str(params.get("secret_token", ""))
        if params.get("allowed_updates"):
            self._world.allowed_updates = frozenset(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self._world.pending.clear()
        return True

    def get_webhook_info(self, params: dict[str, Any]) -> JsonDict:
        """Describe the webhook (or its absence)."""
        info: JsonDict = {
            "url": self._world.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._world.pending),
        }
        if self._world.allowed_updates != DEFAULT_UPDATE_TYPES:
            info["allowed_updates"] = sorted(self._world.allowed_updates)
        return info

    def set_my_commands(self, params: dict[str, Any]) -> bool:
        """Store the command list of one scope and language."""
        self._world.commands[_command_key(params)] = copy.deepcopy(params["commands"])
        return True

    def get_my_commands(self, params: dict[str, Any]) -> list[JsonDict]:
        """Return the command list of one scope and language (no fallback, like Telegram)."""
        return copy.deepcopy(self._world.commands.get(_command_key(params), []))

    def delete_my_commands(self, params: dict[str, Any]) -> bool:
        """Forget the command list of one scope and language."""
        self._world.commands.pop(_command_key(params), None)
        return True

    def set_chat_menu_button(self, params: dict[str, Any]) -> bool:
        """Store the menu button of one chat or the default one."""
        chat_id = params.get("chat_id")
        if chat_id is not None:
            self._world.find_chat(chat_id)
        self._world.menu_buttons[chat_id] = params.get("menu_button", {"type": "default"})
        return True

    def get_chat_menu_button(self, params: dict[str, Any]) -> JsonDict:
        """Return the menu button of one chat, else the default one."""
        buttons = self._world.menu_buttons
        chat_id = params.get("chat_id")
        return dict(buttons.get(chat_id, buttons.get(None, {"type": "default"})))

    def send_message(self, params: dict[str, Any]) -> JsonDict:
        """Show a text message in a chat."""
        text = visible_text(params["text"], params.get("parse_mode"))
        content: JsonDict = {"text": text}
        if "entities" in params:
            content["entities"] = params["entities"]
        if "link_preview_options" in params:
            content["link_preview_options"] = params["link_preview_options"]
        return self._send(params, content, _format_key(params, "text", "entities"))

    def send_photo(self, params: dict[str, Any]) -> JsonDict:
        """Show a photo (uploaded, by file_id or by URL)."""
        stored = self._file(params["photo"], folder="photos", default_name="photo.jpg")
        sizes = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": 1280,
                "height": 960,
                "file_size": stored.size,
            }
        ]
        return self._send(params, {"photo": sizes, **self._caption(params)}, None)

    def send_document(self, params: dict[str, Any]) -> JsonDict:
        """Show a document (uploaded, by file_id or by URL)."""
        value = params["document"]
        stored = self._file(value, folder="documents", default_name="document")
        document: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if isinstance(value, UploadedFile) and value.filename:
            document["file_name"] = value.filename
        if isinstance(value, UploadedFile) and value.content_type:
            document["mime_type"] = value.content_type
        return self._send(params, {"document": document, **self._caption(params)}, None)

    def send_voice(self, params: dict[str, Any]) -> JsonDict:
        """Show a voice note (uploaded, by file_id or by URL)."""
        stored = self._file(params["voice"], folder="voice", default_name="voice.ogg")
        voice: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": params.get("duration", 1),
            "mime_type": "audio/ogg",
            "file_size": stored.size,
        }
        return self._send(params, {"voice": voice, **self._caption(params)}, None)

    def edit_message_text(self, params: dict[str, Any]) -> JsonDict | bool:
        """Replace the text (and keyboard: absent means removed) of a bot message."""
        _, stored = self._editable(params, "message to edit not found")
        if "text" not in stored.data:
            raise bad_request("there is no text in the message to edit")
        if "text" not in params:
            raise NotImplementedInFake("rich_message edits are not implemented")
        text = visible_text(params["text"], params.get("parse_mode"))
        format_key = _format_key(params, "text", "entities")
        markup = _inline_markup(params)
        if (
            stored.data["text"] == text
            and stored.format_key == format_key
            and stored.data.get("reply_markup") == markup
        ):
            raise bad_request(NOT_MODIFIED)
        stored.data["text"] = text
        stored.format_key = format_key
        _set_optional(stored.data, "entities", params.get("entities"))
        _set_optional(stored.data, "reply_markup", markup)
        stored.data["edit_date"] = self._world.now()
        return copy.deepcopy(stored.data)

    def edit_message_reply_markup(self, params: dict[str, Any]) -> JsonDict | bool:
        """Replace (or, when absent, remove) the inline keyboard of a bot message."""
        _, stored = self._editable(params, "message to edit not found")
        markup = _inline_markup(params)
        if stored.data.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED)
        _set_optional(stored.data, "reply_markup", markup)
        stored.data["edit_date"] = self._world.now()
        return copy.deepcopy(stored.data)

    def delete_message(self, params: dict[str, Any]) -> bool:
        """Delete one message for everyone; unknown or deleted ids are refused."""
        state = self._world.find_chat(params["chat_id"])
        stored = state.visible(params["message_id"])
        if stored is None:
            raise bad_request("message to delete not found")
        if not _deletable(state, stored):
            raise bad_request("message can't be deleted")
        stored.deleted = True
        return True

    def delete_messages(self, params: dict[str, Any]) -> bool:
        """Delete several messages; those that cannot be found or deleted are skipped."""
        state = self._world.find_chat(params["chat_id"])
        if state.outages > 0:  # a server failure, as Telegram has them
            state.outages -= 1
            raise ApiError(500, "Internal Server Error")
        for message_id in params["message_ids"]:
            stored = state.visible(message_id)
            if stored is not None and _deletable(state, stored):
                stored.deleted = True
        return True

    def answer_callback_query(self, params: dict[str, Any]) -> bool:
        """Answer a button press once; a second or unknown answer is refused."""
        query = self._world.callback_queries.get(params["callback_query_id"])
        if query is None or query.answered:
            raise bad_request(_QUERY_TOO_OLD)
        query.answered = True
        query.answer = dict(params)
        return True

    def send_chat_action(self, params: dict[str, Any]) -> bool:
        """Show "typing…" and the like."""
        state = self._world.writable_chat(params["chat_id"])
        state.last_action = params["action"]
        return True

    def get_chat(self, params: dict[str, Any]) -> JsonDict:
        """Describe a chat with the fields ChatFullInfo requires."""
        state = self._world.find_chat(params["chat_id"])
        return {
            **state.chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def get_file(self, params: dict[str, Any]) -> JsonDict:
        """Prepare a known file for download; Telegram refuses files over 20 MB."""
        stored = self._world.files.get(params["file_id"])
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def _send(self, params: dict[str, Any], content: JsonDict, format_key: object) -> JsonDict:
        world = self._world
        state = world.writable_chat(params["chat_id"])
        reply_to = _reply_target(state, params.get("reply_parameters"))
        markup = _inline_markup(params)
        _track_reply_keyboard(state, params.get("reply_markup"))

        def build(message_id: int) -> JsonDict:
            message: JsonDict = {
                "message_id": message_id,
                "from": world.bot_user,
                "chat": state.chat,
                "date": world.now(),
                **content,
            }
            if reply_to is not None:
                message["reply_to_message"] = reply_to
            if markup is not None:
                message["reply_markup"] = markup
            if params.get("protect_content"):
                message["has_protected_content"] = True
            return message

        return copy.deepcopy(state.add("bot", build, format_key).data)

    def _caption(self, params: dict[str, Any]) -> JsonDict:
        if "caption" not in params:
            return {}
        caption: JsonDict = {"caption": visible_text(params["caption"], params.get("parse_mode"))}
        if "caption_entities" in params:
            caption["caption_entities"] = params["caption_entities"]
        return caption

    def _file(self, value: object, *, folder: str, default_name: str) -> StoredFile:
        if isinstance(value, UploadedFile):
            return self._world.add_file(
                len(value.content),
                content=value.content,
                folder=folder,
                name=value.filename or default_name,
            )
        if isinstance(value, str) and value in self._world.files:
            return self._world.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self._world.add_file(1024, folder=folder, name=default_name)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _editable(self, params: dict[str, Any], missing: str) -> tuple[ChatState, StoredMessage]:
        if "inline_message_id" in params:
            raise NotImplementedInFake("inline messages are not implemented")
        state = self._world.writable_chat(params["chat_id"])
        stored = state.visible(params["message_id"])
        if stored is None:
            raise bad_request(missing)
        if stored.sender != "bot":
            raise bad_request("message can't be edited")
        return state, stored


def _command_key(params: Mapping[str, Any]) -> tuple[str, str]:
    scope = params.get("scope", {"type": "default"})
    return json.dumps(scope, sort_keys=True), params.get("language_code", "")


def _format_key(params: Mapping[str, Any], text_key: str, entities_key: str) -> object:
    """What, beyond the visible text, makes two texts look different (formatting)."""
    entities = params.get(entities_key)
    parse_mode = params.get("parse_mode")
    if entities is not None:
        return ("entities", json.dumps(entities, sort_keys=True))
    if parse_mode:
        return (str(parse_mode).lower(), params[text_key])
    return None


def _inline_markup(params: Mapping[str, Any]) -> JsonDict | None:
    markup = params.get("reply_markup")
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return copy.deepcopy(markup)
    return None


def _track_reply_keyboard(state: ChatState, markup: object) -> None:
    if isinstance(markup, dict) and "keyboard" in markup:
        state.reply_keyboard = copy.deepcopy(markup)
    elif isinstance(markup, dict) and markup.get("remove_keyboard"):
        state.reply_keyboard = None


def _set_optional(data: JsonDict, key: str, value: object) -> None:
    if value is None:
        data.pop(key, None)
    else:
        data[key] = copy.deepcopy(value)


def _deletable(state: ChatState, stored: StoredMessage) -> bool:
    """Bots delete anything in private chats, only their own messages elsewhere (no admin)."""
    return state.chat["type"] == "private" or stored.sender == "bot"


def _reply_target(state: ChatState, reply: Mapping[str, Any] | None) -> JsonDict | None:
    if reply is None:
        return None
    if "chat_id" in reply and reply["chat_id"] != state.chat_id:
        raise NotImplementedInFake("replies across chats are not implemented")
    target = state.visible(reply["message_id"])
    if target is None:
        if reply.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    snapshot = copy.deepcopy(target.data)
    snapshot.pop("reply_to_message", None)
    return snapshot


__all__ = ["NOT_MODIFIED", "ApiError", "Methods", "NotImplementedInFake"]
