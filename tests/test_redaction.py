"""Redaction: reviewers read the team's edited copy; only a lead opens what the reporter sent.

A real admin API on 127.0.0.1 and real keys: Alice is a lead, Bob a reviewer. The report is
stored through the real intake service in a SQLite file.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest

from bot.admin.binding import open_answers
from bot.admin.opening import open_stored
from bot.admin.redaction import RedactionRefused, blob_hash
from bot.admin.rekey import DatabaseRekeyStore, Problem, rewrap_reports
from bot.admin.view import HIDDEN_FROM_YOU, ORIGINALS_TITLE, REDACTED_NOTE, render_report
from bot.adminapi.client import AdminApiClient, ApiRefused
from bot.app import Services
from bot.crypto.encoding import b64encode
from bot.crypto.errors import NotARecipient
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.i18n.translations import Translations
from bot.settings import Settings
from storage.db import session_factory, unit_of_work
from storage.migrate import upgrade_to_head
from storage.repositories import ReportRepository
from tests.api_support import admin_laptop, api_in_a_thread
from tests.test_adminapi import audit_entries, serving, with_admins
from tests.test_cli import CANARY_STORY_1, CANARY_STORY_2, REPORT_A, sealed_report
from tests.test_console import assert_nowhere_on_disk
from tests.test_intake_service import Person, canary, fill_report
from tests.test_partners_routing import FAST_N, PASSPHRASE, Team
from tests.test_partners_routing import _store as store_reports

EDITED = "A man [name hidden by the team] offered money to fight abroad."


@asynccontextmanager
async def story_served(
    make_settings: Callable[..., Settings],
    alice: AdminPrivateKey,
    bob: AdminPrivateKey,
    story: str,
    *,
    lead: bool = True,
) -> AsyncIterator[tuple[Services, str, str]]:
    """An admin API with Alice (a lead, unless ``lead`` is false) and Bob, and one report
    with this story: yields the services, the API's URL and the report id."""
    leads = (alice.public_key().key_id,) if lead else ()
    settings = with_admins(make_settings, alice, bob, lead_admin_keys=leads)
    async with serving(settings) as (services, url):
        report_id = await fill_report_id(services, story)
        yield services, url, report_id


async def fill_report_id(services: Services, story: str) -> str:
    """Store one report with this story through the intake; return its id."""
    await fill_report(Person(services), {"narrative": story})
    async with unit_of_work(session_factory(services.engine)) as session:
        [summary] = await ReportRepository(session).queue()
    return summary.id


async def test_a_reviewer_redacts_a_story_and_only_the_lead_opens_the_original(
    make_settings: Callable[..., Settings],
    alice: AdminPrivateKey,
    bob: AdminPrivateKey,
    translations: Translations,
    tmp_path: Path,
) -> None:
    story = canary()
    admins = [alice.public_key(), bob.public_key()]
    async with story_served(make_settings, alice, bob, story) as (services, url, report_id):
        async with AdminApiClient(url, bob) as reviewer, AdminApiClient(url, alice) as lead_client:
            before = await reviewer.report(report_id)
            await reviewer.redact(report_id, "narrative", 0, EDITED, admins)

            as_reviewer = open_stored(await reviewer.report(report_id), bob)
            shown = render_report(as_reviewer, "en", translations)
            assert story not in shown
            assert EDITED in shown
            assert translations.gettext("en", REDACTED_NOTE) in shown
            assert translations.gettext("en", HIDDEN_FROM_YOU) in shown

            stored = await lead_client.report(report_id)
            as_lead = render_report(open_stored(stored, alice), "en", translations)
            assert EDITED in as_lead
            assert translations.gettext("en", ORIGINALS_TITLE) in as_lead
            assert story in as_lead  # the lead reads what the reporter sent

            [original] = [i for i in stored.items if i.kind == "original_narrative"]
            ref = open_answers(stored, alice).item_ref(report_id, "original_narrative", 0)
            with pytest.raises(NotARecipient):
                open_with_admin_key(original.blob, ref, bob)  # sealed to the lead alone

            [old] = [i for i in before.items if i.kind == "narrative"]
            stale = {
                "kind": "narrative",
                "index": 0,
                "redacted": b64encode(AdminSealer(admins).seal_for_admins(b"x", ref).data),
                "original": None,
                "replaces": b64encode(blob_hash(old.blob)),
            }
            target = f"/v1/reports/{report_id}/redactions"
            subject = f"{report_id} narrative 0"
            with pytest.raises(ApiRefused) as changed:
                await reviewer.audited("POST", target, "redact", subject, stale)
            assert changed.value.status == 409  # the copy it would replace changed meanwhile

            await reviewer.redact(report_id, "narrative", 0, "[hidden by the team]", admins)
            again = render_report(
                open_stored(await lead_client.report(report_id), alice), "en", translations
            )
            assert "[hidden by the team]" in again
            assert story in again  # the first original is kept, not replaced by a copy
        entries = await audit_entries(services)
    redactions = [(e.admin, e.subject) for e in entries if e.action == "redact"]
    assert redactions == [(bob.public_key().key_id, f"{report_id} narrative 0")] * 2
    for text in (story, EDITED, "[hidden by the team]"):  # the server stores neither text
        assert_nowhere_on_disk(text.encode(), tmp_path)


async def test_the_server_keeps_an_original_only_if_sealed_to_exactly_the_leads(
    make_settings: Callable[..., Settings], alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    story = canary()
    admins = [alice.public_key(), bob.public_key()]
    async with story_served(make_settings, alice, bob, story) as (services, url, report_id):
        async with AdminApiClient(url, bob) as reviewer:
            stored = await reviewer.report(report_id)
            [item] = [i for i in stored.items if i.kind == "narrative"]
            document = open_answers(stored, bob)
            everyone = AdminSealer(admins)

            def body(original_to: AdminSealer | None) -> dict[str, object]:
                ref = document.item_ref(report_id, "narrative", 0)
                kept = document.item_ref(report_id, "original_narrative", 0)
                return {
                    "kind": "narrative",
                    "index": 0,
                    "redacted": b64encode(everyone.seal_for_admins(EDITED.encode(), ref).data),
                    "original": None
                    if original_to is None
                    else b64encode(original_to.seal_for_admins(story.encode(), kept).data),
                    "replaces": b64encode(blob_hash(item.blob)),
                }

            target = f"/v1/reports/{report_id}/redactions"
            subject = f"{report_id} narrative 0"
            for sealed_to, status in ((everyone, 422), (None, 409)):
                with pytest.raises(ApiRefused) as refused:
                    await reviewer.audited("POST", target, "redact", subject, body(sealed_to))
                assert refused.value.status == status
            wrong_kind = {**body(AdminSealer([alice.public_key()])), "kind": "answers"}
            with pytest.raises(ApiRefused) as answers:
                await reviewer.audited("POST", target, "redact", subject, wrong_kind)
            assert answers.value.status == 400
            with pytest.raises(RedactionRefused, match="nothing was hidden"):
                await reviewer.redact(report_id, "narrative", 0, story, admins)
        entries = await audit_entries(services)
    assert "redact" not in [e.action for e in entries]  # nothing refused is chained
    assert story not in json.dumps([e.subject for e in entries])


async def test_without_a_lead_no_original_can_be_kept_so_nothing_changes(
    make_settings: Callable[..., Settings], alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    served = story_served(make_settings, alice, bob, canary(), lead=False)
    async with served as (_, url, report_id), AdminApiClient(url, bob) as reviewer:
        admins = [alice.public_key(), bob.public_key()]
        with pytest.raises(RedactionRefused, match="no lead key"):
            await reviewer.redact(report_id, "narrative", 0, EDITED, admins)


async def test_a_change_of_keys_keeps_an_original_for_the_leads_alone(
    make_settings: Callable[..., Settings],
    alice: AdminPrivateKey,
    bob: AdminPrivateKey,
    carol: AdminPrivateKey,
    translations: Translations,
) -> None:
    story = canary()
    lead = alice.public_key().key_id
    admins = [alice.public_key(), bob.public_key()]
    async with story_served(make_settings, alice, bob, story) as (services, url, report_id):
        async with AdminApiClient(url, bob) as reviewer:
            await reviewer.redact(report_id, "narrative", 0, EDITED, admins)
        sessions = session_factory(services.engine)
        target = [*admins, carol.public_key()]
        leaderless = await rewrap_reports(
            DatabaseRekeyStore(sessions), [alice], target, execute=True
        )
        [outcome] = leaderless.problem_reports
        assert dict(outcome.problems) == {Problem.NO_LEAD: 1}  # left as it was, reported
        await rewrap_reports(
            DatabaseRekeyStore(sessions), [alice], target, execute=True, lead_ids=frozenset({lead})
        )
        async with unit_of_work(sessions) as session:
            stored = await ReportRepository(session).get(report_id)
    assert stored is not None
    for reviewer_key in (bob, carol):  # the new reviewer got the copy, not the original
        opened = open_stored(stored, reviewer_key)
        assert opened.hidden == (("original_narrative", 0),)
    assert story in render_report(open_stored(stored, alice), "en", translations)


@pytest.fixture(params=["database", "api"])
def lead_team(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
) -> Iterator[Team]:
    """The routing tests' team, its one admin a lead: on the database, or through the API."""
    key_id = admin_key.public_key().key_id
    settings = with_admins(make_settings, admin_key, lead_admin_keys=(key_id,))
    upgrade_to_head(settings.database_url)
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(PASSPHRASE, scrypt_n=FAST_N))
    sealer = AdminSealer([admin_key.public_key()])
    store_reports(settings, sealed_report(REPORT_A, sealer))
    partner = pyrage.x25519.Identity.generate()
    if request.param == "database":
        yield Team(settings, key_file, partner, sealer, settings)
        return
    with api_in_a_thread(settings) as (url, _):
        yield Team(settings, key_file, partner, sealer, admin_laptop(settings, url, tmp_path))


def test_the_command_line_shows_redacts_and_chains_a_redaction(
    lead_team: Team, tmp_path: Path
) -> None:
    shown = lead_team.admin("redact", REPORT_A, "narrative", "--show")
    assert shown.exit_code == 0, shown.output
    assert CANARY_STORY_1 in shown.stdout
    edited = tmp_path / "edited.txt"
    edited.write_text("CANARY-story-one: [hidden] came at night\n", encoding="utf-8")
    done = lead_team.admin("redact", REPORT_A, "narrative", "--from-file", str(edited))
    assert done.exit_code == 0, done.output
    assert "What was sent is kept for the leads." in done.stdout
    again = lead_team.admin("redact", REPORT_A, "narrative", "--from-file", str(edited))
    assert again.exit_code == 1
    assert "nothing was hidden" in again.output
    second = lead_team.admin("redact", REPORT_A, "narrative:2", "--show")
    assert CANARY_STORY_2 in second.stdout
    report = lead_team.admin("show", REPORT_A)
    assert "[hidden] came at night" in report.stdout
    assert "What the team hid (only leads can open this):" in report.stdout
    assert CANARY_STORY_1 in report.stdout  # this admin is a lead
    wrong = lead_team.admin("redact", REPORT_A, "answers", "--show")
    assert wrong.exit_code == 1
    assert "ITEM is one of recruiter_contact, narrative, followup; add :N" in wrong.output
    assert ("redact", f"{REPORT_A} narrative 0") in lead_team.audit()
