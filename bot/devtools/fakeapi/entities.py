"""Own how the fake Bot API turns formatted text into the plain text a user sees.

Telegram counts the 4096/1024 character limits after entity parsing and rejects text whose
markup does not parse ("can't parse entities"). This module reproduces the parts of that
behaviour a bot can trip over: HTML tags and entities, MarkdownV2 reserved characters and
unclosed entities, legacy Markdown's unclosed entities. It must never be lenient where Telegram
is strict, and it never sees anything but the text handed to it.
"""

from __future__ import annotations

import re

HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "tg-time",
        "code",
        "pre",
        "blockquote",
    }
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")


class EntityParseError(ValueError):
    """The text's markup is what Telegram would refuse; the message is Telegram's wording."""


def plain_text(text: str, parse_mode: str | None) -> str:
    """Return the text after entity parsing; raise EntityParseError where Telegram would."""
    if parse_mode is None or parse_mode == "":
        return text
    mode = parse_mode.lower()
    if mode == "html":
        return _html(text)
    if mode == "markdownv2":
        return _markdown_v2(text)
    if mode == "markdown":
        return _markdown_legacy(text)
    raise EntityParseError("unsupported parse_mode")


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _html(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            match = _HTML_ENTITY.match(text, i)
            decoded = _decode_entity(match) if match else None
            if match and decoded is not None:
                out.append(decoded)
                i = match.end()
                continue
            out.append(char)
            i += 1
            continue
        if char != "<":
            out.append(char)
            i += 1
            continue
        i = _html_tag(text, i, stack)
    if stack:
        name, _ = stack[-1]
        raise EntityParseError(f'can\'t find end tag corresponding to start tag "{name}"')
    return "".join(out)


def _decode_entity(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = match.groups()
    if decimal is not None or hexadecimal is not None:
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        return chr(code) if 0 < code <= 0x10FFFF else None
    return _NAMED_ENTITIES.get(name)


def _html_tag(text: str, start: int, stack: list[tuple[str, int]]) -> int:
    """Consume one tag at ``start`` (a '<'); return the index after it."""
    closing = text.startswith("</", start)
    name_at = start + (2 if closing else 1)
    match = _TAG_NAME.match(text, name_at)
    if match is None:
        raise EntityParseError(
            f"unexpected end of name token at byte offset {_offset(text, name_at)}"
        )
    name = match.group(0).lower()
    end = _tag_end(text, match.end())
    if end < 0:
        raise EntityParseError(f"unclosed start tag at byte offset {_offset(text, start)}")
    if closing:
        if not stack:
            raise EntityParseError(
                f'unexpected end tag at byte offset {_offset(text, start)}: "</{name}>"'
            )
        expected, _ = stack.pop()
        if expected != name:
            raise EntityParseError(
                f"unmatched end tag at byte offset {_offset(text, start)}, "
                f'expected "</{expected}>", found "</{name}>"'
            )
        return end + 1
    if name not in HTML_TAGS:
        raise EntityParseError(
            f'unsupported start tag "{name}" at byte offset {_offset(text, start)}'
        )
    attributes = text[match.end() : end]
    if name == "span" and "tg-spoiler" not in attributes:
        raise EntityParseError(
            f'unsupported start tag "span" at byte offset {_offset(text, start)}'
        )
    stack.append((name, start))
    return end + 1


def _tag_end(text: str, index: int) -> int:
    """Find the '>' that closes a tag, skipping quoted attribute values."""
    quote: str | None = None
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == ">":
            return index
        elif char == "<":
            return -1
        index += 1
    return -1


_V2_MARKERS = ("||", "__", "*", "_", "~")
_V2_NAMES = {"||": "Spoiler", "__": "Underline", "*": "Bold", "_": "Italic", "~": "Strikethrough"}


def _markdown_v2(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    line_start = True
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
                out.append(text[i + 1])
                i += 2
                line_start = False
                continue
            raise EntityParseError(
                f"character '\\' is reserved and must be escaped with the preceding '\\'"
                f" at byte offset {_offset(text, i)}"
            )
        if char == "`":
            i = _v2_code(text, i, out)
            line_start = False
            continue
        marker = next((m for m in _V2_MARKERS if text.startswith(m, i)), None)
        if marker is not None:
            if stack and stack[-1][0] == marker:
                stack.pop()
            elif any(open_marker == marker for open_marker, _ in stack):
                raise EntityParseError(
                    f"can't find end of {_V2_NAMES[stack[-1][0]]} entity at byte offset "
                    f"{_offset(text, stack[-1][1])}"
                )
            else:
                stack.append((marker, i))
            i += len(marker)
            line_start = False
            continue
        if char == "[" or (char == "!" and text.startswith("![", i)):
            i = _v2_link(text, i, out)
            line_start = False
            continue
        if char == ">" and line_start:
            i += 1
            line_start = False
            continue
        if char == "\n":
            line_start = True
            out.append(char)
            i += 1
            continue
        if char in MARKDOWN_V2_RESERVED:
            raise EntityParseError(
                f"character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(char)
        line_start = False
        i += 1
    if stack:
        marker, at = stack[-1]
        raise EntityParseError(
            f"can't find end of {_V2_NAMES[marker]} entity at byte offset {_offset(text, at)}"
        )
    return "".join(out)


def _v2_code(text: str, start: int, out: list[str]) -> int:
    fence = "```" if text.startswith("```", start) else "`"
    i = start + len(fence)
    if fence == "```":
        newline = text.find("\n", i)
        language = text[i:newline] if newline >= 0 else ""
        if newline >= 0 and re.fullmatch(r"[A-Za-z0-9_+-]*", language):
            i = newline + 1
    body: list[str] = []
    while i < len(text):
        if text.startswith(fence, i):
            out.extend(body)
            return i + len(fence)
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "`\\":
            body.append(text[i + 1])
            i += 2
            continue
        body.append(text[i])
        i += 1
    kind = "Pre" if fence == "```" else "Code"
    raise EntityParseError(f"can't find end of {kind} entity at byte offset {_offset(text, start)}")


def _v2_link(text: str, start: int, out: list[str]) -> int:
    """Consume ``[label](url)`` or ``![emoji](tg://emoji?id=...)``; the label keeps markup."""
    open_at = start + (2 if text[start] == "!" else 1)
    close = _unescaped(text, open_at, "]")
    if close < 0 or not text.startswith("(", close + 1):
        raise EntityParseError(
            f"can't find end of a url for TextUrl entity at byte offset {_offset(text, start)}"
        )
    url_end = _unescaped(text, close + 2, ")")
    if url_end < 0:
        raise EntityParseError(
            f"can't find end of a url for TextUrl entity at byte offset {_offset(text, start)}"
        )
    out.append(_markdown_v2(text[open_at:close]))
    return url_end + 1


def _unescaped(text: str, index: int, wanted: str) -> int:
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == wanted:
            return index
        index += 1
    return -1


def _markdown_legacy(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if char in "_*`":
            fence = "```" if text.startswith("```", i) else char
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise EntityParseError(
                    f"can't find end of the entity starting at byte offset {_offset(text, i)}"
                )
            out.append(text[i + len(fence) : end])
            i = end + len(fence)
            continue
        if char == "[":
            close = text.find("](", i)
            end = text.find(")", close + 2) if close >= 0 else -1
            if end < 0:
                raise EntityParseError(
                    f"can't find end of the entity starting at byte offset {_offset(text, i)}"
                )
            out.append(text[i + 1 : close])
            i = end + 1
            continue
        out.append(char)
        i += 1
    return "".join(out)
