"""The admin API admits signed requests only, and answers metadata and ciphertext only.

A real aiohttp server on 127.0.0.1, the real client signing with real admin keys, reports
stored through the real intake service in a SQLite file; the Redis case runs two API servers
on the Redis at 127.0.0.1:6379 and is skipped, with the reason, only where none answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import sqlite3
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path

import aiohttp
import pytest
from click.testing import Result
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from typer.testing import CliRunner

from bot.admin.binding import open_answers
from bot.adminapi import server as server_module
from bot.adminapi.client import AdminApiClient, ApiRefused, signed_headers
from bot.adminapi.gate import NONCE_HEADER, SIGNATURE_HEADER, TIME_HEADER
from bot.adminapi.protocol import NEXT_CHANGED, NOTHING_NEW
from bot.app import Services, admin_api, open_services
from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.audit import AuditEntry, entry_hash, verify
from bot.crypto.audit import signed_message as audit_message
from bot.crypto.constants import STREAM_CHUNK_SIZE
from bot.crypto.encoding import b64decode, b64encode
from bot.crypto.errors import CryptoError
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.reporter import seal_for_reporter
from bot.crypto.requests import SignedRequest, signature_holds
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import ItemRef, SealedBlob
from bot.intake.values import Command
from bot.partners.months import Month
from bot.partners.snapshot import decode_snapshot, snapshot_ref
from bot.questions import NOTE_KIND, REPLY_KIND
from bot.settings import Settings
from storage.audit import AuditRepository
from storage.db import create_engine, session_factory, unit_of_work
from storage.records import StatRecord, StoredItem, StoredReport
from storage.repositories import ReportRepository, StatsRepository
from storage.snapshots import DigestSnapshotRepository
from tests.api_support import admin_laptop, api_in_a_thread
from tests.conftest import TEST_PASSPHRASE
from tests.test_admin_export import REPORT as EXPORTED
from tests.test_admin_export import _store as store_with_files
from tests.test_intake_service import Person, canary, fill_report, receipt_code, team_answers
from tests.test_storage_conversations import REDIS_URL, redis_or_skip


@asynccontextmanager
async def running_api(services: Services) -> AsyncIterator[str]:
    """The admin API of these services on a free loopback port; yields its URL."""
    api = admin_api(services)
    await api.start("127.0.0.1", 0)
    try:
        host, port = api.address
        yield f"http://{host}:{port}"
    finally:
        await api.stop()


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Services, str]]:
    """Services on these settings, with their admin API running."""
    async with open_services(settings) as services, running_api(services) as url:
        yield services, url


def with_admins(
    make_settings: Callable[..., Settings], *keys: AdminPrivateKey, **extra: object
) -> Settings:
    lines = tuple(key.public_key().to_text() for key in keys)
    return make_settings(admin_public_keys=lines, **extra)


async def raw_get(url: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + target, headers=headers) as got,
    ):
        return got.status, await got.json(content_type=None)


async def test_a_signed_admin_reads_the_queue_and_opens_a_report_on_their_own_machine(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    story = canary()
    async with open_services(with_admins(make_settings, admin_key)) as services:
        await fill_report(Person(services), {"narrative": story})
        async with running_api(services) as url, AdminApiClient(url, admin_key) as client:
            assert await client.call("GET", "/v1/whoami") == {
                "key_id": admin_key.public_key().key_id,
                "role": "reviewer",
                "leads": [],
            }
            queue = await client.call("GET", "/v1/queue")
            [row] = queue["reports"]
            assert set(row) == {"id", "day", "urgent", "status", "sent"}
            assert queue["more"] is False
            assert story not in json.dumps(queue)
            sealed = await client.audited("GET", f"/v1/reports/{row['id']}", "show", row["id"])
    assert story not in json.dumps(sealed)  # ciphertext only on the wire
    report = StoredReport(
        id=sealed["id"],
        format_version=sealed["format"],
        submitted_on=datetime.fromisoformat(sealed["day"]).date(),
        urgent=sealed["urgent"],
        status=sealed["status"],
        items=tuple(
            StoredItem(item["kind"], item["index"], SealedBlob(b64decode(item["blob"])))
            for item in sealed["items"]
        ),
    )
    document = open_answers(report, admin_key)  # opened here, with the private key
    assert document.answers


async def test_a_report_is_served_only_with_its_audit_entry_signed_by_the_reader(
    make_settings: Callable[..., Settings], alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    """No read the chain does not record, in the reader's own name, after the current head."""
    settings = with_admins(make_settings, alice, bob)
    async with serving(settings) as (services, url):
        await fill_report(Person(services), {"narrative": canary()})
        async with AdminApiClient(url, alice) as client:
            [row] = (await client.call("GET", "/v1/queue"))["reports"]
            target = f"/v1/reports/{row['id']}"
            with pytest.raises(ApiRefused) as unsigned:
                await client.call("GET", target)
            assert unsigned.value.status == 428
            head = await client.call("GET", "/v1/audit/head")
            stale = entry_hash(
                b64decode(head["hash"]),
                head["seq"] + 1,
                date.fromisoformat(head["day"]),
                alice.public_key().key_id,
                "show",
                row["id"],
            )
            stale_signature = b64encode(alice.sign_audit_entry(stale))
            await client.audited("GET", target, "show", row["id"])  # the head moves on
            with pytest.raises(ApiRefused) as moved:
                await client.call("GET", target, audit=stale_signature)
            assert moved.value.status == 409
            wrong_subject = await _signed_entry(client, alice, "show", "SOMEOTHER1")
            with pytest.raises(ApiRefused) as other:
                await client.call("GET", target, audit=wrong_subject)
            assert other.value.status == 409
            forged = await _signed_entry(client, bob, "show", row["id"], as_admin=alice)
            with pytest.raises(ApiRefused) as impostor:
                await client.call("GET", target, audit=forged)
            assert impostor.value.status == 409
        async with unit_of_work(session_factory(services.engine)) as session:
            entries = await AuditRepository(session).entries()
    assert [(e.admin, e.action, e.subject) for e in entries] == [
        (alice.public_key().key_id, "show", row["id"])
    ]
    keys = {key.public_key().key_id: key.public_key().signing or b"" for key in (alice, bob)}
    verdict = verify(entries, keys)
    assert verdict.problem is None, verdict


async def _signed_entry(
    client: AdminApiClient,
    signer: AdminPrivateKey,
    action: str,
    subject: str,
    *,
    as_admin: AdminPrivateKey | None = None,
) -> str:
    """Sign the next entry on the current head, as the audit header carries it."""
    head = await client.call("GET", "/v1/audit/head")
    digest = entry_hash(
        b64decode(head["hash"]),
        head["seq"] + 1,
        date.fromisoformat(head["day"]),
        (as_admin or signer).public_key().key_id,
        action,
        subject,
    )
    return b64encode(signer.sign_audit_entry(digest))


def one_report(story: str) -> Callable[[Services], Awaitable[str]]:
    """A server-side set-up: one report with this story; returns its id."""

    async def prepare(services: Services) -> str:
        await fill_report(Person(services), {"narrative": story})
        async with unit_of_work(session_factory(services.engine)) as session:
            [summary] = await ReportRepository(session).queue()
        return summary.id

    return prepare


def test_an_admin_machine_without_a_database_url_shows_a_report_through_the_api(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    story = canary()
    server_settings = with_admins(make_settings, admin_key)
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(TEST_PASSPHRASE, scrypt_n=2**10))
    server_database = tmp_path / "amanat.db"
    with api_in_a_thread(server_settings, one_report(story)) as (url, prepared):
        report_id = str(prepared)
        laptop = make_settings(
            database_url=f"sqlite:///{tmp_path / 'no-such-folder' / 'none.db'}",
            admin_api_url=url,
        )
        app = create_app(CliConfig(load_settings=lambda: laptop, scrypt_n=2**10))

        def amanat(*words: str) -> Result:
            """One command on the laptop, with its key and passphrase."""
            return CliRunner().invoke(
                app, [*words, "--key", str(key_file)], env={PASSPHRASE_ENV: TEST_PASSPHRASE}
            )

        result = amanat("admin", "show", report_id)
        assert result.exit_code == 0, result.output
        assert f"Report id: {report_id}" in result.stdout
        assert story in result.stdout  # opened on the laptop
        missing = amanat("admin", "show", "0000000000")
        assert missing.exit_code == 1
        assert "the admin API refused: no such report" in missing.output
        claimed = amanat("admin", "claim")
        assert claimed.exit_code == 0, claimed.output
        assert f"Report id: {report_id}" in claimed.stdout
        note_file = tmp_path / "note.txt"
        note_file.write_text("Called back; safe for now.", encoding="utf-8")
        add_note = ["admin", "note", report_id, "--from-file", str(note_file)]
        noted = amanat(*add_note)
        assert noted.exit_code == 0, noted.output
        nothing = amanat("admin", "claim")
        assert "No new reports" in nothing.stdout
        listed = amanat("admin", "queue")
        assert listed.exit_code == 0, listed.output
        assert report_id in listed.stdout
        answer_file = tmp_path / "answer.txt"
        answer_file.write_text("We will call you.", encoding="utf-8")
        reply = ["admin", "reply", report_id, "--from-file", str(answer_file)]
        answered = amanat(*reply)
        assert answered.exit_code == 0, answered.output
        assert "Answer 1 stored" in answered.stdout
        shown = amanat("admin", "show", report_id)
        key_id = admin_key.public_key().key_id
        assert shown.stdout.count(f"written by the team member with key {key_id}") == 2
        # Whoever writes the server's database swaps the reply key for their own:
        swapped = sqlite3.connect(server_database)
        with swapped:
            swapped.execute("UPDATE reports SET reporter_key = ?", (bytes(range(32)),))
        swapped.close()
        refused = amanat(*reply)
        assert refused.exit_code == 1
        assert "the database was altered; nothing was sent" in refused.output
        for args in (["admin", "mark", report_id, "closed"], add_note):
            done = amanat(*args)
        assert done.exit_code == 1  # a closed report takes no more notes
        assert "the report is closed: reopen it first" in done.output
    assert not (tmp_path / "no-such-folder").exists()
    server = create_engine(server_settings.database_url)

    async def chained() -> list[AuditEntry]:
        try:
            async with unit_of_work(session_factory(server)) as session:
                return await AuditRepository(session).entries()
        finally:
            await server.dispose()

    entries = asyncio.run(chained())
    assert [(e.action, e.subject) for e in entries] == [
        ("show", report_id),
        ("claim", report_id),
        ("show", report_id),
        ("note", report_id),
        ("queue", "all page 1"),
        ("show", report_id),
        ("reply", report_id),
        ("show", report_id),
        ("show", report_id),  # the refused answer read the report, and sent nothing
        ("status", f"{report_id} closed"),
    ]
    assert {e.admin for e in entries} == {admin_key.public_key().key_id}
    down = amanat("admin", "show", report_id)
    assert down.exit_code == 1
    assert "cannot reach the admin API" in down.output
    assert "Traceback" not in down.output


def test_an_admin_machine_exports_files_streamed_through_the_api(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    """Chunks stream from the server as ciphertext and open on the laptop, each file chained."""
    voice = os.urandom(2 * STREAM_CHUNK_SIZE + 123)  # three chunks
    document = b"%PDF-1.4 a small document"
    server_settings = with_admins(make_settings, admin_key)
    asyncio.run(store_with_files(server_settings, admin_key, [voice, document]))
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(TEST_PASSPHRASE, scrypt_n=2**10))
    folder = tmp_path / "case-files"
    with api_in_a_thread(server_settings) as (url, _):
        laptop = make_settings(
            database_url=f"sqlite:///{tmp_path / 'no-such-folder' / 'none.db'}",
            admin_api_url=url,
        )
        app = create_app(CliConfig(load_settings=lambda: laptop, scrypt_n=2**10))
        export = ["admin", "export", EXPORTED, "--to", str(folder), "--key", str(key_file)]
        done = CliRunner().invoke(app, export, env={PASSPHRASE_ENV: TEST_PASSPHRASE})
        assert done.exit_code == 0, done.output
        again = CliRunner().invoke(app, export, env={PASSPHRASE_ENV: TEST_PASSPHRASE})
    assert (folder / f"{EXPORTED}-1.ogg").read_bytes() == voice
    assert (folder / f"{EXPORTED}-2.ogg").read_bytes() == document  # both stored as voice
    assert again.exit_code == 1
    assert "already holds" in again.output
    entries = asyncio.run(server_audit(server_settings))
    assert [(e.action, e.subject) for e in entries][:3] == [
        ("show", EXPORTED),
        ("export", f"{EXPORTED} 0"),
        ("export", f"{EXPORTED} 1"),
    ]


async def server_audit(settings: Settings) -> list[AuditEntry]:
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            return await AuditRepository(session).entries()
    finally:
        await engine.dispose()


async def test_two_admins_claiming_at_once_get_different_reports_each_claim_chained(
    make_settings: Callable[..., Settings], alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    async with serving(with_admins(make_settings, alice, bob)) as (services, url):
        for user_id in (1, 2):
            await fill_report(Person(services, user_id), {"narrative": canary()})
        async with AdminApiClient(url, alice) as first, AdminApiClient(url, bob) as second:
            next_one = (await first.call("GET", "/v1/claimable"))["id"]
            claim = ("POST", "/v1/claim-next", "claim", next_one, {"id": next_one})
            await first.audited(*claim)
            with pytest.raises(ApiRefused) as taken:
                await second.audited(*claim)  # signed for the report that was next
            assert (taken.value.status, taken.value.reason) == (409, NEXT_CHANGED)
            with pytest.raises(ApiRefused) as by_id:
                await second.audited("POST", f"/v1/reports/{next_one}/claim", "claim", next_one)
            assert (by_id.value.status, by_id.value.reason) == (409, "another admin took it first")
            other = await second.claim_next()
            assert other is not None
            assert other != next_one
            assert await first.claim_next() is None  # nothing new is left
            with pytest.raises(ApiRefused) as nothing:
                await first.audited(*claim)
            assert (nothing.value.status, nothing.value.reason) == (404, NOTHING_NEW)
        entries = await audit_entries(services)
    assert [(e.admin, e.action, e.subject) for e in entries] == [
        (alice.public_key().key_id, "claim", next_one),
        (bob.public_key().key_id, "claim", other),
    ]


async def test_a_released_report_goes_back_to_the_queue_and_the_release_is_chained(
    make_settings: Callable[..., Settings], alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    async with serving(with_admins(make_settings, alice, bob)) as (services, url):
        await fill_report(Person(services), {"narrative": canary()})
        async with AdminApiClient(url, alice) as first, AdminApiClient(url, bob) as second:
            report_id = await first.claim_next()
            assert report_id is not None
            assert await second.claim_next() is None
            await first.release(report_id)
            with pytest.raises(ApiRefused) as again:
                await first.release(report_id)  # it is new now: nothing to give back
            assert again.value.status == 409
            assert await second.claim_next() == report_id
        entries = await audit_entries(services)
    assert [(e.admin, e.action) for e in entries] == [
        (alice.public_key().key_id, "claim"),
        (alice.public_key().key_id, "release"),
        (bob.public_key().key_id, "claim"),
    ]


async def test_status_and_notes_change_only_with_their_signed_audit_entry(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    async with serving(with_admins(make_settings, admin_key)) as (services, url):
        await fill_report(Person(services), {"narrative": canary()})
        async with AdminApiClient(url, admin_key) as client:
            report_id = (await client.call("GET", "/v1/claimable"))["id"]
            target = f"/v1/reports/{report_id}"
            with pytest.raises(ApiRefused) as unsigned:
                await client.call("POST", f"{target}/status", {"status": "closed"})
            assert unsigned.value.status == 428
            await client.set_status(report_id, "claimed")
            with pytest.raises(ApiRefused) as bad:
                await client.set_status(report_id, "deleted")
            assert bad.value.status == 400
            note = "یادداشت تیم".encode()
            sealer = AdminSealer([admin_key.public_key()])
            elsewhere = AdminSealer([bob.public_key()])

            def sealed_by(by: AdminSealer) -> Callable[[int], bytes]:
                return lambda i: by.seal_for_admins(note, ItemRef(report_id, NOTE_KIND, i)).data

            assert await client.add_note(report_id, sealed_by(sealer)) == 0
            with pytest.raises(ApiRefused) as foreign:
                await client.add_note(report_id, sealed_by(elsewhere))
            assert foreign.value.status == 422  # the server reads no note, only its recipients
            stale = sealer.seal_for_admins(note, ItemRef(report_id, NOTE_KIND, 0)).data
            with pytest.raises(ApiRefused) as taken:
                await client.audited(
                    "POST",
                    f"{target}/notes",
                    "note",
                    report_id,
                    {"index": 0, "blob": b64encode(stale)},
                )
            assert taken.value.status == 409
            assert await client.call("GET", f"{target}/counts") == {"note": 1, "reply": 0}
            await client.set_status(report_id, "closed")
            with pytest.raises(ApiRefused) as closed:
                await client.add_note(report_id, sealed_by(sealer))
            assert closed.value.status == 409
            assert closed.value.reason.startswith("the report is closed")
            stored = await client.report(report_id)
        entries = await audit_entries(services)
    assert stored.status == "closed"
    [sealed_note] = [item for item in stored.items if item.kind == NOTE_KIND]
    document = open_answers(stored, admin_key)
    ref = document.item_ref(report_id, NOTE_KIND, 0)
    assert open_with_admin_key(sealed_note.blob, ref, admin_key) == note
    assert [(e.action, e.subject) for e in entries] == [
        ("status", f"{report_id} claimed"),
        ("note", report_id),
        ("status", f"{report_id} closed"),
        ("show", report_id),
    ]


async def test_an_answer_sent_through_the_api_reaches_the_reporter_with_their_code(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    answer_text = "ما با شما تماس می‌گیریم."
    async with serving(with_admins(make_settings, admin_key)) as (services, url):
        person = Person(services)
        code = receipt_code(await fill_report(person, {"narrative": canary()}))
        async with AdminApiClient(url, admin_key) as client:
            report_id = (await client.call("GET", "/v1/claimable"))["id"]
            stored = await client.report(report_id)
            reporter_key = stored.reporter_key
            assert reporter_key is not None
            sealer = AdminSealer([admin_key.public_key()])

            def seal(index: int) -> tuple[bytes, bytes]:
                ref = ItemRef(report_id, REPLY_KIND, index)
                data = answer_text.encode()
                return (
                    seal_for_reporter(data, reporter_key, ref).data,
                    sealer.seal_for_admins(data, ref).data,
                )

            assert await client.add_reply(report_id, seal) == (0, True)  # they asked to be told
            after = await client.report(report_id)
            rows, more = await client.queue_page(None, 1)
        assert team_answers(await person.send(Command("status", code))) == [answer_text]
        entries = await audit_entries(services)
    assert after.status == "claimed"  # answering takes a new report
    assert [e.action for e in entries] == ["show", "reply", "show", "queue"]
    assert entries[-1].subject == "all page 1"
    [(summary, answers_only)] = rows
    assert more is False
    assert summary.id == report_id
    assert answers_only is not None
    assert open_answers(answers_only, admin_key).answers


async def audit_entries(services: Services) -> list[AuditEntry]:
    async with unit_of_work(session_factory(services.engine)) as session:
        return await AuditRepository(session).entries()


async def test_the_queue_pages_fifty_at_a_time_and_refuses_bad_filters(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    async with (
        serving(with_admins(make_settings, admin_key)) as (_, url),
        AdminApiClient(url, admin_key) as client,
    ):
        empty = await client.call("GET", "/v1/queue?page=2")
        assert empty == {"page": 2, "more": False, "reports": []}
        for target in ("/v1/queue?status=secret", "/v1/queue?page=0", "/v1/queue?page=x"):
            with pytest.raises(ApiRefused) as refused:
                await client.call("GET", target)
            assert refused.value.status == 400
        with pytest.raises(ApiRefused) as missing:
            await client.audited("GET", "/v1/reports/NOSUCHREPORT", "show", "NOSUCHREPORT")
        assert missing.value.status == 404


async def test_a_months_snapshot_is_served_with_its_records_or_without_them(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    october = Month.parse("2026-10")
    stored = [StatRecord("false_job", "iranian_forces", "IR", "tehran", "2026-10", "urgent", "yes")]
    sealed = AdminSealer([admin_key.public_key()]).seal_for_admins(b"{}", snapshot_ref(october))
    async with serving(with_admins(make_settings, admin_key)) as (services, url):
        async with unit_of_work(session_factory(services.engine)) as session:
            await StatsRepository(session).add_batch([*stored, *stored])
            await DigestSnapshotRepository(session).add("2026-10", sealed)
        async with AdminApiClient(url, admin_key) as client:
            whole = await client.call("GET", "/v1/digests/2026-10")
            bare = await client.call("GET", "/v1/digests/2026-10?records=0")
            never = await client.call("GET", "/v1/digests/2026-09?records=0")
            for wrong in ("2", "no", ""):
                with pytest.raises(ApiRefused) as refused:
                    await client.call("GET", f"/v1/digests/2026-10?records={wrong}")
                assert (refused.value.status, refused.value.reason) == (400, "records is 0 or 1")
    assert b64decode(whole["snapshot"], size=None) == sealed.data
    assert decode_snapshot(october, whole["records"].encode()) == [*stored, *stored]
    assert bare == {"snapshot": whole["snapshot"], "records": None}  # the trend's reads
    assert never == {"snapshot": None, "records": None}


async def test_a_reviewer_may_not_use_a_leads_route_and_a_lead_may(
    make_settings: Callable[..., Settings], alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    lead = alice.public_key().key_id
    settings = with_admins(make_settings, alice, bob, lead_admin_keys=(lead,))
    async with serving(settings) as (_, url):
        async with AdminApiClient(url, bob) as reviewer:
            with pytest.raises(ApiRefused) as refused:
                await reviewer.call("GET", "/v1/admins")
            assert (refused.value.status, refused.value.reason) == (403, "only a lead may do this")
            issue = {"partner": "geneva", "pin": "1" * 32, "snapshot": None}
            subject = f"geneva:2026-10 {'1' * 32}"
            with pytest.raises(ApiRefused) as digest:
                await reviewer.audited(
                    "POST", "/v1/digests/2026-10/issue", "digest", subject, issue
                )
            assert digest.value.status == 403  # a reviewer issues no digest
        async with AdminApiClient(url, alice) as client:
            assert await client.call("GET", "/v1/whoami") == {
                "key_id": lead,
                "role": "lead",
                "leads": [lead],
            }
            assert await client.call("GET", "/v1/admins") == [
                {"key_id": lead, "role": "lead", "revoked_on": None},
                {"key_id": bob.public_key().key_id, "role": "reviewer", "revoked_on": None},
            ]


async def test_a_reviewer_cannot_revoke_a_key_and_a_lead_locks_one_out_at_once(
    make_settings: Callable[..., Settings],
    alice: AdminPrivateKey,
    bob: AdminPrivateKey,
    carol: AdminPrivateKey,
) -> None:
    lead, reviewer = alice.public_key().key_id, bob.public_key().key_id
    settings = with_admins(make_settings, alice, bob, carol, lead_admin_keys=(lead,))
    async with serving(settings) as (services, url):
        async with AdminApiClient(url, bob) as bobs:
            with pytest.raises(ApiRefused) as refused:
                await bobs.audited("POST", f"/v1/admins/{lead}/revoke", "revoke-access", lead)
            assert (refused.value.status, refused.value.reason) == (403, "only a lead may do this")
        async with AdminApiClient(url, alice) as alices:
            for key_id, status in ((lead, 409), ("0000000000000000", 404)):
                with pytest.raises(ApiRefused) as wrong:
                    await alices.audited(
                        "POST", f"/v1/admins/{key_id}/revoke", "revoke-access", key_id
                    )
                assert wrong.value.status == status
            await alices.audited("POST", f"/v1/admins/{reviewer}/revoke", "revoke-access", reviewer)
            with pytest.raises(ApiRefused) as again:
                await alices.audited(
                    "POST", f"/v1/admins/{reviewer}/revoke", "revoke-access", reviewer
                )
            assert again.value.status == 409
            listed = await alices.call("GET", "/v1/admins")
        async with AdminApiClient(url, bob) as bobs:
            with pytest.raises(ApiRefused) as locked_out:
                await bobs.call("GET", "/v1/whoami")
            assert (locked_out.value.status, locked_out.value.reason) == (
                401,
                "this admin key was revoked by a lead",
            )
        async with AdminApiClient(url, carol) as carols:  # the others work on
            assert (await carols.call("GET", "/v1/whoami"))["role"] == "reviewer"
        entries = await audit_entries(services)
    assert [(e.admin, e.action, e.subject) for e in entries] == [(lead, "revoke-access", reviewer)]
    revoked = {row["key_id"]: row["revoked_on"] for row in listed}
    assert revoked[reviewer] is not None
    assert revoked[lead] is None


async def test_bad_signatures_old_or_future_times_and_replays_are_refused_and_logged(
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    bob: AdminPrivateKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every way to act as an admin without their key, or twice with one request."""
    caplog.set_level(logging.WARNING)
    async with serving(with_admins(make_settings, admin_key)) as (_, url):
        now = int(time.time())
        good = signed_headers(admin_key, "GET", "/v1/whoami", now=now)
        assert (await raw_get(url, "/v1/whoami", good))[0] == 200
        impostor = {**signed_headers(bob, "GET", "/v1/whoami", now=now)}
        impostor["Amanat-Key"] = admin_key.public_key().key_id  # Bob claims to be the admin
        moved = signed_headers(admin_key, "GET", "/v1/whoami", now=now)  # sent elsewhere
        cases: dict[str, tuple[str, dict[str, str], str]] = {
            "replay": ("/v1/whoami", good, "request was already used (a replay)"),
            "impostor": ("/v1/whoami", impostor, "signature does not hold"),
            "moved": ("/v1/queue", moved, "signature does not hold"),
            "old": (
                "/v1/whoami",
                signed_headers(admin_key, "GET", "/v1/whoami", now=now - 6 * 60),
                "request time is more than five minutes off: check the clock",
            ),
            "future": (
                "/v1/whoami",
                signed_headers(admin_key, "GET", "/v1/whoami", now=now + 6 * 60),
                "request time is more than five minutes off: check the clock",
            ),
            "unknown key": (
                "/v1/whoami",
                signed_headers(bob, "GET", "/v1/whoami", now=now),
                "unknown admin key, or a key line without its signing key (v1)",
            ),
            "no headers": ("/v1/whoami", {}, "missing or malformed signature headers"),
            "cut signature": (
                "/v1/whoami",
                {**good, SIGNATURE_HEADER: good[SIGNATURE_HEADER][:-2]},
                "missing or malformed signature headers",
            ),
            "absurd time": (
                "/v1/whoami",
                {**good, TIME_HEADER: "9" * 30},
                "missing or malformed signature headers",
            ),
        }
        for name, (target, headers, reason) in cases.items():
            status, body = await raw_get(url, target, headers)
            assert (status, body) == (401, {"error": reason}), name
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == len(cases)
    logged = "\n".join(refusals)
    assert good[NONCE_HEADER] not in logged
    assert good[SIGNATURE_HEADER][:20] not in logged
    assert "/v1/" not in logged


async def test_a_v1_key_line_cannot_sign_requests(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    v1_line = AdminPublicKey(admin_key.public_key().raw).to_text()
    async with (
        serving(make_settings(admin_public_keys=(v1_line,))) as (_, url),
        AdminApiClient(url, admin_key) as client,
    ):
        with pytest.raises(ApiRefused) as refused:
            await client.call("GET", "/v1/whoami")
    assert "signing key" in refused.value.reason


async def test_a_request_signed_before_the_server_started_is_refused_after_a_restart(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    """Nonces live in volatile memory: a restart must not let an old request in again."""
    async with open_services(with_admins(make_settings, admin_key)) as services:
        began = await services.intake.memory.store.started_at()
        signed_before = signed_headers(
            admin_key, "GET", "/v1/whoami", now=int(began.timestamp()) - 30
        )
        async with running_api(services) as url:
            status, body = await raw_get(url, "/v1/whoami", signed_before)
    assert status == 401
    assert body == {"error": "request was signed before the server started: send it again"}


async def test_with_redis_a_request_taken_by_one_worker_is_refused_by_another(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    client = await redis_or_skip()
    await client.aclose()
    settings = with_admins(make_settings, admin_key, redis_url=REDIS_URL)
    async with serving(settings) as (_, first), serving(settings) as (_, second):
        headers = signed_headers(admin_key, "GET", "/v1/whoami")
        assert (await raw_get(first, "/v1/whoami", headers))[0] == 200
        status, body = await raw_get(second, "/v1/whoami", headers)
    assert (status, body) == (401, {"error": "request was already used (a replay)"})


def test_the_request_digest_follows_the_written_format() -> None:
    """Recomputed from docs/crypto.md §18 with hashlib and struct alone."""
    nonce = bytes(range(16))
    request = SignedRequest("POST", "/v1/reports/ABC/notes?x=1", 1_790_000_000, nonce, b'{"a":1}')

    def lp(*fields: bytes) -> bytes:
        return b"".join(struct.pack(">I", len(f)) + f for f in fields)

    expected = hashlib.sha256(
        lp(
            b"AMANAT-ADMIN-REQUEST",
            b"\x01",
            b"POST",
            b"/v1/reports/ABC/notes?x=1",
            struct.pack(">q", 1_790_000_000),
            nonce,
            hashlib.sha256(b'{"a":1}').digest(),
        )
    ).digest()
    assert request.digest() == expected


def test_a_request_signature_is_not_an_audit_signature(admin_key: AdminPrivateKey) -> None:
    """The same derived key signs both, under different prefixes: neither passes for the other."""
    request = SignedRequest("GET", "/v1/whoami", 1_790_000_000, secrets.token_bytes(16), b"")
    signature = admin_key.sign_request(request)
    public = admin_key.public_key().signing
    assert public is not None
    verifier = Ed25519PublicKey.from_public_bytes(public)
    with pytest.raises(InvalidSignature):
        verifier.verify(signature, audit_message(request.digest()))
    audit_signature = admin_key.sign_audit_entry(request.digest())
    assert signature_holds(public, signature, request)
    assert not signature_holds(public, audit_signature, request)


def test_requests_that_cannot_be_encoded_one_way_are_refused() -> None:
    nonce = bytes(16)
    for method, target in (("get", "/v1"), ("GET", "v1"), ("GET", "/v1 x"), ("GET", "/ü")):
        with pytest.raises(CryptoError):
            SignedRequest(method, target, 1, nonce, b"")
    with pytest.raises(CryptoError):
        SignedRequest("GET", "/v1", 1, b"short", b"")


def test_an_admin_machine_lists_and_verifies_the_audit_chain_through_the_api(
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server_module, "AUDIT_PAGE_SIZE", 2)  # several pages from 5 entries
    server_settings = with_admins(make_settings, admin_key)
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(TEST_PASSPHRASE, scrypt_n=2**10))
    with api_in_a_thread(server_settings, one_report(canary())) as (url, prepared):
        report_id = str(prepared)
        laptop = admin_laptop(server_settings, url, tmp_path)
        app = create_app(CliConfig(load_settings=lambda: laptop, scrypt_n=2**10))

        def amanat(*words: str) -> Result:
            return CliRunner().invoke(
                app, [*words, "--key", str(key_file)], env={PASSPHRASE_ENV: TEST_PASSPHRASE}
            )

        for _ in range(5):
            assert amanat("admin", "show", report_id).exit_code == 0
        listed = amanat("audit", "list", "--last", "3")
        assert listed.exit_code == 0, listed.output
        assert listed.stdout.count(f"show     {report_id}") == 3
        assert listed.stdout.splitlines()[-1].lstrip().startswith("5 ")
        verified = amanat("audit", "verify")
        assert verified.exit_code == 0, verified.output
        assert "5 entries" in verified.stdout
        with sqlite3.connect(tmp_path / "amanat.db") as server_database:
            server_database.execute("UPDATE audit_log SET subject = 'edited' WHERE seq = 3")
        broken = amanat("audit", "verify")
        assert broken.exit_code == 1
        assert "the audit log does not verify" in broken.output
    assert not (tmp_path / "no-such-folder").exists()
