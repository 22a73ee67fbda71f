"""The whole console workflow in a real browser: Playwright driving Debian's Chromium.

In English, then in Dari (right to left): log in through the printed address, take the next
report, read it, play its voice note, write a note and an answer, hide a name in the story,
ask the reporter about sharing and, after their yes, download the case sealed to a partner,
close it. Skipped, with the
reason, only where Debian's chromium is not installed (`.ci/run` installs it). Set
AMANAT_SCREENSHOTS to a folder to keep the pages as PNG files (docs/console-*.png were made
so).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest

from bot.admin.view import REDACTED_NOTE
from bot.adminapi.client import AdminApiClient
from bot.console import texts
from bot.console.app import Console
from bot.crypto.constants import STREAM_CHUNK_SIZE
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.i18n.translations import Translations
from bot.intake.followup_store import FollowupStore, Stored
from bot.settings import Partner, Settings
from storage.db import session_factory
from tests.test_admin_export import REPORT
from tests.test_admin_export import _store as store_with_files
from tests.test_adminapi import audit_entries, serving, with_admins

STORY = "Karim came at night and offered money."
SUMMARY = "Offered money in Herat to fight abroad; refused."
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("AMANAT_REQUIRE_BROWSER"),
    reason="Debian's chromium is not installed (apt-get install chromium chromium-driver; "
    ".ci/run installs it, and there this test must run)",
)


@pytest.mark.parametrize(
    ("locale", "direction", "take", "save", "close", "closed"),
    [
        ("en", "ltr", "Take the next new report", "Save", "Close the report", "Closed"),
        ("fa_AF", "rtl", "گزارش نوِ بعدی را بگیرید", "ذخیره کنید", "بستن گزارش", None),
    ],
    ids=["english", "dari"],
)
async def test_the_whole_workflow_in_a_browser(
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    translations: Translations,
    tmp_path: Path,
    locale: str,
    direction: str,
    take: str,
    save: str,
    close: str,
    closed: str | None,
) -> None:
    from playwright.async_api import async_playwright

    def said(message: str) -> str:
        return translations.gettext(locale, message)

    voice = os.urandom(STREAM_CHUNK_SIZE + 500)
    partner = pyrage.x25519.Identity.generate()
    herat = Partner(name="herat-aid", language="fa_AF", age_recipients=(str(partner.to_public()),))
    key_id = admin_key.public_key().key_id
    settings = with_admins(make_settings, admin_key, partners=(herat,), lead_admin_keys=(key_id,))
    await store_with_files(settings, admin_key, [voice], story=STORY)
    shots = Path(os.environ.get("AMANAT_SCREENSHOTS") or tmp_path)
    async with serving(settings) as (services, url), AdminApiClient(url, admin_key) as client:
        console = Console(
            client, admin_key, [admin_key.public_key()], translations, locale, (herat,)
        )
        await console.start()
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
                )
                page = await browser.new_page(viewport={"width": 1000, "height": 800})
                blocked: list[str] = []
                page.on("console", lambda message: blocked.append(message.text))
                await page.goto(console.login_url)
                await page.goto(page.url.split("?")[0] + f"?lang={locale}")
                assert await page.get_attribute("html", "dir") == direction
                assert REPORT in await page.inner_text("table")
                await page.screenshot(path=str(shots / f"console-queue-{locale}.png"))

                await page.get_by_role("button", name=take).click()
                await page.wait_for_load_state()
                assert f"/reports/{REPORT}" in page.url, await page.content()
                text = await page.inner_text("pre")
                assert REPORT in text
                heard = await page.request.get(f"{page.url.split('?')[0]}/files/0")
                assert heard.headers["content-type"] == "audio/ogg"
                assert await heard.body() == voice

                note, answer = (
                    page.locator("form textarea").nth(0),
                    page.locator("form textarea").nth(1),
                )
                await note.fill("یادداشت: تماس گرفتیم")
                await page.get_by_role("button", name=save).nth(0).click()
                await answer.fill("We will call you tomorrow.")
                await page.get_by_role("button", name=save).nth(1).click()
                shown = await page.inner_text("pre")
                assert "یادداشت: تماس گرفتیم" in shown
                assert "We will call you tomorrow." in shown
                await page.screenshot(
                    path=str(shots / f"console-report-{locale}.png"), full_page=True
                )

                await page.locator(f'a[href^="/reports/{REPORT}/redact/narrative/0"]').click()
                box = page.locator("textarea[name=text]")
                assert await box.input_value() == STORY
                await box.fill(STORY.replace("Karim", "[name]"))
                await page.get_by_role("button", name=said(texts.REDACT_SAVE)).click()
                redacted = await page.inner_text("pre")
                assert "[name] came at night" in redacted  # what everyone reads now
                assert said(REDACTED_NOTE) in redacted
                assert STORY in redacted  # this admin is a lead: the original is theirs to see

                await page.get_by_role("button", name=said(texts.ASK_CONSENT)).click()
                assert said(texts.QUESTION_WAITING) in await page.inner_text("body")
                sealer = AdminSealer([admin_key.public_key()])
                reporter = FollowupStore(session_factory(services.engine), sealer)
                assert await reporter.answer_consent(REPORT, True) is Stored.STORED
                await page.reload()
                await page.select_option("select[name=partner]", "herat-aid")
                await page.locator("textarea[name=summary]").fill(SUMMARY)
                async with page.expect_download() as downloading:
                    await page.get_by_role("button", name=said(texts.SHARE_BUTTON)).click()
                case = await (await downloading.value).path()
                assert SUMMARY in pyrage.decrypt(case.read_bytes(), [partner]).decode()

                await page.get_by_role("button", name=close).click()
                if closed is not None:
                    assert f"Status: {closed}" in await page.inner_text("pre")
                assert not [line for line in blocked if "Content Security Policy" in line]
                await browser.close()
        finally:
            await console.stop()
        entries = await audit_entries(services)
    actions = [entry.action for entry in entries]
    assert actions.count("claim") == 1
    assert actions.count("note") == 1
    assert actions.count("reply") == 1
    assert "export" in actions  # the voice note, fetched to be played
    assert actions.count("ask-consent") == 1
    assert actions.count("route") == 1
    assert actions.count("redact") == 1
