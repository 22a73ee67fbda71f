"""Test sharing a case with a partner: the reporter's recorded yes, the team's words only.

The partner's side is ``pyrage`` (``rage``), as a partner would use the ``age`` tool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest
from typer.testing import CliRunner

from bot.answers import AnswersDocument
from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.i18n.translations import Translations
from bot.intake.followup_store import FollowupStore, Stored
from bot.partners.routing import RoutingRefused, check_consent, render_case
from bot.questions import CONSENT_KIND
from bot.settings import Partner, Settings
from storage.audit import AuditRepository
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head
from storage.records import NewReport
from storage.repositories import ReportRepository
from tests.api_support import admin_laptop, api_in_a_thread
from tests.test_cli import CANARIES, REPORT_A, REPORT_B, sealed_report

FAST_N = 2**10
PASSPHRASE = "correct horse battery staple"
SUMMARY = "A man in Herat offered money to fight abroad; the reporter refused."


@dataclass
class Team:
    """A database with two reports, one partner, and the admin's command line.

    ``laptop`` is what the admin's commands read: the server's own settings (the database
    path), or settings naming the admin API and a database that does not exist (the API path).
    """

    settings: Settings
    key_file: Path
    partner: pyrage.x25519.Identity

    sealer: AdminSealer
    laptop: Settings

    def route(self, report_id: str, summary: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
        return self.admin(
            "route", report_id, "--partner", "herat-aid", "--summary", str(summary),
            "--to", str(out), *extra,
        )  # fmt: skip

    def admin(self, *args: str):  # type: ignore[no-untyped-def]
        config = CliConfig(load_settings=lambda: self.laptop, scrypt_n=FAST_N)
        return CliRunner().invoke(
            create_app(config),
            ["admin", *args, "--key", str(self.key_file)],
            env={PASSPHRASE_ENV: PASSPHRASE},
        )

    def reporter_answers(self, report_id: str, agreed: bool) -> Stored:
        """Answer as the intake does once the reporter pressed yes or no with their code."""

        async def go() -> Stored:
            engine = create_engine(self.settings.database_url)
            try:
                store = FollowupStore(session_factory(engine), self.sealer)
                return await store.answer_consent(report_id, agreed)
            finally:
                await engine.dispose()

        return asyncio.run(go())

    def audit(self) -> list[tuple[str, str]]:
        async def go() -> list[tuple[str, str]]:
            engine = create_engine(self.settings.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as session:
                    return [(e.action, e.subject) for e in await AuditRepository(session).entries()]
            finally:
                await engine.dispose()

        return asyncio.run(go())


def _store(settings: Settings, *reports: NewReport) -> None:
    async def go() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                for report in reports:
                    await ReportRepository(session).add(report)
        finally:
            await engine.dispose()

    asyncio.run(go())


@pytest.fixture(params=["database", "api"])
def team(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
) -> Iterator[Team]:
    partner = pyrage.x25519.Identity.generate()
    settings = make_settings(
        partners=(
            Partner(name="herat-aid", language="fa_AF", age_recipients=(str(partner.to_public()),)),
        )
    )
    upgrade_to_head(settings.database_url)
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(PASSPHRASE, scrypt_n=FAST_N))
    sealer = AdminSealer([admin_key.public_key()])
    answers = {"incident": "recruit_armed", "country": "AF", "province": "herat"}
    _store(
        settings,
        sealed_report(
            REPORT_A, sealer, **answers, consent_referral="yes", notify_replies="yes",
            consent_statistics="no",
        ),
        sealed_report(REPORT_B, sealer, **answers, consent_referral="no"),
    )  # fmt: skip
    if request.param == "database":
        yield Team(settings, key_file, partner, sealer, settings)
        return
    with api_in_a_thread(settings) as (url, _):
        yield Team(settings, key_file, partner, sealer, admin_laptop(settings, url, tmp_path))


def test_a_case_goes_only_after_the_reporters_recorded_yes_and_holds_only_the_teams_words(
    team: Team, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.txt"
    summary.write_text(SUMMARY, encoding="utf-8")
    out = tmp_path / "outbox"
    not_asked = team.route(REPORT_A, summary, out)
    assert not_asked.exit_code == 1
    assert "ask-consent" in not_asked.output
    assert team.reporter_answers(REPORT_A, True) is Stored.NO_QUESTION  # nobody asked

    asked = team.admin("ask-consent", REPORT_A)
    assert asked.exit_code == 0, asked.output
    again = team.admin("ask-consent", REPORT_A)
    assert "already waiting" in again.output
    waiting = team.route(REPORT_A, summary, out)
    assert waiting.exit_code == 1
    assert "still waiting" in waiting.output

    assert team.admin("ask-consent", REPORT_B).exit_code == 0
    assert team.reporter_answers(REPORT_B, False) is Stored.STORED
    refused = team.route(REPORT_B, summary, out)
    assert refused.exit_code == 1
    assert "said no" in refused.output
    assert not out.exists() or list(out.iterdir()) == []
    shown = team.admin("show", REPORT_B)
    assert "No, do not share the case" in shown.output

    assert team.reporter_answers(REPORT_A, True) is Stored.STORED
    shared = team.route(REPORT_A, summary, out)
    assert shared.exit_code == 0, shared.output
    [path] = list(out.iterdir())
    assert path.name == f"amanat-case-herat-aid-{REPORT_A}.txt.age"
    text = pyrage.decrypt(path.read_bytes(), [team.partner]).decode()
    assert f"قضیهٔ \u2068{REPORT_A}\u2069" in text
    assert "هرات" in text  # the province, in Dari
    assert SUMMARY in text
    for canary in CANARIES:  # the reporter's own words and the recruiter's contact stay home
        assert canary not in text
    assert "Wants a message when answered" not in text
    assert ("route", f"{REPORT_A} herat-aid") in team.audit()
    assert ("ask-consent", REPORT_A) in team.audit()


def test_the_latest_answer_counts(team: Team, tmp_path: Path) -> None:
    summary = tmp_path / "summary.txt"
    summary.write_text(SUMMARY, encoding="utf-8")
    out = tmp_path / "outbox"
    for agreed in (True, False):
        assert team.admin("ask-consent", REPORT_A).exit_code == 0
        assert team.reporter_answers(REPORT_A, agreed) is Stored.STORED
    changed_mind = team.route(REPORT_A, summary, out)
    assert changed_mind.exit_code == 1
    assert "said no" in changed_mind.output


def test_a_yes_and_a_no_look_the_same_to_the_database(
    team: Team, admin_key: AdminPrivateKey
) -> None:
    for report_id, agreed in ((REPORT_A, True), (REPORT_B, False)):
        assert team.admin("ask-consent", report_id).exit_code == 0
        assert team.reporter_answers(report_id, agreed) is Stored.STORED

    async def sealed_lengths() -> list[int]:
        engine = create_engine(team.settings.database_url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                reports = ReportRepository(session)
                found = [await reports.get(r) for r in (REPORT_A, REPORT_B)]
        finally:
            await engine.dispose()
        return [len(i.blob.data) for r in found if r for i in r.items if i.kind == CONSENT_KIND]

    yes_length, no_length = asyncio.run(sealed_lengths())
    assert yes_length == no_length


def test_consent_rules_and_what_a_case_leaves_out(locales_dir: Path) -> None:
    translations = Translations.load(locales_dir, ("en",))
    document = AnswersDocument(
        locale="ps",
        month="2026-10",
        answers={"consent_referral": "yes", "notify_replies": "yes", "incident": "false_job"},
    )
    check_consent([True], question_waiting=False)
    check_consent([False, True], question_waiting=False)
    with pytest.raises(RoutingRefused, match="ask-consent"):
        check_consent([], question_waiting=False)
    with pytest.raises(RoutingRefused, match="said no"):
        check_consent([True, False], question_waiting=False)
    with pytest.raises(RoutingRefused, match="still waiting"):
        check_consent([True], question_waiting=True)
    text = render_case("7K3M9Q2X1A", document, "line one\x1b[2J", "en", translations)
    assert text.splitlines()[1] == "Case 7K3M9Q2X1A"  # English values need no isolation
    assert "October 2026" in text
    assert "Wants a message when answered" not in text
    assert "\x1b" not in text
    assert text.rstrip().endswith("our team will answer them.")
