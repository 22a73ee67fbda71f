"""The local console: one browser in through a one-time address, forms guarded, nothing on disk.

A real console on 127.0.0.1 talks to a real admin API (same event loop) over loopback; the
browser is an aiohttp client with a cookie jar.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pyrage  # type: ignore[import-untyped]
import pytest
from typer.testing import CliRunner

from bot.adminapi.client import AdminApiClient
from bot.app import Services
from bot.cli.common import CliConfig
from bot.cli.main import create_app
from bot.console.app import Console
from bot.crypto.constants import STREAM_CHUNK_SIZE
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.i18n.translations import Translations
from bot.intake.followup_store import FollowupStore, Stored
from bot.settings import Partner, Settings
from storage.db import session_factory
from tests.test_admin_export import REPORT as WITH_FILES
from tests.test_admin_export import _store as store_with_files
from tests.test_adminapi import audit_entries, serving, with_admins
from tests.test_intake_service import Person, canary, fill_report


@dataclass
class Browser:
    session: aiohttp.ClientSession
    console: Console
    services: Services

    @property
    def base(self) -> str:
        host, port = self.console.address
        return f"http://{host}:{port}"

    async def get(self, path: str, **headers: str) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.get(
            self.base + path, headers=headers, allow_redirects=False
        ) as got:
            return got.status, await got.text(errors="replace"), got

    async def post(self, path: str, form: dict[str, str], **headers: str) -> int:
        async with self.session.post(
            self.base + path, data=form, headers=headers, allow_redirects=False
        ) as got:
            return got.status


@asynccontextmanager
async def browsing(
    settings: Settings, key: AdminPrivateKey, translations: Translations
) -> AsyncIterator[Browser]:
    async with serving(settings) as (services, url), AdminApiClient(url, key) as client:
        console = Console(
            client, key, [key.public_key()], translations, "en", partners=settings.partners
        )
        await console.start()
        try:
            jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
            async with aiohttp.ClientSession(cookie_jar=jar) as session:
                yield Browser(session, console, services)
        finally:
            await console.stop()


async def test_only_the_printed_address_lets_a_browser_in(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, translations: Translations
) -> None:
    async with browsing(with_admins(make_settings, admin_key), admin_key, translations) as b:
        assert (await b.get("/"))[0] == 403
        assert (await b.get("/login?token=guess"))[0] == 403
        printed = b.console.login_token
        status, _, answer = await b.get(f"/login?token={printed}")
        assert status == 303
        assert (await b.get(f"/login?token={printed}"))[0] == 403  # spent: one browser, once
        assert "HttpOnly" in answer.headers["Set-Cookie"]
        assert "SameSite=Strict" in answer.headers["Set-Cookie"]
        assert (await b.get("/"))[0] == 200
        _, port = b.console.address
        rebound, _, _ = await b.get("/", Host=f"attacker.example:{port}")
        assert rebound == 403  # a page elsewhere that resolves its name to 127.0.0.1


async def test_the_queue_and_a_report_in_dari_right_to_left_with_no_script(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, translations: Translations
) -> None:
    story = canary()
    async with browsing(with_admins(make_settings, admin_key), admin_key, translations) as b:
        await fill_report(Person(b.services), {"narrative": story})
        await b.get(f"/login?token={b.console.login_token}")
        status, html, answer = await b.get("/?lang=fa_AF")
        assert status == 200
        assert '<html lang="fa" dir="rtl">' in html
        assert "همهٔ گزارش‌ها" in html
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "script" not in policy
        assert "<script" not in html
        assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from elsewhere
        [report_id] = re.findall(r'href="/reports/([0-9A-Z]+)\?', html)
        status, page, _ = await b.get(f"/reports/{report_id}?lang=ps")
        assert status == 200
        assert '<html lang="ps" dir="rtl">' in page
        assert story in page  # opened here, in memory
        entries = await audit_entries(b.services)
    assert ("queue", "all page 1") in [(e.action, e.subject) for e in entries]
    assert ("show", report_id) in [(e.action, e.subject) for e in entries]


async def test_forms_need_the_console_s_token_and_origin(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, translations: Translations
) -> None:
    async with browsing(with_admins(make_settings, admin_key), admin_key, translations) as b:
        await fill_report(Person(b.services), {"narrative": canary()})
        await b.get(f"/login?token={b.console.login_token}")
        _, html, _ = await b.get("/")
        [report_id] = re.findall(r'href="/reports/([0-9A-Z]+)\?', html)
        note = {"text": "called back, safe for now"}
        target = f"/reports/{report_id}/notes"
        assert await b.post(target, note) == 403  # no CSRF token: another site's form
        with_token = {**note, "csrf": b.console.csrf}
        assert await b.post(target, with_token, Origin="https://attacker.example") == 403
        assert await b.post(target, with_token) == 303
        _, page, _ = await b.get(f"/reports/{report_id}")
        assert "called back, safe for now" in page
        assert f"written by the team member with key {admin_key.public_key().key_id}" in page
        asking = f"/reports/{report_id}/ask-consent"
        assert await b.post(asking, {}) == 403  # no token
        assert await b.post(asking, {"csrf": b.console.csrf}) == 303
        _, asked, _ = await b.get(f"/reports/{report_id}")
        assert "waits for the reporter&#x27;s answer" in asked
        assert "ask-consent" not in asked  # the button is gone while the question waits
        closing = {"status": "closed", "csrf": b.console.csrf}
        assert await b.post(f"/reports/{report_id}/status", closing) == 303
        assert await b.post(target, with_token) == 409  # closed: reopen first
        _, closed_only, _ = await b.get("/?status=closed")
        assert report_id in closed_only
        _, new_only, _ = await b.get("/?status=new")
        assert report_id not in new_only
        assert (await b.get("/?status=deleted"))[0] == 404
        entries = await audit_entries(b.services)
    actions = [e.action for e in entries]
    assert actions.count("ask-consent") == 1
    assert actions.count("note") == 1
    assert "status" in actions


async def test_a_voice_note_plays_from_memory_and_nothing_decrypted_reaches_the_disk(
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    translations: Translations,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    voice = os.urandom(STREAM_CHUNK_SIZE + 77)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # any temp file would land here
    settings = with_admins(make_settings, admin_key)
    await store_with_files(settings, admin_key, [voice])
    async with browsing(settings, admin_key, translations) as b:
        await b.get(f"/login?token={b.console.login_token}")
        status, _, answer = await b.get(f"/reports/{WITH_FILES}/files/0")
        assert status == 200
        assert answer.content_type == "audio/ogg"
        async with b.session.get(f"{b.base}/reports/{WITH_FILES}/files/0") as again:
            assert await again.read() == voice
    assert_nowhere_on_disk(voice[100:140], tmp_path)


async def test_a_case_is_shared_only_after_the_reporters_yes_sealed_to_the_partner(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, translations: Translations
) -> None:
    partner = pyrage.x25519.Identity.generate()
    herat = Partner(name="herat-aid", language="fa_AF", age_recipients=(str(partner.to_public()),))
    story = canary()
    settings = with_admins(make_settings, admin_key, partners=(herat,))
    async with browsing(settings, admin_key, translations) as b:
        await fill_report(Person(b.services), {"narrative": story})
        await b.get(f"/login?token={b.console.login_token}")
        _, html, _ = await b.get("/")
        [report_id] = re.findall(r'href="/reports/([0-9A-Z]+)\?', html)
        summary = "A man in Herat offered money to fight abroad."
        sharing = {"partner": "herat-aid", "summary": summary, "csrf": b.console.csrf}
        route = f"/reports/{report_id}/route"
        _, not_asked, _ = await b.get(f"/reports/{report_id}?lang=ps")
        assert "راپور ورکوونکي لا د قضیې د شریکولو لپاره «هو» نه ده ویلې." in not_asked
        assert 'name="summary"' not in not_asked  # no form to share before a yes
        assert await b.post(route, sharing) == 409
        assert await b.post(f"/reports/{report_id}/ask-consent", {"csrf": b.console.csrf}) == 303
        assert await b.post(route, sharing) == 409  # the question still waits
        store = FollowupStore(
            session_factory(b.services.engine), AdminSealer([admin_key.public_key()])
        )
        assert await store.answer_consent(report_id, True) is Stored.STORED
        _, said_yes, _ = await b.get(f"/reports/{report_id}")
        assert "The reporter said yes" in said_yes
        assert '<option value="herat-aid">' in said_yes
        unknown = {**sharing, "partner": "elsewhere"}
        assert await b.post(route, unknown) == 400
        assert await b.post(route, {**sharing, "summary": " "}) == 400
        async with b.session.post(b.base + route, data=sharing) as shared:
            assert shared.status == 200
            disposition = shared.headers["Content-Disposition"]
            assert f'filename="amanat-case-herat-aid-{report_id}.txt.age"' in disposition
            sealed = await shared.read()
        case = pyrage.decrypt(sealed, [partner]).decode()
        assert summary in case
        assert story not in case  # the reporter's own words never go
        assert "قضیه" in case or "پرونده" in case  # written in the partner's language
        entries = await audit_entries(b.services)
    assert ("route", f"{report_id} herat-aid") in [(e.action, e.subject) for e in entries]


async def test_a_report_and_its_files_are_saved_by_the_browser_each_save_chained(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, translations: Translations
) -> None:
    settings = with_admins(make_settings, admin_key)
    pdf = b"%PDF-1.4 " + os.urandom(300)
    await store_with_files(settings, admin_key, [pdf])
    async with browsing(settings, admin_key, translations) as b:
        await b.get(f"/login?token={b.console.login_token}")
        _, page, _ = await b.get(f"/reports/{WITH_FILES}?lang=fa_AF")
        assert f'href="/reports/{WITH_FILES}/files/0?save=1"' in page
        assert "قفل نیستند" in page  # saved copies are not locked: the page says so
        async with b.session.get(f"{b.base}/reports/{WITH_FILES}/files/0?save=1") as saved:
            assert saved.status == 200
            assert saved.headers["Content-Disposition"].startswith("attachment;")
            assert await saved.read() == pdf
        async with b.session.get(f"{b.base}/reports/{WITH_FILES}/export") as text:
            assert text.status == 200
            assert f'filename="{WITH_FILES}.txt"' in text.headers["Content-Disposition"]
            assert WITH_FILES in (await text.read()).decode()
        entries = await audit_entries(b.services)
    chained = [(e.action, e.subject) for e in entries]
    assert ("export", f"{WITH_FILES} 0") in chained
    assert ("export-report", WITH_FILES) in chained


async def test_a_claimed_report_is_given_back_to_the_queue(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, translations: Translations
) -> None:
    async with browsing(with_admins(make_settings, admin_key), admin_key, translations) as b:
        await fill_report(Person(b.services), {"narrative": canary()})
        await b.get(f"/login?token={b.console.login_token}")
        assert await b.post("/claim", {"csrf": b.console.csrf}) == 303
        _, claimed, _ = await b.get("/?status=claimed")
        [report_id] = re.findall(r'href="/reports/([0-9A-Z]+)\?', claimed)
        _, page, _ = await b.get(f"/reports/{report_id}")
        assert f'action="/reports/{report_id}/release' in page
        assert await b.post(f"/reports/{report_id}/release", {"csrf": b.console.csrf}) == 303
        _, new, _ = await b.get("/?status=new")
        assert report_id in new
        entries = await audit_entries(b.services)
    assert [e.action for e in entries if e.subject == report_id][-1] == "release"


def assert_nowhere_on_disk(needle: bytes, folder: Path) -> None:
    """Every file under the test's folder (database, WAL, anything written) lacks the bytes."""
    for path in folder.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), path


def test_the_console_needs_the_admin_api(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    result = CliRunner().invoke(create_app(CliConfig(load_settings=lambda: settings)), ["console"])
    assert result.exit_code == 2
    assert "set AMANAT_ADMIN_API_URL" in result.output


async def test_a_reviewer_hides_parts_of_a_story_in_the_console_and_no_longer_reads_them(
    make_settings: Callable[..., Settings],
    alice: AdminPrivateKey,
    bob: AdminPrivateKey,
    translations: Translations,
) -> None:
    story = canary()
    lead = alice.public_key().key_id
    settings = with_admins(make_settings, alice, bob, lead_admin_keys=(lead,))
    async with serving(settings) as (services, url), AdminApiClient(url, bob) as client:
        admins = [alice.public_key(), bob.public_key()]
        console = Console(client, bob, admins, translations, "en")
        await console.start()
        try:
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as session:
                b = Browser(session, console, services)
                await fill_report(Person(services), {"narrative": story})
                await b.get(f"/login?token={console.login_token}")
                _, html, _ = await b.get("/")
                [report_id] = re.findall(r'href="/reports/([0-9A-Z]+)\?', html)
                _, page, _ = await b.get(f"/reports/{report_id}")
                [link] = re.findall(r'href="(/reports/[^"]+/redact/narrative/0)\?', page)
                _, form, _ = await b.get(link + "?lang=fa_AF")
                assert "مثلاً به جای نام" in form  # what to do, in Dari
                assert story in form  # the text to change, in the box
                edited = {"text": "[name] came at night", "csrf": console.csrf}
                assert await b.post(link, {"text": story, "csrf": console.csrf}) == 409
                assert await b.post(link, {"text": "", "csrf": console.csrf}) == 400
                assert await b.post(link, edited) == 303
                _, after, _ = await b.get(f"/reports/{report_id}")
                assert story not in after
                assert "[name] came at night" in after
                assert "Only a lead can open the text as it was sent." in after
        finally:
            await console.stop()
        entries = await audit_entries(services)
    assert ("redact", f"{report_id} narrative 0") in [(e.action, e.subject) for e in entries]


async def test_a_digest_that_could_not_be_delivered_is_shown_above_the_queue(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, translations: Translations
) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.crypto.partner import SealedForPartner, seal_for_partner
    from storage.db import unit_of_work
    from storage.deliveries import Delivery, DeliveryRepository, NewDelivery

    partner = str(pyrage.x25519.Identity.generate().to_public())
    sealed = SealedForPartner(seal_for_partner(b"zip", [partner]))
    async with browsing(with_admins(make_settings, admin_key), admin_key, translations) as b:
        await b.get(f"/login?token={b.console.login_token}")
        _, quiet, _ = await b.get("/?lang=en")
        assert "could not be delivered" not in quiet
        new = NewDelivery("ab" * 16, "kabul-ngo", "webhook", "2026-10", sealed)
        now = datetime.now(UTC)
        async with unit_of_work(session_factory(b.services.engine)) as session:
            outbox = DeliveryRepository(session)
            await outbox.add(new, now.date(), now - timedelta(minutes=1))
            [seen] = await outbox.due(now, 10)
            claimed = await outbox.claim(seen, now, now + timedelta(minutes=15))
            assert claimed is not None
            await outbox.fail(claimed, "tls")
            assert isinstance(await outbox.get(new.id), Delivery)
        status, html, _ = await b.get("/?lang=en")
        assert status == 200
        assert "Digests that could not be delivered" in html
        assert (
            "kabul-ngo, October 2026, by web address (webhook): the receiver&#x27;s security "
            "certificate is not trusted. Tries: 1"
        ) in html
        _, dari, _ = await b.get("/?lang=fa_AF")
        assert "October" not in dari
        assert "۱۴۰۵" in dari  # the month in the admin's calendar and digits
