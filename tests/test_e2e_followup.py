"""End to end, in English, Dari and Pashto: after the report, the reporter and the team talk.

The real python-telegram-bot Application talks HTTP to the fake Bot API; the admin uses the
real command line. The reporter answers the team, refuses and then gives consent, sends a
voice note, and wipes the chat; the admin reads it all on their machine and routes the case.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.app import deliver_reply_notices
from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.keyfile import AdminPrivateKey
from bot.devtools.fakeapi import FakeUser
from bot.i18n.translations import Translations
from bot.intake.followup import WRITE_PROMPT
from bot.settings import Partner, Settings
from tests.botapi_driver import RunningAmanat, running_amanat
from tests.test_e2e_telegram import _report_ids, keyboard_message, receipt_code, walk_report

PASSPHRASE = "admin passphrase 1"
PARTNER = pyrage.x25519.Identity.generate()


@pytest.fixture
async def harness(make_settings: Callable[..., Settings]) -> AsyncIterator[RunningAmanat]:
    partner = Partner(
        name="herat-aid", language="fa_AF", age_recipients=(str(PARTNER.to_public()),)
    )

    def with_partner(**overrides: object) -> Settings:
        return make_settings(partners=(partner,), **overrides)

    async with running_amanat(with_partner) as running:
        yield running
        assert not running.driver.errors, running.driver.errors


class Admin:
    """The admin at their machine, with the real command line."""

    def __init__(self, settings: Settings, key: AdminPrivateKey, folder: Path) -> None:
        self.key_file = folder / "admin.key"
        self.key_file.write_bytes(key.to_file_bytes(PASSPHRASE, scrypt_n=2**10))
        self.app = create_app(CliConfig(load_settings=lambda: settings, scrypt_n=2**10))

    async def run(self, *args: str, given: str | None = None) -> Result:
        result = await asyncio.to_thread(
            CliRunner().invoke,
            self.app,
            ["admin", *args, "--key", str(self.key_file)],
            input=given,
            env={PASSPHRASE_ENV: PASSPHRASE},
        )
        return result


def said(user: FakeUser, since: int) -> list[str]:
    return [m.text or "" for m in user.bot_messages() if m.message_id > since]


@pytest.mark.parametrize(
    ("language_code", "locale", "typed_yes"),
    [("en", "en", "yes"), ("fa", "fa_AF", "بلی"), ("ps", "ps", "هو")],
)
async def test_the_reporter_answers_the_team_and_decides_about_sharing(
    harness: RunningAmanat,
    admin_key: AdminPrivateKey,
    tmp_path: Path,
    translations: Translations,
    language_code: str,
    locale: str,
    typed_yes: str,
) -> None:
    def t(message: str) -> str:
        return translations.gettext(locale, message)

    user = harness.server.user(language_code=language_code)
    await harness.start(user)
    code = receipt_code(await walk_report(harness, user, {"narrative": "what happened"}))
    [report_id] = await _report_ids(harness.settings)
    admin = Admin(harness.settings, admin_key, tmp_path)
    question = f"CANARY-Q-{uuid.uuid4().hex}"
    assert (await admin.run("reply", report_id, given=question)).exit_code == 0
    asked = await admin.run("ask-consent", report_id)
    assert asked.exit_code == 0, asked.output
    assert await deliver_reply_notices(harness.services, harness.driver.application.bot) == 1

    # The reporter checks, reads the question, answers it, and refuses to share.
    status = await harness.driver.command(user, "status", code)
    assert any(question in (m.text or "") for m in status)
    consent = keyboard_message(user)
    assert {"c:yes", "c:no"} <= set(consent.callback_data)
    assert t("✔ Yes, you may share it") in consent.button_texts
    await harness.driver.press(user, "c:no", consent)
    [answered] = [m for m in user.bot_messages() if m.message_id == consent.message_id]
    assert answered.text == t("Understood. We will not share your case. You can still write to us.")
    assert not answered.buttons  # the question's buttons went with it
    summary = tmp_path / "summary.txt"
    summary.write_text("Offered money to fight abroad; refused.", encoding="utf-8")
    outbox = tmp_path / "outbox"
    route = ("route", report_id, "--partner", "herat-aid", "--summary", str(summary))
    not_shared = await admin.run(*route, "--to", str(outbox))
    assert not_shared.exit_code == 1
    assert "said no" in not_shared.output

    writing = await harness.driver.press(user, "m:write", keyboard_message(user))
    assert [m.text for m in writing] == [t(WRITE_PROMPT)]
    answer = f"CANARY-A-{uuid.uuid4().hex}"
    sent = await harness.driver.say(user, answer)
    assert [m.text for m in sent] == [
        t("Sent to our team and locked. You can send more, or press Done.")
    ]
    voice = b"OggS" + f"CANARY-V-{uuid.uuid4().hex}".encode() * 200
    await harness.driver.run(user, user.send_voice(content=voice))
    await harness.driver.press(user, "w:done", keyboard_message(user))

    # The team asks again; this time the reporter types yes in their own words.
    assert (await admin.run("ask-consent", report_id)).exit_code == 0
    await harness.driver.command(user, "status", code)
    agreed = await harness.driver.say(user, typed_yes)
    assert [m.text for m in agreed] == [
        t("Thank you. Our team may now share your case, without your name.")
    ]
    shared = await admin.run(*route, "--to", str(outbox))
    assert shared.exit_code == 0, shared.output

    shown = await admin.run("show", report_id)
    assert shown.exit_code == 0, shown.output
    assert answer in shown.output
    assert "sent after the report" in shown.output
    assert "No, do not share the case" in shown.output
    assert "Yes, the case may be shared" in shown.output
    exported = await admin.run("export", report_id, "--to", str(tmp_path / "files"))
    assert exported.exit_code == 0, exported.output
    assert voice in [p.read_bytes() for p in (tmp_path / "files").iterdir()]

    # The wipe takes these messages too, both sides.
    before = [m.message_id for m in user.chat_messages()]
    await harness.driver.command(user, "wipe")
    left = [m.message_id for m in user.chat_messages()]
    assert not set(before) & set(left)
