"""Test decoding and rendering of decrypted reports for admins (pure, no keys, no storage)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.admin.history import who_and_when
from bot.admin.view import (
    OpenedItem,
    OpenedReport,
    QueueRow,
    neutralise,
    render_queue,
    render_report,
)
from bot.answers import AnswersDocument, AnswersFormatError, decode_answers
from bot.i18n.translations import Translations
from bot.questions import NOTE_KIND, REPLY_KIND

SECRET = "SECRET-answer-text"


def document(**fields: object) -> bytes:
    base: dict[str, object] = {"v": 1, "locale": "ps", "month": "2026-11", "answers": {}}
    base.update(fields)
    return json.dumps(base, ensure_ascii=False).encode()


def report(answers: dict[str, str | tuple[str, ...]], *items: OpenedItem) -> OpenedReport:
    return OpenedReport(
        report_id="7K3M9Q2X1A",
        submitted_on=date(2026, 3, 21),
        urgent=False,
        status="claimed",
        answers=AnswersDocument(locale="ps", month="2026-03", answers=answers),
        items=items,
    )


def test_decode_reads_the_format_the_bot_wrote_before() -> None:
    decoded = decode_answers(
        document(answers={"incident": "false_job", "offered": ["money", "job"]})
    )
    assert decoded == AnswersDocument(
        locale="ps",
        month="2026-11",
        answers={"incident": "false_job", "offered": ("money", "job")},
        version=1,
    )
    assert decoded.item_ref("7K3M9Q2X1A", "narrative", 0).report_id == "7K3M9Q2X1A"


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe not utf-8",
        b"not json " + SECRET.encode(),
        json.dumps([SECRET]).encode(),
        document(v=2),
        document(v=True),
        document(answers=SECRET),
        document(answers={"incident": 7}),
        document(answers={"incident": [SECRET, 3]}),
        document(answers={"": "x"}),
        document(answers={"narrative": SECRET * 10}),
        document(month="2026-11-05"),
        document(locale=5),
    ],
)
def test_anything_else_is_refused_without_quoting_it(raw: bytes) -> None:
    with pytest.raises(AnswersFormatError) as caught:
        decode_answers(raw)
    assert SECRET not in str(caught.value)
    assert "2026-11-05" not in str(caught.value)


def test_neutralise_shows_controls_and_overrides_but_keeps_dari_joiners() -> None:
    assert neutralise("a\x1b[31mb") == "a<U+001B>[31mb"
    assert neutralise("x\u202ey\u2066z") == "x<U+202E>y<U+2066>z"
    assert neutralise("line\r\nnext") == "line<U+000D>\nnext"
    assert neutralise("\x9b1;2H") == "<U+009B>1;2H"
    assert neutralise("می\u200cخواهم\tok") == "می\u200cخواهم\tok"


def test_answers_follow_the_questionnaire_and_unknown_ones_come_last(
    translations: Translations,
) -> None:
    text = render_report(
        report(
            {
                "zz_new_question": "v2",
                "province": "herat",
                "incident": "exploitation",
                "offered": ("threat", "unknown_option", "unsaid"),
                "danger_now": "unsaid",
            }
        ),
        "en",
        translations,
    )
    lines = text.splitlines()
    order = [line.split(":")[0] for line in lines if ":" in line][5:]  # after the header
    assert order == [
        "In danger now",
        "What happened",
        "Province",
        "Offered or demanded",
        "zz_new_question",
    ]
    assert "In danger now: Not said" in text
    assert "Offered or demanded: Threats to me or my family, unknown_option, Not said" in text
    assert "Status: Being worked on" in text
    assert "Language of the reporter: پښتو" in text


def test_pashto_rendering_uses_pashto_labels_separators_and_calendar(
    translations: Translations,
) -> None:
    text = render_report(report({"offered": ("money", "job")}), "ps", translations)
    assert "۱ وری (حمل) ۱۴۰۵" in text  # 21 March 2026, Nowruz
    assert "، " in text
    assert "Money" not in text


def test_text_items_are_grouped_numbered_and_binary_ones_are_not_printed(
    translations: Translations,
) -> None:
    text = render_report(
        report(
            {"incident": "other"},
            OpenedItem("narrative", 1, b"second\nline two"),
            OpenedItem("narrative", 0, b"first"),
            OpenedItem("recruiter_contact", 0, b"@recruiter"),
            OpenedItem("voice", 0, b"\xff\xd8\xff\x00binary"),
        ),
        "en",
        translations,
    )
    assert text.index("Contact of that person:") < text.index("@recruiter")
    assert text.index("[1]") < text.index("first") < text.index("[2]") < text.index("second")
    assert "    line two" in text
    assert "voice:" in text
    assert "(a file of 10 bytes, not text; not shown)" in text
    assert "binary" not in text


def _file_meta(**extra: object) -> OpenedItem:
    meta = {"kind": "document", "question": "narrative", "size": 2048, **extra}
    return OpenedItem("attachment_meta", 0, json.dumps(meta, ensure_ascii=False).encode())


@pytest.mark.parametrize(
    ("locale", "caption_label", "name_label"),
    [
        ("en", "Words sent with it:", "File name:"),
        ("fa_AF", "متنی که همراه آن فرستاده شد:", "نام فایل:"),
        ("ps", "هغه متن چې ورسره واستول شو:", "د فایل نوم:"),
    ],
)
def test_a_files_caption_and_name_are_shown_neutralised_under_it(
    translations: Translations, locale: str, caption_label: str, name_label: str
) -> None:
    item = _file_meta(caption="پول زیاد\u202eگفتند\nline two", file_name="x\x1b[31m.pdf")
    text = render_report(report({}, item), locale, translations)
    assert caption_label in text
    assert name_label in text
    assert "\u202e" not in text
    assert "\x1b" not in text
    assert "<U+202E>" in text
    assert "<U+001B>" in text
    lines = text.splitlines()
    assert any(line.startswith("      ") and "line two" in line for line in lines)


def test_a_file_without_caption_or_name_shows_one_line(translations: Translations) -> None:
    text = render_report(report({}, _file_meta()), "en", translations)
    assert "Words sent with it" not in text
    assert "File name" not in text


def test_repr_of_opened_values_never_shows_content() -> None:
    item = OpenedItem("narrative", 0, SECRET.encode())
    assert SECRET not in repr(item)
    assert SECRET not in repr(report({"incident": "other"}, item))


def test_queue_columns_line_up_and_show_problems(translations: Translations) -> None:
    rows = [
        QueueRow("7K3M9Q2X1A", date(2026, 11, 25), True, "new", 3),
        QueueRow(
            "8H2N4P6R0B",
            date(2026, 11, 24),
            False,
            "closed",
            12,
            answers=AnswersDocument("en", "2026-11", {"incident": "false_job", "country": "TR"}),
        ),
        QueueRow("9J3P5Q7S2C", date(2026, 11, 23), False, "new", 2, problem="ALTERED: failed"),
    ]
    text = render_queue(rows, "en", translations, decrypted=True)
    lines = text.splitlines()
    assert len(lines) == 4
    column = lines[0].index("Report id")
    assert all(
        line[column : column + 10] in {"Report id ", *(r.report_id for r in rows)} for line in lines
    )
    assert lines[1].startswith("URGENT")
    assert "A job offer abroad that looked false" in lines[2]
    assert "Turkey" in lines[2]
    assert "Closed" in lines[2]
    assert "ALTERED: failed" in lines[3]
    assert render_queue([], "en", translations, decrypted=False) == "No reports.\n"


def test_notes_and_answers_are_matched_to_their_audit_entries_newest_first() -> None:
    """Notes written before the chain existed get no name; the chain's entries take the newest."""
    day1, day2, day3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
    entries = [("note", day2, "a" * 16), ("reply", day1, "b" * 16), ("note", day3, "c" * 16)]
    found = who_and_when(entries, {NOTE_KIND: [0, 1, 2], REPLY_KIND: [0]})
    assert found == {
        (NOTE_KIND, 1): (day2, "a" * 16),
        (NOTE_KIND, 2): (day3, "c" * 16),
        (REPLY_KIND, 0): (day1, "b" * 16),
    }
    assert who_and_when([], {NOTE_KIND: [0]}) == {}
    assert who_and_when(entries, {}) == {}
