"""A lead queues a digest as they issue it; the server sends it; the audit log keeps both sides.

Each test runs twice: by a lead's machine on the database, and by one through the admin API
(its machine names no usable database). The partner's mail server is a real local aiosmtpd;
the partner opens what arrived with ``pyrage``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest
from click.testing import Result
from sqlalchemy import update
from telegram import Bot
from typer.testing import CliRunner

from bot.adminapi.client import AdminApiClient, ApiRefused
from bot.adminapi.deliveries import NOT_ISSUED
from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.audit import verify
from bot.crypto.encoding import b64encode
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.partner import SealedForPartner, seal_for_partner
from bot.i18n.translations import Translations
from bot.partners.channels import outbox_for
from bot.partners.delivery import Ran, new_delivery_id
from bot.settings import Partner, Settings
from storage.audit import AuditRepository
from storage.db import create_engine, session_factory, unit_of_work
from storage.deliveries import Delivery, DeliveryRepository, NewDelivery
from storage.migrate import upgrade_to_head
from storage.models import DigestDeliveryRow
from storage.records import StatRecord
from storage.repositories import StatsRepository
from tests.api_support import admin_laptop, api_in_a_thread
from tests.delivery_support import MailBox, smtp_server
from tests.test_adminapi import serving, with_admins

FAST_N = 2**10
PASSPHRASE = "correct horse battery staple"
SETTLED = date(2026, 11, 8)


@dataclass
class Lead:
    """A server with one e-mail partner, a lead's key, and the lead's machine."""

    settings: Settings
    laptop: Settings
    key_file: Path
    key: AdminPrivateKey
    identity: pyrage.x25519.Identity
    box: MailBox
    translations: Translations

    def invoke(self, *args: str) -> Result:
        config = CliConfig(
            load_settings=lambda: self.laptop, scrypt_n=FAST_N, today=lambda: SETTLED
        )
        return CliRunner().invoke(
            create_app(config),
            [*args, "--key", str(self.key_file)],
            env={PASSPHRASE_ENV: PASSPHRASE},
        )

    def on_database(self, work: Callable[..., object]) -> object:
        async def go() -> object:
            engine = create_engine(self.settings.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as session:
                    return await work(session)  # type: ignore[misc]
            finally:
                await engine.dispose()

        return asyncio.run(go())

    def deliver_now(self) -> Ran:
        """One run of the server's delivery job."""

        async def go() -> Ran:
            engine = create_engine(self.settings.database_url)
            try:
                outbox = outbox_for(self.settings, engine, self.translations, Bot("1:unused"))
                return await outbox.run()
            finally:
                await engine.dispose()

        return asyncio.run(go())

    def deliveries(self) -> list[Delivery]:
        async def read(session):  # type: ignore[no-untyped-def]
            return await DeliveryRepository(session).listing()

        return self.on_database(read)  # type: ignore[return-value]

    def actions(self) -> list[str]:
        async def read(session):  # type: ignore[no-untyped-def]
            return [entry.action for entry in await AuditRepository(session).entries()]

        return self.on_database(read)  # type: ignore[return-value]


@pytest.fixture(params=["database", "api"])
def lead(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    translations: Translations,
) -> Iterator[Lead]:
    identity = pyrage.x25519.Identity.generate()
    box = MailBox()
    with smtp_server(box) as port:
        settings = make_settings(
            partners=(
                Partner(
                    name="kabul-ngo",
                    language="en",
                    age_recipients=(str(identity.to_public()),),
                    email="digests@kabul-ngo.example",
                ),
            ),
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="plain",
            smtp_from="digests@team.example",
            lead_admin_keys=(admin_key.public_key().key_id,),
        )
        upgrade_to_head(settings.database_url)
        key_file = tmp_path / "admin.key"
        key_file.write_bytes(admin_key.to_file_bytes(PASSPHRASE, scrypt_n=FAST_N))
        world = Lead(settings, settings, key_file, admin_key, identity, box, translations)
        records = [
            StatRecord("recruit_armed", "foreign_military", "AF", "kabul", "2026-10",
                       "not_urgent", "yes")
            for _ in range(9)
        ]  # fmt: skip

        async def add(session):  # type: ignore[no-untyped-def]
            await StatsRepository(session).add_batch(records)

        world.on_database(add)
        if request.param == "database":
            yield world
            return
        with api_in_a_thread(settings) as (url, _):
            world.laptop = admin_laptop(settings, url, tmp_path)
            yield world


def test_an_issued_digest_reaches_the_partner_and_both_sides_are_in_the_audit_log(
    lead: Lead, tmp_path: Path
) -> None:
    out = tmp_path / "outbox"
    issued = lead.invoke("digest", "issue", "--partner", "kabul-ngo", "--month", "2026-10",
                         "--to", str(out), "--deliver")  # fmt: skip
    assert issued.exit_code == 0, issued.output
    assert "Queued for kabul-ngo by email: delivery " in issued.output
    [queued] = lead.deliveries()
    assert (queued.status, queued.channel, queued.month) == ("queued", "email", "2026-10")
    assert lead.deliver_now().delivered == 1
    [mail] = lead.box.messages
    [attachment] = list(mail.iter_attachments())
    sent = attachment.get_payload(decode=True)
    written = (out / "amanat-digest-kabul-ngo-2026-10.zip.age").read_bytes()
    assert sent == written  # the very file the lead wrote and signed the hash of
    archive = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(sent, [lead.identity])))
    assert "amanat-digest/digest.txt" in archive.namelist()

    listed = lead.invoke("digest", "deliveries")
    assert listed.exit_code == 0, listed.output
    assert f"{queued.id}  kabul-ngo  2026-10  email     delivered 2026-" in listed.output
    assert "Chained 1 outcome(s)" in listed.output
    again = lead.invoke("digest", "deliveries")
    assert again.exit_code == 0, again.output
    assert "Chained" not in again.output  # recorded once
    assert lead.actions() == ["digest", "deliver-digest", "delivery-outcome"]

    async def chain(session):  # type: ignore[no-untyped-def]
        return await AuditRepository(session).entries()

    entries = lead.on_database(chain)
    key_id = lead.key.public_key().key_id
    signing = lead.key.public_key().signing
    assert signing is not None
    assert verify(entries, {key_id: signing}).problem is None  # every entry signed by the lead
    assert entries[1].subject.endswith(queued.sha256[:32])
    assert entries[2].subject == f"{queued.id} delivered {datetime.now(UTC).date().isoformat()}"


def test_a_rewritten_or_forged_outbox_row_is_reported(lead: Lead, tmp_path: Path) -> None:
    issued = lead.invoke("digest", "issue", "--partner", "kabul-ngo", "--month", "2026-10",
                         "--to", str(tmp_path), "--deliver")  # fmt: skip
    assert issued.exit_code == 0, issued.output
    lead.deliver_now()
    assert lead.invoke("digest", "deliveries").exit_code == 0
    [delivered] = lead.deliveries()
    forged = NewDelivery(
        new_delivery_id(),
        "kabul-ngo",
        "email",
        "2026-10",
        SealedForPartner(seal_for_partner(b"not ours", [str(lead.identity.to_public())])),
    )

    async def tamper(session):  # type: ignore[no-untyped-def]
        await session.execute(
            update(DigestDeliveryRow)
            .where(DigestDeliveryRow.id == delivered.id)
            .values(status="failed", last_error="refused")
        )
        await DeliveryRepository(session).add(forged, SETTLED, datetime.now(UTC))

    lead.on_database(tamper)
    listed = lead.invoke("digest", "deliveries")
    assert listed.exit_code == 1
    assert f"delivery {delivered.id}: it changed after its outcome was recorded" in listed.output
    assert f"delivery {forged.id}: no lead's audit entry queued it" in listed.output


@pytest.mark.parametrize(
    "repointed", [{"partner": "oslo"}, {"channel": "telegram"}, {"month": "2026-09"}]
)
def test_a_queued_row_repointed_to_another_partner_channel_or_month_is_reported(
    lead: Lead, tmp_path: Path, repointed: dict[str, str]
) -> None:
    """The id and the file's hash still fit the lead's entry; what it names does not."""
    issued = lead.invoke("digest", "issue", "--partner", "kabul-ngo", "--month", "2026-10",
                         "--to", str(tmp_path), "--deliver")  # fmt: skip
    assert issued.exit_code == 0, issued.output
    [queued] = lead.deliveries()
    assert lead.invoke("digest", "deliveries").exit_code == 0

    async def tamper(session):  # type: ignore[no-untyped-def]
        await session.execute(
            update(DigestDeliveryRow).where(DigestDeliveryRow.id == queued.id).values(**repointed)
        )

    lead.on_database(tamper)
    listed = lead.invoke("digest", "deliveries")
    assert listed.exit_code == 1
    assert (
        f"delivery {queued.id}: its partner, channel or month is not the one the lead's audit "
        "entry names" in listed.output
    )
    assert lead.deliver_now().failed == 1  # and the server's job does not send it
    assert lead.box.messages == []


def test_a_written_digest_is_queued_later_and_a_failed_one_again(
    lead: Lead, tmp_path: Path
) -> None:
    never = lead.invoke("digest", "deliver", "--partner", "kabul-ngo", "--month", "2026-10",
                        "--from", str(tmp_path))  # fmt: skip
    assert never.exit_code == 1
    assert "cannot read" in never.output  # nothing was written yet
    path = tmp_path / "amanat-digest-kabul-ngo-2026-10.zip.age"
    path.write_bytes(seal_for_partner(b"zip", [str(lead.identity.to_public())]))
    unissued = lead.invoke("digest", "deliver", "--partner", "kabul-ngo", "--month", "2026-10",
                           "--from", str(tmp_path))  # fmt: skip
    assert unissued.exit_code == 1
    assert "never issued" in unissued.output
    path.unlink()
    assert lead.invoke("digest", "issue", "--partner", "kabul-ngo", "--month", "2026-10",
                       "--to", str(tmp_path)).exit_code == 0  # fmt: skip
    no_hook = lead.invoke("digest", "deliver", "--partner", "kabul-ngo", "--month", "2026-10",
                          "--from", str(tmp_path), "--via", "webhook")  # fmt: skip
    assert no_hook.exit_code == 1
    assert "kabul-ngo has no webhook channel in AMANAT_PARTNERS" in no_hook.output
    queued = lead.invoke("digest", "deliver", "--partner", "kabul-ngo", "--month", "2026-10",
                         "--from", str(tmp_path))  # fmt: skip
    assert queued.exit_code == 0, queued.output
    lead.box.refuse = ["554 5.7.1 rejected"] * 8  # the partner's server refuses every try
    for _ in range(8):
        lead.deliver_now()

        async def due_now(session):  # type: ignore[no-untyped-def]
            await session.execute(
                update(DigestDeliveryRow).values(next_attempt_at=datetime(2000, 1, 1))
            )

        lead.on_database(due_now)
    [failed] = lead.deliveries()
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 8, "refused")
    listed = lead.invoke("digest", "deliveries", "--status", "failed")
    assert "FAILED (refused) after 8 tries" in listed.output
    again = lead.invoke("digest", "redeliver", failed.id)
    assert again.exit_code == 0, again.output
    lead.box.refuse = []
    assert lead.deliver_now().delivered == 1
    assert len(lead.box.messages) == 1
    assert lead.invoke("digest", "deliveries").exit_code == 0  # the new outcome fits
    assert lead.actions() == [
        "digest",
        "deliver-digest",
        "delivery-outcome",
        "redeliver-digest",
        "delivery-outcome",
    ]


async def test_only_a_lead_queues_and_only_queueing_takes_a_large_body(
    make_settings: Callable[..., Settings], alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:

    lead = alice.public_key().key_id
    identity = pyrage.x25519.Identity.generate()
    partner = Partner(
        name="kabul-ngo",
        age_recipients=(str(identity.to_public()),),
        telegram_chat_id=-1_000_000_000_001,
    )
    settings = with_admins(make_settings, alice, bob, lead_admin_keys=(lead,), partners=(partner,))
    large = "x" * (2 * 1024 * 1024)
    async with serving(settings) as (_, url):
        sealed = seal_for_partner(b"zip", [str(identity.to_public())])
        body = {
            "id": new_delivery_id(),
            "partner": "kabul-ngo",
            "channel": "telegram",
            "month": "2026-10",
            "bundle": b64encode(sealed),
        }
        async with AdminApiClient(url, bob) as reviewer:
            with pytest.raises(ApiRefused) as refused:
                await reviewer.audited("POST", "/v1/deliveries", "deliver-digest", "x", body)
            assert refused.value.status == 403
        async with AdminApiClient(url, alice) as client:
            digest = hashlib.sha256(sealed).hexdigest()[:32]
            subject = f"kabul-ngo:2026-10 telegram {body['id']} {digest}"
            with pytest.raises(ApiRefused) as unissued:
                await client.audited("POST", "/v1/deliveries", "deliver-digest", subject, body)
            assert (unissued.value.status, unissued.value.reason) == (409, NOT_ISSUED)
            other = f"kabul-ngo:2026-10 telegram {body['id']} " + "0" * 32  # not the file's hash
            with pytest.raises(ApiRefused) as other_file:
                await client.audited("POST", "/v1/deliveries", "deliver-digest", other, body)
            assert other_file.value.status == 409
            with pytest.raises(ApiRefused) as too_large:
                await client.call("POST", "/v1/reports/ABC/notes", {"blob": large})
            assert too_large.value.status == 413
            plain = {**body, "bundle": b64encode(b"PK zip")}
            with pytest.raises(ApiRefused) as not_age:
                await client.audited("POST", "/v1/deliveries", "deliver-digest", "x", plain)
            assert not_age.value.status == 400
            assert await client.deliveries() == []


def test_an_admin_machine_without_the_servers_secrets_issues_and_queues_by_webhook(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    translations: Translations,
) -> None:
    """Admins' machines share AMANAT_PARTNERS but hold neither the webhook secrets nor the
    mail server's login: their settings load, and they queue by webhook through the API."""
    identity = pyrage.x25519.Identity.generate()
    server = make_settings(
        partners=(
            Partner(
                name="kabul-ngo",
                age_recipients=(str(identity.to_public()),),
                email="digests@kabul-ngo.example",
                webhook_url="https://kabul-ngo.example/amanat",
            ),
        ),
        partner_webhook_secrets={"kabul-ngo": "a-webhook-secret-of-enough-length-0123456789"},
        smtp_host="mail.team.example",
        smtp_user="digests",
        smtp_password="relay password 123",
        smtp_from="digests@team.example",
        lead_admin_keys=(admin_key.public_key().key_id,),
    )
    upgrade_to_head(server.database_url)
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(PASSPHRASE, scrypt_n=FAST_N))
    world = Lead(server, server, key_file, admin_key, identity, MailBox(), translations)
    records = [
        StatRecord("recruit_armed", "foreign_military", "AF", "kabul", "2026-10",
                   "not_urgent", "yes")
        for _ in range(9)
    ]  # fmt: skip

    async def add(session):  # type: ignore[no-untyped-def]
        await StatsRepository(session).add_batch(records)

    world.on_database(add)
    with api_in_a_thread(server) as (url, _):
        world.laptop = admin_laptop(server, url, tmp_path)
        assert world.laptop.partner_webhook_secrets == {}
        assert (world.laptop.smtp_host, world.laptop.smtp_password) == (None, None)
        out = str(tmp_path / "out")
        issued = world.invoke("digest", "issue", "--partner", "kabul-ngo", "--month", "2026-10",
                              "--to", out, "--deliver", "--via", "webhook")  # fmt: skip
        assert issued.exit_code == 0, issued.output
    [queued] = world.deliveries()
    assert (queued.status, queued.channel, queued.partner) == ("queued", "webhook", "kabul-ngo")
    assert world.actions() == ["digest", "deliver-digest"]
