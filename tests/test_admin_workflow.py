"""The whole admin workflow from a machine with no database URL: from the queue to the route.

The server runs the admin API in a thread on a SQLite file; the admin's machine is the real
command line with settings that name only the API, its key file and the admin keys. The
reporter's yes to sharing is given as the intake stores it once they answer with their code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
from click.testing import Result
from typer.testing import CliRunner

from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.intake.followup_store import FollowupStore, Stored
from bot.settings import Partner, Settings
from storage.db import create_engine, session_factory
from tests.api_support import admin_laptop, api_in_a_thread
from tests.conftest import TEST_PASSPHRASE
from tests.test_adminapi import one_report, with_admins
from tests.test_intake_service import canary


def test_an_admin_machine_with_no_database_url_goes_from_the_queue_to_the_route(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    story = canary()
    partner = pyrage.x25519.Identity.generate()
    herat = Partner(name="herat-aid", language="fa_AF", age_recipients=(str(partner.to_public()),))
    key_id = admin_key.public_key().key_id
    server = with_admins(make_settings, admin_key, lead_admin_keys=(key_id,), partners=(herat,))
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(TEST_PASSPHRASE, scrypt_n=2**10))
    with api_in_a_thread(server, one_report(story)) as (url, prepared):
        report_id = str(prepared)
        laptop = admin_laptop(server, url, tmp_path)
        app = create_app(CliConfig(load_settings=lambda: laptop, scrypt_n=2**10))

        def amanat(*words: str, key: bool = True) -> Result:
            signed = ["--key", str(key_file)] if key else []
            result = CliRunner().invoke(
                app, [*words, *signed], env={PASSPHRASE_ENV: TEST_PASSPHRASE}
            )
            assert result.exit_code == 0, result.output
            return result

        def text_file(name: str, text: str) -> str:
            path = tmp_path / name
            path.write_text(text, encoding="utf-8")
            return str(path)

        assert report_id in amanat("admin", "queue").stdout
        assert story in amanat("admin", "claim").stdout
        amanat("admin", "note", report_id, "--from-file", text_file("note.txt", "Called."))
        answer = text_file("answer.txt", "We will call you tomorrow.")
        assert (
            "Answer 1 stored" in amanat("admin", "reply", report_id, "--from-file", answer).stdout
        )
        edited = text_file("edited.txt", "[hidden by the team]")
        amanat("admin", "redact", report_id, "narrative", "--from-file", edited)
        amanat("admin", "ask-consent", report_id)
        asyncio.run(reporter_says_yes(server, admin_key, report_id))
        summary = text_file("summary.txt", "Offered money to fight abroad; refused.")
        outbox = tmp_path / "outbox"
        route = ["--partner", "herat-aid", "--summary", summary, "--to", str(outbox)]
        amanat("admin", "route", report_id, *route)
        [case] = outbox.iterdir()
        assert "Offered money" in pyrage.decrypt(case.read_bytes(), [partner]).decode()
        amanat("admin", "mark", report_id, "closed")
        verified = amanat("audit", "verify")
        listed = amanat("audit", "list", "--last", "20").stdout
    assert "chain intact" in verified.stdout
    for action in ("claim", "note", "reply", "redact", "ask-consent", "route", "status"):
        assert f" {action} " in listed, action
    assert not (tmp_path / "no-such-folder").exists()  # no database was ever opened here


async def reporter_says_yes(server: Settings, admin_key: AdminPrivateKey, report_id: str) -> None:
    """Store the reporter's yes as the intake does when they press it with their code."""
    engine = create_engine(server.database_url)
    try:
        store = FollowupStore(session_factory(engine), AdminSealer([admin_key.public_key()]))
        assert await store.answer_consent(report_id, True) is Stored.STORED
    finally:
        await engine.dispose()
