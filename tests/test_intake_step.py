"""Test the pure intake flow directly: transitions, detours that lose nothing, and properties."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.intake.asking import answers_for_storage
from bot.intake.followup import CONSENT_QUESTION, NEED_CODE, WRITING_DONE
from bot.intake.step import step
from bot.intake.texts import (
    ANSWER_WITH_BUTTONS,
    NEVER_GIVE_CODE,
    REPORT_FULL,
    TRUE_BOT,
    VERIFICATION_PHRASE,
)
from bot.intake.values import (
    ANSWER_CONSENT,
    CONFIRM_CANCEL,
    EDIT_MENU,
    PICK_LANGUAGE,
    SUMMARY,
    WRITING,
    AnswerConsent,
    Attached,
    Button,
    Command,
    DeleteUserMessage,
    Draft,
    DropSealed,
    Edited,
    Env,
    Event,
    FileToTeam,
    FlowConfig,
    LookUpReceipt,
    Msg,
    Outcome,
    Pressed,
    RememberLanguage,
    Reply,
    SealAttachment,
    SealText,
    Sent,
    Submit,
    Typed,
    WipeChat,
    WriteToTeam,
)
from bot.questions import QUESTIONS, FreeText

ENV = Env(today=date(2026, 11, 25), fresh_draft_id="R1", language_hint=None)
CONFIG = FlowConfig(max_answer_chars=100, emergency_contacts=("Hotline +93 700 000 000",))


@dataclass
class Chat:
    """Drive the flow like a person: remember the last keyboard, collect effects."""

    draft: Draft = field(default_factory=Draft)
    last: tuple[Reply, ...] = ()
    keyboards: tuple[Reply, ...] = ()
    effects: list[object] = field(default_factory=list)
    config: FlowConfig = CONFIG

    def send(self, event: Event, env: Env = ENV) -> Outcome:
        outcome = step(self.draft, event, env, self.config)
        self.draft = outcome.draft
        self.last = outcome.replies
        if any(reply.keyboard for reply in outcome.replies):
            self.keyboards = outcome.replies
        self.effects.extend(outcome.effects)
        return outcome

    def buttons(self) -> list[Button]:
        """Return the buttons still on screen: those of the latest message that had any."""
        return [b for reply in self.keyboards for row in reply.keyboard for b in row]

    def press(self, predicate_data: str) -> Outcome:
        for button in self.buttons():
            if button.data.endswith(predicate_data) or button.data == predicate_data:
                return self.send(Pressed(button.data))
        raise AssertionError(f"no button {predicate_data!r} in {[b.data for b in self.buttons()]}")

    def msgids(self) -> list[str]:
        return [part.msgid for reply in self.last for part in reply.parts]


def english_chat() -> Chat:
    chat = Chat()
    chat.send(Command("start"))
    chat.press("l:en")
    return chat


def test_start_without_language_shows_picker_in_all_three_languages() -> None:
    chat = Chat()
    outcome = chat.send(Command("start"))
    assert chat.draft.position == PICK_LANGUAGE
    locales = {part.locale for part in outcome.replies[0].parts}
    assert locales == {"fa_AF", "ps", "en"}
    assert [b.data for b in chat.buttons()] == ["l:fa_AF", "l:ps", "l:en"]


def test_a_deep_link_skips_the_picker_but_telegrams_language_does_not() -> None:
    """Telegram's apps have no Dari or Pashto: its language code is no choice."""
    assert Chat().send(Command("start", "ps")).draft.locale == "ps"
    hinted = Env(today=ENV.today, fresh_draft_id="R1", language_hint="fa_AF")
    outcome = Chat().send(Command("start"), hinted)
    assert outcome.draft.locale is None
    assert outcome.draft.position == PICK_LANGUAGE
    assert [b.data for b in outcome.replies[-1].keyboard[0]] == ["l:fa_AF"]
    typed = Chat().send(Typed("salam"), hinted)
    assert typed.draft.locale is None


@pytest.mark.parametrize("name", ["status", "cancel", "help", "safety"])
def test_a_first_command_is_carried_out_then_the_picker_follows(name: str) -> None:
    hinted = Env(today=ENV.today, fresh_draft_id="R1", language_hint="ps")
    argument = "1234-5678-9012-3456-7890" if name == "status" else ""
    outcome = Chat().send(Command(name, argument), hinted)
    assert outcome.draft.position == PICK_LANGUAGE
    assert any(b.data.startswith("l:") for row in outcome.replies[-1].keyboard for b in row)
    if name == "status":
        assert LookUpReceipt("1234-5678-9012-3456-7890") in outcome.effects
    else:
        assert len(outcome.replies) >= 2  # the command's own answer, then the picker


@pytest.mark.parametrize(
    ("typed", "locale"),
    [
        ("1", "fa_AF"),
        ("۱", "fa_AF"),
        ("دری", "fa_AF"),
        ("دري", "fa_AF"),
        ("۲", "ps"),
        ("پښتو", "ps"),
        ("pashto", "ps"),
        ("3", "en"),
        ("English", "en"),
    ],
)
def test_a_language_typed_at_the_picker_is_chosen(typed: str, locale: str) -> None:
    """People type instead of pressing: a number or a name must not get the picker again."""
    chat = Chat()
    chat.send(Command("start"))
    outcome = chat.send(Typed(typed))
    assert outcome.draft.locale == locale
    assert RememberLanguage(locale) in outcome.effects
    assert _identity(outcome.replies)  # the welcome, not the picker


def test_a_language_typed_mid_report_returns_to_the_question() -> None:
    chat = english_chat()
    chat.press("m:report")
    asked = chat.draft.position
    chat.send(Command("language"))
    assert chat.send(Typed("nonsense")).draft.position == PICK_LANGUAGE
    outcome = chat.send(Typed("پښتو"))
    assert (outcome.draft.locale, outcome.draft.position) == ("ps", asked)


def test_wipe_as_the_first_message_wipes_at_once() -> None:
    outcome = Chat().send(Command("wipe"))
    assert WipeChat() in outcome.effects


def answer_everything(chat: Chat) -> None:
    """Answer every question with the first option / a typed text, like a hurried reporter."""
    chat.press("m:report")
    guard = 0
    while chat.draft.position != SUMMARY:
        guard += 1
        assert guard < 40, chat.draft.position
        question = next(q for q in QUESTIONS if q.id == chat.draft.position)
        if isinstance(question, FreeText):
            chat.send(Typed(f"text for {question.id}"))
            if question.many:
                chat.press(":d:")
        elif question.id == "offered":
            chat.press(":t:money")
            chat.press(":t:papers")
            chat.press(":d:")
        elif question.id == "country":
            chat.press(":a:AF")
        else:
            chat.press(chat.buttons()[0].data)


def test_full_report_by_buttons_reaches_summary_then_submit() -> None:
    chat = english_chat()
    answer_everything(chat)
    assert chat.draft.answers["country"] == "AF"
    assert chat.draft.answers["province"] == "badakhshan"
    assert chat.draft.answers["offered"] == ("money", "papers")
    seals = [e for e in chat.effects if isinstance(e, SealText)]
    assert [(s.kind, s.index) for s in seals] == [("recruiter_contact", 0), ("narrative", 0)]
    outcome = chat.press(":send:")
    assert outcome.effects == (Submit(),)
    stored = answers_for_storage(chat.draft)
    assert "recruiter_contact" not in stored
    assert stored["danger_now"] == "yes"


def test_danger_shows_emergency_contacts_first() -> None:
    chat = english_chat()
    chat.press("m:report")
    outcome = chat.press(":a:yes")
    texts = [p for r in outcome.replies for p in r.parts]
    assert any(p.params == (("contact", "Hotline +93 700 000 000"),) for p in texts)
    assert chat.draft.position == "incident"


def test_province_only_for_afghanistan_and_iran_and_pruned_on_change() -> None:
    chat = english_chat()
    chat.press("m:report")
    chat.press(":a:no")
    chat.press(":a:recruit_armed")
    chat.press(":a:PK")
    assert chat.draft.position == "when"
    assert "province" not in chat.draft.answers


def test_typed_numbers_in_any_digits_answer_choices() -> None:
    chat = english_chat()
    chat.press("m:report")
    chat.send(Typed("۲"))  # Persian two: "No"
    assert chat.draft.answers["danger_now"] == "no"
    chat.send(Typed("3"))
    assert chat.draft.answers["incident"] == "taliban_threat"


def test_unknown_text_at_choice_asks_again_and_keeps_answers() -> None:
    chat = english_chat()
    chat.press("m:report")
    chat.press(":a:no")
    before = dict(chat.draft.answers)
    chat.send(Typed("banana"))
    assert dict(chat.draft.answers) == before
    assert chat.draft.position == "incident"
    assert chat.buttons(), "the question is shown again with its buttons"


def test_stale_button_is_refused_and_current_question_shown_again() -> None:
    chat = english_chat()
    chat.press("m:report")
    old_buttons = chat.buttons()
    chat.press(":a:no")
    chat.send(Pressed(old_buttons[0].data))
    assert chat.draft.answers["danger_now"] == "no"
    assert chat.draft.position == "incident"
    assert "That button is from an older message. Here is where we are now:" in chat.msgids()


def test_help_language_and_media_mid_flow_lose_nothing() -> None:
    chat = english_chat()
    chat.press("m:report")
    chat.press(":a:no")
    before = (dict(chat.draft.answers), chat.draft.position, chat.draft.draft_id)
    for event in (Command("help"), Command("safety"), Sent("sticker"), Sent("voice"), Edited()):
        chat.send(event)
        assert (dict(chat.draft.answers), chat.draft.position, chat.draft.draft_id) == before
    chat.send(Command("language"))
    assert chat.draft.position == PICK_LANGUAGE
    chat.press("l:ps")
    assert chat.draft.locale == "ps"
    assert (dict(chat.draft.answers), chat.draft.position) == before[:2]


def test_location_is_deleted_from_chat() -> None:
    chat = english_chat()
    outcome = chat.send(Sent("location"))
    assert any(type(e).__name__ == "DeleteUserMessage" for e in outcome.effects)


def test_cancel_asks_first_then_deletes_sealed_answers() -> None:
    chat = english_chat()
    chat.press("m:report")
    chat.press(":a:no")
    chat.send(Command("cancel"))
    assert chat.draft.position == CONFIRM_CANCEL
    chat.press(":x:no")
    assert chat.draft.position == "incident"
    chat.send(Command("cancel"))
    outcome = chat.press(":x:yes")
    assert not chat.draft.in_report
    assert DropSealed("narrative") in outcome.effects


def test_too_long_text_is_refused_and_not_sealed() -> None:
    chat = english_chat()
    answer_until(chat, "recruiter_contact")
    outcome = chat.send(Typed("x" * 101))
    assert not outcome.effects
    assert chat.draft.position == "recruiter_contact"


def answer_until(chat: Chat, target: str) -> None:
    chat.press("m:report")
    while chat.draft.position != target:
        if chat.draft.position == "offered":
            chat.press(":t:money")
            chat.press(":d:")
        else:
            chat.press(chat.buttons()[0].data)


def test_change_an_answer_from_summary_returns_to_summary() -> None:
    chat = english_chat()
    answer_everything(chat)
    chat.press(":edit:")
    chat.press(":e:country")
    chat.press(":a:IR")
    # Iran needs a province again: the flow asks it, then returns to the summary.
    assert chat.draft.position == "province"
    chat.press(":a:tehran")
    assert chat.draft.position == SUMMARY
    assert chat.draft.answers["province"] == "tehran"


def test_multi_choice_toggles_and_requires_one() -> None:
    chat = english_chat()
    answer_until(chat, "offered")
    chat.press(":d:")
    assert chat.draft.position == "offered"
    chat.press(":t:money")
    chat.press(":t:money")
    assert chat.draft.selection == ()
    chat.press(":t:unsaid")
    chat.press(":d:")
    assert chat.draft.answers["offered"] == ("unsaid",)


def test_narrative_takes_several_messages() -> None:
    chat = english_chat()
    answer_until(chat, "recruiter_contact")
    chat.press(":s:")
    chat.press(chat.buttons()[0].data)  # former forces
    chat.send(Typed("one"))
    chat.send(Typed("two"))
    seals = [e for e in chat.effects if isinstance(e, SealText)]
    assert [(s.kind, s.index) for s in seals] == [("narrative", 0), ("narrative", 1)]
    chat.press(":d:")
    assert chat.draft.position == "consent_statistics"


def test_draft_json_round_trip() -> None:
    chat = english_chat()
    answer_everything(chat)
    assert Draft.from_json(chat.draft.to_json()) == chat.draft


def test_every_button_fits_telegram_callback_limit() -> None:
    chat = english_chat()
    answer_everything(chat)
    # Walk a second time collecting every keyboard along the way.
    chat = english_chat()
    seen: list[Button] = []
    chat.press("m:report")
    while chat.draft.position != SUMMARY:
        seen.extend(chat.buttons())
        answer_step(chat)
    assert seen
    assert all(len(b.data.encode()) <= 64 for b in seen)


def answer_step(chat: Chat) -> None:
    question = next(q for q in QUESTIONS if q.id == chat.draft.position)
    if isinstance(question, FreeText):
        chat.press(":s:")
    elif question.id == "offered":
        chat.press(":t:money")
        chat.press(":d:")
    else:
        chat.press(chat.buttons()[0].data)


def test_voice_notes_and_files_are_kept_where_a_story_is_asked() -> None:
    chat = english_chat()
    answer_until(chat, "recruiter_contact")
    outcome = chat.send(Attached("photo", "file-1", 50_000))
    assert outcome.effects == (SealAttachment("recruiter_contact", 0, "photo", "file-1", 50_000),)
    assert chat.draft.answers["recruiter_contact"] == "given"
    chat.press(chat.buttons()[0].data)  # former forces
    assert chat.draft.position == "narrative"
    outcome = chat.send(Attached("voice", "file-2", 9_000))
    assert outcome.effects == (SealAttachment("narrative", 1, "voice", "file-2", 9_000),)
    chat.press(":d:")  # a voice note alone is enough to press Done
    assert chat.draft.position == "consent_statistics"


def test_a_caption_and_file_name_travel_with_the_file_and_stay_out_of_reprs() -> None:
    chat = english_chat()
    answer_until(chat, "recruiter_contact")
    while chat.draft.position != "narrative":
        answer_step(chat)
    event = Attached("document", "f", 900, caption="  They came at night.  ", file_name="a.pdf")
    outcome = chat.send(event)
    [effect] = outcome.effects
    assert isinstance(effect, SealAttachment)
    assert (effect.caption, effect.file_name) == ("They came at night.", "a.pdf")
    for shown in (repr(event), repr(effect), repr(outcome)):
        assert "came at night" not in shown
        assert "a.pdf" not in shown
    assert "secret words" not in repr(Typed("secret words"))


def _at_the_story(config: FlowConfig) -> Chat:
    chat = Chat(config=config)
    chat.send(Command("start"))
    chat.press("l:en")
    answer_until(chat, "recruiter_contact")
    while chat.draft.position != "narrative":
        answer_step(chat)
    return chat


@pytest.mark.parametrize(
    ("limits", "sizes"),
    [
        ({"max_files_per_report": 2}, [10, 10, 10]),
        ({"max_report_file_bytes": 3 * 1024 * 1024}, [2 * 1024 * 1024, 1024 * 1024, 1]),
    ],
)
def test_a_full_report_refuses_more_files_and_says_why(
    limits: dict[str, int], sizes: list[int]
) -> None:
    chat = _at_the_story(replace(CONFIG, **limits))
    for number, size in enumerate(sizes[:2]):
        [effect] = chat.send(Attached("voice", f"f{number}", size)).effects
        assert isinstance(effect, SealAttachment)
    before = chat.draft
    refused = chat.send(Attached("voice", "one-too-many", sizes[2]))
    assert not refused.effects
    assert chat.draft == before
    [reply] = refused.replies
    assert reply.parts[0].msgid == REPORT_FULL
    assert chat.send(Typed("still typing")).effects, "text is still taken"


def test_a_file_index_is_never_reused_after_files_are_dropped() -> None:
    """Skipping drops a question's files; a later file must not take a kept file's index."""
    chat = _at_the_story(CONFIG)
    chat.send(Attached("voice", "a", 10))
    chat.send(Attached("voice", "b", 10))
    chat.press(":d:")
    while chat.draft.position != SUMMARY:
        answer_step(chat)
    chat.press(":edit:")
    chat.press(":e:narrative")
    skipped = chat.press(":s:")  # the story is skipped now: both files are dropped
    assert DropSealed("narrative") in skipped.effects
    assert chat.draft.position == SUMMARY
    chat.press(":edit:")
    chat.press(":e:narrative")
    [first] = chat.send(Attached("voice", "c", 10)).effects
    [second] = chat.send(Attached("photo", "d", 10)).effects
    assert isinstance(first, SealAttachment)
    assert isinstance(second, SealAttachment)
    assert (first.index, second.index) == (2, 3)
    assert Draft.from_json(chat.draft.to_json()) == chat.draft


def test_a_file_too_big_is_refused_and_nothing_kept() -> None:
    chat = english_chat()
    answer_until(chat, "recruiter_contact")
    outcome = chat.send(Attached("video", "big", CONFIG.max_attachment_bytes + 1))
    assert not outcome.effects
    assert chat.draft.position == "recruiter_contact"


def test_a_file_during_a_choice_question_is_answered_and_loses_nothing() -> None:
    chat = english_chat()
    chat.press("m:report")
    chat.press(":a:no")
    before = dict(chat.draft.answers)
    outcome = chat.send(Attached("voice", "v", 100))
    assert not outcome.effects
    assert dict(chat.draft.answers) == before
    assert chat.draft.position == "incident"


def test_every_free_text_prompt_offers_a_voice_note() -> None:
    chat = english_chat()
    answer_until(chat, "recruiter_contact")
    assert any("voice note" in m for m in chat.msgids())


# ------------------------------------------------------------------- properties

SAFE_COMMANDS = ("help", "safety", "wipe", "status", "nonsense")


@st.composite
def events(draw: st.DrawFn) -> list[tuple[str, object]]:
    kinds = st.one_of(
        st.tuples(st.just("press_visible"), st.integers(0, 40)),
        st.tuples(st.just("press_raw"), st.text(max_size=70)),
        st.tuples(st.just("type"), st.text(max_size=150)),
        st.tuples(
            st.just("command"),
            st.sampled_from(("start", "report", "cancel", "language", *SAFE_COMMANDS)),
        ),
        st.tuples(
            st.just("sent"),
            st.sampled_from(("sticker", "photo", "voice", "location", "contact", "other")),
        ),
        st.tuples(st.just("edited"), st.none()),
        st.tuples(st.just("attached"), st.integers(0, 30_000_000)),
    )
    return draw(st.lists(kinds, max_size=60))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_random_events_never_crash_and_never_lose_answers(script: list[tuple[str, object]]) -> None:
    chat = Chat()
    for step_number, (kind, value) in enumerate(script):
        before = chat.draft
        if kind == "press_visible":
            buttons = chat.buttons()
            event: Event = Pressed(buttons[int(value) % len(buttons)].data) if buttons else Edited()  # type: ignore[call-overload]
        elif kind == "press_raw":
            event = Pressed(str(value))
        elif kind == "type":
            event = Typed(str(value))
        elif kind == "command":
            event = Command(str(value))
        elif kind == "sent":
            event = Sent(str(value))
        elif kind == "attached":
            event = Attached("voice", "file", int(value))  # type: ignore[call-overload]
        else:
            event = Edited()
        # A fresh id each step, as the service draws one: a restart is a new report. (It was
        # built from id(event), which Python reuses once an event is freed: two reports then
        # shared an id, and a restart looked like answers lost inside one report.)
        outcome = chat.send(event, Env(ENV.today, f"R{step_number}"))
        # Every input is answered.
        assert outcome.replies or outcome.effects
        for reply in outcome.replies:
            assert all(isinstance(p, Msg) for p in reply.parts)
        # Detours never touch the answers or the report.
        if isinstance(event, Sent | Edited | Attached) and not any(
            isinstance(e, SealAttachment) for e in outcome.effects
        ):
            assert chat.draft.answers == before.answers
        if isinstance(event, Sent | Edited) or (
            isinstance(event, Command) and event.name in SAFE_COMMANDS
        ):
            assert chat.draft.answers == before.answers
            assert chat.draft.draft_id == before.draft_id
        # Answers disappear only by an explicit cancel, restart or a changed country.
        lost = set(before.answers) - set(chat.draft.answers)
        if lost and chat.draft.draft_id == before.draft_id:
            assert lost <= {"province", "destination"}, lost
        # Sealed text is only ever produced inside a report, bound to it.
        for effect in outcome.effects:
            if isinstance(effect, SealText):
                assert chat.draft.draft_id is not None


def test_the_welcome_says_honestly_that_telegram_is_not_private() -> None:
    outcome = Chat().send(Command("start", "en"))
    shown = [part.msgid for reply in outcome.replies for part in reply.parts]
    assert any("Telegram itself is not fully private" in msgid for msgid in shown)


TRUE_NAME = FlowConfig(bot_username="@AmanatReportBot", verification_phrase="the river runs east")


def _identity(replies: tuple[Reply, ...]) -> list[tuple[str, tuple[tuple[str, object], ...]]]:
    wanted = (TRUE_BOT, VERIFICATION_PHRASE, NEVER_GIVE_CODE)
    return [(p.msgid, p.params) for reply in replies for p in reply.parts if p.msgid in wanted]


def test_start_and_safety_name_the_true_bot_its_phrase_and_never_to_give_the_code() -> None:
    """Impostor bots collect codes: the real name and phrase are said where people look."""
    expected = [
        (TRUE_BOT, (("username", "@AmanatReportBot"),)),
        (VERIFICATION_PHRASE, (("phrase", "the river runs east"),)),
        (NEVER_GIVE_CODE, ()),
    ]
    chat = Chat(config=TRUE_NAME)
    chat.send(Command("start"))  # the picker first ...
    assert _identity(chat.press("l:ps").replies) == expected  # ... then the welcome says it
    assert _identity(chat.send(Command("start")).replies) == expected
    assert _identity(chat.send(Command("safety")).replies) == expected
    assert _identity(chat.press("m:safety").replies) == expected
    first_contact = Chat(config=TRUE_NAME).send(Command("safety"))
    assert _identity(first_contact.replies) == expected
    # Not on every return to the menu: it would become noise nobody reads.
    chat.send(Command("report"))
    assert _identity(chat.send(Command("cancel")).replies) == []


def test_without_a_true_name_the_warning_about_the_code_still_stands() -> None:
    chat = english_chat()
    assert _identity(chat.last) == [(NEVER_GIVE_CODE, ())]
    assert _identity(chat.send(Command("safety")).replies) == [(NEVER_GIVE_CODE, ())]


UNLOCKED = replace(ENV, unlocked=True)


def test_writing_to_the_team_sends_each_message_on_and_ends_with_done() -> None:
    chat = english_chat()
    assert chat.send(Pressed("m:write")).replies[0].parts[0].msgid == NEED_CODE
    chat.send(Pressed("m:write"), UNLOCKED)
    assert chat.draft.position == WRITING
    sent = chat.send(Typed("  more I remember  "), UNLOCKED)
    assert sent.effects == (WriteToTeam("more I remember"),)
    assert sent.replies == ()  # the service confirms only once it is stored
    too_long = chat.send(Typed("x" * 101), UNLOCKED)
    assert too_long.effects == ()
    voice = chat.send(Attached("voice", "f1", 10, caption=" it "), UNLOCKED)
    assert voice.effects == (FileToTeam("voice", "f1", 10, caption="it"),)
    placed = chat.send(Sent("location"), UNLOCKED)
    assert placed.effects == (DeleteUserMessage(),)
    expired = chat.send(Typed("after the hour"), ENV)  # the hour ran out meanwhile
    assert expired.effects == ()
    assert chat.msgids() == [NEED_CODE]
    assert chat.draft.position != WRITING


def test_cancel_or_done_stop_writing_and_nothing_more_is_sent() -> None:
    for stop in (Command("cancel"), Pressed("w:done")):
        chat = english_chat()
        chat.send(Pressed("m:write"), UNLOCKED)
        chat.send(stop, UNLOCKED)
        assert chat.msgids()[0] == WRITING_DONE
        assert chat.send(Typed("hello"), UNLOCKED).effects == ()


def test_the_answer_to_sharing_is_a_button_or_a_word_and_needs_the_code() -> None:
    chat = english_chat()
    assert chat.send(Pressed("c:yes"), ENV).effects == ()
    assert chat.send(Pressed("c:no"), UNLOCKED).effects == (AnswerConsent(False),)
    chat.draft = replace(chat.draft, position=ANSWER_CONSENT)
    unclear = chat.send(Typed("perhaps"), UNLOCKED)
    assert unclear.effects == ()
    assert chat.msgids() == [ANSWER_WITH_BUTTONS, CONSENT_QUESTION]
    matching = replace(CONFIG, match_option=lambda options, text: "yes" if text == "Yes" else None)
    chat.config = matching
    assert chat.send(Typed("Yes"), UNLOCKED).effects == (AnswerConsent(True),)
    assert chat.draft.position != ANSWER_CONSENT


def progress(chat: Chat) -> tuple[int, int]:
    """Read "Question N of M" from the question on screen."""
    part = next(p for r in chat.last for p in r.parts if p.msgid == "Question {number} of {total}")
    params = dict(part.params)
    return int(params["number"]), int(params["total"])  # type: ignore[call-overload]


@pytest.mark.parametrize("country", ["AF", "other"])
def test_question_numbers_count_up_by_one_and_the_total_never_grows(country: str) -> None:
    chat = english_chat()
    chat.press("m:report")
    seen: list[tuple[int, int]] = []
    while chat.draft.position != SUMMARY:
        seen.append(progress(chat))
        question = next(q for q in QUESTIONS if q.id == chat.draft.position)
        if isinstance(question, FreeText):
            chat.press(":s:")
        elif question.id == "offered":
            chat.press(":t:money")
            chat.press(":d:")
        elif question.id == "country":
            chat.press(f":a:{country}")
        else:
            chat.press(chat.buttons()[0].data)
    numbers = [number for number, _ in seen]
    totals = [total for _, total in seen]
    assert numbers == list(range(1, len(seen) + 1))
    assert all(later <= earlier for earlier, later in itertools.pairwise(totals))
    assert totals[-1] == len(seen)  # the last question is "N of N"


def test_a_question_reached_from_change_an_answer_has_back_and_back_changes_nothing() -> None:
    chat = english_chat()
    answer_everything(chat)
    when = chat.draft.answers["when"]
    chat.press(":edit:")
    chat.press(":e:when")
    assert any(b.data.endswith(":b:") for b in chat.buttons())
    chat.press(":b:")
    assert chat.draft.position == EDIT_MENU
    assert chat.draft.answers["when"] == when
    chat.press(":e:offered")
    chat.press(":t:money")  # untick, then go back: the answer stays as it was
    chat.press(":b:")
    assert chat.draft.answers["offered"] == ("money", "papers")


def test_the_story_shows_done_from_the_start_and_done_alone_skips() -> None:
    chat = _at_the_story(CONFIG)
    assert any(b.data.endswith(":d:") for b in chat.buttons())
    chat.press(":d:")
    assert chat.draft.answers["narrative"] == "skipped"


def test_cancel_twice_then_continue_returns_to_the_question() -> None:
    chat = english_chat()
    answer_until(chat, "party")
    chat.send(Command("cancel"))
    chat.send(Command("cancel"))
    chat.press(":no")
    assert chat.draft.position == "party"
    assert progress(chat)[0] > 1
