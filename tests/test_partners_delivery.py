"""Digests leave the outbox by Telegram, e-mail and webhook: once, backing off, failing loudly.

Every channel is tested against a real local receiver: aiosmtpd for SMTP (plain to a local
relay, and STARTTLS with a login and a certificate check), an aiohttp server that checks the
webhook's HMAC, and the fake Bot API for Telegram's sendDocument. The partner's side opens
what arrived with ``pyrage``, as ``age -d`` would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from telegram import Bot

from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.partner import SealedForPartner, seal_for_partner
from bot.crypto.webhook import sign_webhook_delivery, webhook_signature_holds
from bot.devtools.fakeapi import FakeBotApi, Fault
from bot.i18n.translations import Translations
from bot.partners.channels import outbox_for
from bot.partners.delivery import LEASE, TAMPERED, Outbox, new_delivery_id
from bot.partners.delivery_audit import DELIVER_ACTION, deliver_subject
from bot.settings import Partner, Settings, describe_invalid_settings
from storage.audit import AuditRepository
from storage.db import create_engine, session_factory, unit_of_work
from storage.deliveries import Delivery, DeliveryRepository, NewDelivery
from storage.migrate import upgrade_to_head_async
from storage.models import DigestDeliveryRow
from tests.botapi_driver import running_amanat
from tests.delivery_support import MailBox, Webhook, self_signed, smtp_server

MONTH = "2026-10"
SECRET = "a-webhook-secret-of-enough-length-0123456789"
T0 = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    """One partner, its age identity, settings with every channel, and the database."""

    settings: Settings
    identity: pyrage.x25519.Identity
    engine: AsyncEngine
    clock: Clock
    translations: Translations
    lead: AdminPrivateKey

    def outbox(self, bot: Bot | None = None, settings: Settings | None = None) -> Outbox:
        return outbox_for(
            settings or self.settings,
            self.engine,
            self.translations,
            bot or Bot("1:unused"),
            clock=self.clock,
        )

    async def queue(self, channel: str, content: bytes = b"PK digest archive") -> str:
        """Queue a digest as a lead does: the row and the lead's signed entry together."""
        sealed = seal_for_partner(content, [str(self.identity.to_public())])
        new = NewDelivery(new_delivery_id(), "kabul-ngo", channel, MONTH, SealedForPartner(sealed))
        async with unit_of_work(session_factory(self.engine)) as session:
            assert await DeliveryRepository(session).add(new, T0.date(), self.clock())
            await queued_by(session, self.lead, new)
        return new.id

    async def get(self, delivery_id: str) -> Delivery:
        async with unit_of_work(session_factory(self.engine)) as session:
            found = await DeliveryRepository(session).get(delivery_id)
        assert found is not None
        return found

    def opened(self, data: bytes) -> bytes:
        return bytes(pyrage.decrypt(data, [self.identity]))


async def queued_by(session: AsyncSession, lead: AdminPrivateKey, new: NewDelivery) -> None:
    """Chain the lead's signed ``deliver-digest`` entry for ``new``."""
    subject = deliver_subject(new.partner, new.month, new.channel, new.id, new.sha256)
    await AuditRepository(session).append(
        T0.date(), lead.public_key().key_id, DELIVER_ACTION, subject, signer=lead.sign_audit_entry
    )


def partner(identity: pyrage.x25519.Identity, **channels: object) -> Partner:
    return Partner(
        name="kabul-ngo",
        language="fa_AF",
        age_recipients=(str(identity.to_public()),),
        **channels,  # type: ignore[arg-type]
    )


@pytest.fixture
async def world(
    make_settings: Callable[..., Settings],
    translations: Translations,
    tmp_path: Path,
    admin_key: AdminPrivateKey,
) -> AsyncIterator[World]:
    identity = pyrage.x25519.Identity.generate()
    settings = make_settings(
        partners=(partner(identity),), lead_admin_keys=(admin_key.public_key().key_id,)
    )
    await upgrade_to_head_async(settings.database_url)
    engine = create_engine(settings.database_url)
    yield World(settings, identity, engine, Clock(), translations, admin_key)
    await engine.dispose()


def with_channels(world: World, **values: object) -> Settings:
    """The world's settings, its partner given these channels, plus other settings."""
    channels = {
        k: v for k, v in values.items() if k in ("telegram_chat_id", "email", "webhook_url")
    }
    rest = {k: v for k, v in values.items() if k not in channels}
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{
            **world.settings.model_dump(),
            "partners": (partner(world.identity, **channels),),
            **rest,
        },
    )


# --------------------------------------------------------------------------- e-mail


async def test_an_email_carries_the_sealed_digest_once_under_its_delivery_id(world: World) -> None:
    box = MailBox()
    with smtp_server(box) as port:
        world.settings = with_channels(
            world,
            email="digests@kabul-ngo.example",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="plain",
            smtp_from="digests@team.example",
        )
        delivery = await world.queue("email", b"the October archive")
        ran = await world.outbox().run()
        again = await world.outbox().run()
    assert (ran.delivered, again.delivered) == (1, 0)
    assert len(box.messages) == 1
    mail = box.messages[0]
    assert box.recipients == [["digests@kabul-ngo.example"]]
    assert mail["Message-ID"] == f"<amanat-digest.{delivery}@team.example>"
    assert mail["Amanat-Delivery"] == delivery
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == f"amanat-digest-kabul-ngo-{MONTH}.zip.age"
    assert world.opened(attachment.get_payload(decode=True)) == b"the October archive"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "age -d -i KEYFILE amanat-digest-kabul-ngo-2026-10.zip.age > digest.zip" in text
    assert delivery in text
    assert "۲۰۲۶" in str(mail["Subject"])  # the partner's language and digits
    done = await world.get(delivery)
    assert (done.status, done.attempts, done.delivered_at) == ("delivered", 1, T0)


async def test_starttls_checks_the_relays_certificate_before_the_password_goes(
    world: World, tmp_path: Path
) -> None:
    box = MailBox()
    context, cert_file = self_signed(tmp_path)
    login = ("digests", "relay password 123")
    with smtp_server(box, tls=context, login=login) as port:
        relay = {
            "email": "digests@kabul-ngo.example",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "starttls",
            "smtp_user": login[0],
            "smtp_password": login[1],
            "smtp_from": "digests@team.example",
        }
        world.settings = with_channels(world, **relay)
        delivery = await world.queue("email")
        assert (await world.outbox().run()).retrying == 1  # the system does not trust it
        failed = await world.get(delivery)
        assert (failed.status, failed.last_error) == ("queued", "tls")
        assert box.logins == []
        trusting = with_channels(world, **relay, smtp_ca_file=cert_file)
        world.clock.move(minutes=5)
        assert (await world.outbox(settings=trusting).run()).delivered == 1
    assert box.logins == ["digests"]
    assert len(box.messages) == 1


async def test_a_relay_that_refuses_is_tried_again_later(world: World) -> None:
    box = MailBox(refuse=["451 4.3.0 try later"])
    with smtp_server(box) as port:
        world.settings = with_channels(
            world,
            email="digests@kabul-ngo.example",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="plain",
            smtp_from="digests@team.example",
        )
        delivery = await world.queue("email")
        await world.outbox().run()
        waiting = await world.get(delivery)
        assert (waiting.status, waiting.last_error) == ("queued", "unavailable")
        world.clock.move(seconds=60)
        await world.outbox().run()
    assert len(box.messages) == 1
    assert {m["Message-ID"] for m in box.messages} == {f"<amanat-digest.{delivery}@team.example>"}


# --------------------------------------------------------------------------- webhook


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    receiver = Webhook(SECRET.encode())
    await receiver.start()
    yield receiver
    await receiver.stop()


def hooked(world: World, webhook: Webhook, **more: object) -> Settings:
    webhook.clock = lambda: world.clock().timestamp()
    return with_channels(
        world, webhook_url=webhook.url, partner_webhook_secrets={"kabul-ngo": SECRET}, **more
    )


async def test_a_webhook_refusing_twice_is_tried_again_with_doubling_waits(
    world: World, webhook: Webhook
) -> None:
    world.settings = hooked(world, webhook)
    webhook.answers = [503, 503]
    delivery = await world.queue("webhook", b"archive bytes")
    outbox = world.outbox()
    assert (await outbox.run()).retrying == 1
    assert (await world.get(delivery)).next_attempt_at == T0 + timedelta(seconds=60)
    world.clock.move(seconds=59)
    assert await outbox.run() == type(await outbox.run())()  # nothing due yet
    world.clock.move(seconds=1)
    assert (await outbox.run()).retrying == 1
    second = await world.get(delivery)
    assert second.next_attempt_at == world.clock() + timedelta(seconds=120)  # doubled
    assert (second.attempts, second.last_error) == (2, "unavailable")
    world.clock.move(seconds=120)
    assert (await outbox.run()).delivered == 1
    assert len(webhook.posts) == 3
    assert all(post.signed for post in webhook.posts)
    assert {post.delivery for post in webhook.posts} == {delivery}
    assert world.opened(webhook.kept[delivery]) == b"archive bytes"
    done = await world.get(delivery)
    assert (done.status, done.attempts, done.last_error) == ("delivered", 3, None)


async def test_a_webhook_with_the_wrong_secret_is_refused_and_never_counted_delivered(
    world: World, webhook: Webhook
) -> None:
    world.settings = hooked(world, webhook)
    webhook.secret = b"the partner holds another secret, 32+ chars"
    delivery = await world.queue("webhook")
    await world.outbox().run()
    refused = await world.get(delivery)
    assert (refused.status, refused.last_error) == ("queued", "refused")
    assert webhook.kept == {}


async def test_the_waits_stop_growing_at_the_cap_and_the_last_try_fails_it(
    world: World, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    world.settings = hooked(
        world,
        webhook,
        delivery_attempts=4,
        delivery_retry_seconds=60,
        delivery_retry_cap_seconds=100,
    )
    webhook.answers = [500] * 10
    delivery = await world.queue("webhook")
    waits = []
    with caplog.at_level(logging.INFO):
        for _ in range(4):
            await world.outbox().run()
            state = await world.get(delivery)
            if state.next_attempt_at is not None:
                waits.append(state.next_attempt_at - world.clock())
                world.clock.move(seconds=100)
    assert waits == [timedelta(seconds=60), timedelta(seconds=100), timedelta(seconds=100)]
    failed = await world.get(delivery)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 4, "unavailable")
    world.clock.move(days=1)
    await world.outbox().run()
    assert len(webhook.posts) == 4  # a failed delivery waits for a lead
    logged = caplog.text
    assert "failed for good" in logged
    for secret in (delivery, "kabul-ngo", SECRET, webhook.url, "127.0.0.1"):
        assert secret not in logged


async def test_a_partner_without_the_channel_fails_at_once(world: World) -> None:
    delivery = await world.queue("webhook")  # the server's settings give it no webhook
    ran = await world.outbox().run()
    assert ran.failed == 1
    failed = await world.get(delivery)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, "not-configured")


class Crash(BaseException):
    """The worker's process ends here (a deploy, an out-of-memory kill)."""


async def test_a_crash_between_send_and_mark_sends_again_under_the_same_id(
    world: World, webhook: Webhook
) -> None:
    world.settings = hooked(world, webhook)
    delivery = await world.queue("webhook")
    dying = world.outbox()
    real = dying.senders["webhook"]

    async def send_then_die(claimed):  # type: ignore[no-untyped-def]
        await real(claimed)
        raise Crash

    crashing = Outbox(
        dying.sessions, {"webhook": send_then_die}, dying.backoff, dying.clock, dying.leads
    )
    with pytest.raises(Crash):
        await crashing.run()
    assert (await world.get(delivery)).status == "sending"
    world.clock.move(minutes=5)
    assert (await world.outbox().run()).delivered == 0  # the claim still holds
    world.clock.move(seconds=LEASE.total_seconds())
    assert (await world.outbox().run()).delivered == 1
    assert [post.delivery for post in webhook.posts] == [delivery, delivery]
    assert list(webhook.kept) == [delivery]  # the receiver dropped the duplicate
    assert (await world.get(delivery)).attempts == 2


async def test_two_workers_send_each_due_try_once(
    database_url: str, world: World, webhook: Webhook
) -> None:
    """Two workers on one database, at the same moment, with no job lock between them."""
    world.settings = hooked(world, webhook, database_url=database_url)
    await upgrade_to_head_async(database_url)
    first, second = create_engine(database_url), create_engine(database_url)
    try:
        world.engine = first
        ids = [await world.queue("webhook") for _ in range(6)]
        one = world.outbox()
        world.engine = second
        two = world.outbox()
        ran = await asyncio.gather(one.run(), two.run(), one.run(), two.run())
    finally:
        await first.dispose()
        await second.dispose()
    assert sum(r.delivered for r in ran) == 6
    assert sorted(post.delivery for post in webhook.posts) == sorted(ids)


async def test_times_are_kept_in_utc_whatever_the_machines_zone(
    database_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A time without its zone would be read in the connection's zone: on a machine set to
    Kabul's time, a try due at 08:00 UTC came back as due at 03:30 UTC."""
    monkeypatch.setenv("TZ", "Asia/Kabul")
    time.tzset()
    try:
        world.settings = with_channels(world, database_url=database_url)
        await upgrade_to_head_async(database_url)
        engine = create_engine(database_url)
        try:
            world.engine = engine
            delivery = await world.queue("webhook")
            async with unit_of_work(session_factory(engine)) as session:
                assert [d.id for d in await DeliveryRepository(session).due(T0, 10)] == [delivery]
                early = T0 - timedelta(minutes=1)
                assert await DeliveryRepository(session).due(early, 10) == []
            assert (await world.get(delivery)).next_attempt_at == T0
        finally:
            await engine.dispose()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# --------------------------------------------------------------------------- Telegram


async def test_telegram_gets_the_digest_as_a_document_after_a_bad_gateway(world: World) -> None:
    async with FakeBotApi() as server:
        group = -1_000_000_000_777
        chat = server.world.chat({"id": group, "type": "supergroup", "title": "Kabul NGO"})
        chat.faults.append(Fault("sendDocument", "502"))
        world.settings = with_channels(world, telegram_chat_id=group)
        delivery = await world.queue("telegram", b"zip")
        async with Bot(server.token, base_url=server.base_url) as bot:
            assert (await world.outbox(bot).run()).retrying == 1
            world.clock.move(seconds=60)
            assert (await world.outbox(bot).run()).delivered == 1
        server.assert_no_violations()
        assert len(server.calls_to("sendDocument")) == 2
        [shown] = [m for m in chat.messages.values() if "document" in m.data]
    document = shown.data["document"]
    assert document["file_name"] == f"amanat-digest-kabul-ngo-{MONTH}.zip.age"
    assert delivery in shown.data["caption"]
    assert (await world.get(delivery)).status == "delivered"


async def test_a_chat_that_removed_the_bot_is_a_kind_not_a_text(world: World) -> None:
    async with FakeBotApi() as server:
        world.settings = with_channels(world, telegram_chat_id=-1_000_000_000_778)
        delivery = await world.queue("telegram")  # Telegram knows no such chat
        async with Bot(server.token, base_url=server.base_url) as bot:
            await world.outbox(bot).run()
    state = await world.get(delivery)
    assert (state.status, state.last_error) == ("queued", "blocked")


# --------------------------------------------------------------------------- the outbox itself


async def test_the_outbox_takes_only_age_files_and_drops_them_once_delivered(
    world: World, webhook: Webhook
) -> None:
    with pytest.raises(ValueError, match="age"):
        SealedForPartner(b"PK\x03\x04 a plain zip archive")
    world.settings = hooked(world, webhook)
    delivery = await world.queue("webhook")
    async with unit_of_work(session_factory(world.engine)) as session:
        assert await DeliveryRepository(session).file_hash(delivery) is not None
    await world.outbox().run()
    async with unit_of_work(session_factory(world.engine)) as session:
        assert await DeliveryRepository(session).file_hash(delivery) is None


@pytest.mark.parametrize(
    "tamper", ["bundle", "partner", "channel", "month", "unsigned", "forged", "reviewer"]
)
async def test_a_row_or_file_no_lead_signed_is_failed_without_sending(
    world: World, webhook: Webhook, caplog: pytest.LogCaptureFixture, tamper: str
) -> None:
    """Someone with write access to the database swaps a queued file, repoints a row, or adds
    a row with an entry no lead signed: the job fails it at once, and sends nothing."""
    other = pyrage.x25519.Identity.generate()
    world.settings = hooked(world, webhook, telegram_chat_id=-1_000_000_000_790)
    world.settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{
            **world.settings.model_dump(),
            "partners": (
                *world.settings.partners,
                Partner(name="oslo", age_recipients=(str(other.to_public()),),
                        webhook_url=webhook.url),
            ),
            "partner_webhook_secrets": {"kabul-ngo": SECRET, "oslo": SECRET},
        },
    )  # fmt: skip
    delivery = await world.queue("webhook", b"the lead's archive")
    reviewer = AdminPrivateKey.generate()
    changes: dict[str, object] = {
        "bundle": {"bundle": seal_for_partner(b"another", [str(world.identity.to_public())])},
        "partner": {"partner": "oslo"},
        "channel": {"channel": "telegram"},
        "month": {"month": "2026-09"},
    }
    async with unit_of_work(session_factory(world.engine)) as session:
        if tamper in changes:
            await session.execute(
                update(DigestDeliveryRow)
                .where(DigestDeliveryRow.id == delivery)
                .values(**changes[tamper])  # type: ignore[arg-type]
            )
        else:  # a row added with an entry: not signed, signed by no one, or by a reviewer
            sealed = seal_for_partner(b"forged", [str(world.identity.to_public())])
            new = NewDelivery(
                new_delivery_id(), "kabul-ngo", "webhook", MONTH, SealedForPartner(sealed)
            )
            await DeliveryRepository(session).add(new, T0.date(), world.clock())
            subject = deliver_subject(new.partner, new.month, new.channel, new.id, new.sha256)
            lead_id = world.lead.public_key().key_id
            admin, signer = {
                "unsigned": (lead_id, lambda digest: bytes(64)),
                "forged": (lead_id, reviewer.sign_audit_entry),
                "reviewer": (reviewer.public_key().key_id, reviewer.sign_audit_entry),
            }[tamper]
            await AuditRepository(session).append(
                T0.date(), admin, DELIVER_ACTION, subject, signer=signer
            )
            await session.execute(delete(DigestDeliveryRow).where(DigestDeliveryRow.id == delivery))
            delivery = new.id
    if tamper == "reviewer":  # a reviewer's key the server knows, but no lead's
        world.settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            **{
                **world.settings.model_dump(),
                "admin_public_keys": (
                    *world.settings.admin_public_keys,
                    reviewer.public_key().to_text(),
                ),
            },
        )
    with caplog.at_level(logging.INFO):
        ran = await world.outbox().run()
    assert (ran.failed, ran.delivered) == (1, 0)
    assert webhook.posts == []
    failed = await world.get(delivery)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, TAMPERED)
    assert "tampered" in caplog.text
    for secret in (delivery, "kabul-ngo", "oslo"):
        assert secret not in caplog.text


def test_a_webhook_signature_covers_time_id_partner_month_and_body() -> None:
    key = SECRET.encode()
    header = sign_webhook_delivery(key, 1700000000, "a" * 32, "kabul-ngo", MONTH, b"body")
    assert header.startswith("v1=")
    assert webhook_signature_holds(key, header, 1700000000, "a" * 32, "kabul-ngo", MONTH, b"body")
    for changed in (
        (1700000001, "a" * 32, "kabul-ngo", MONTH, b"body"),
        (1700000000, "b" * 32, "kabul-ngo", MONTH, b"body"),
        (1700000000, "a" * 32, "oslo", MONTH, b"body"),
        (1700000000, "a" * 32, "kabul-ngo", "2026-09", b"body"),
        (1700000000, "a" * 32, "kabul-ngo", MONTH, b"bodY"),
    ):
        assert not webhook_signature_holds(key, header, *changed)


# --------------------------------------------------------------------------- settings


def problems(**values: object) -> list[str]:
    try:
        Settings(_env_file=None, **values)  # type: ignore[call-arg]
    except ValidationError as exc:
        return [str(problem) for problem in describe_invalid_settings(exc)]
    return []


def test_delivery_settings_are_checked_and_named_by_their_variable() -> None:
    key = str(pyrage.x25519.Identity.generate().to_public())

    def partners(**channels: object) -> str:
        return json.dumps([{"name": "kabul-ngo", "age_recipients": [key], **channels}])

    assert problems(partners=partners(webhook_url="http://partner.example/hook")) == [
        "AMANAT_PARTNERS: partner 1, webhook_url: must be an https:// URL (http:// only to "
        "this machine)"
    ]
    # An admin's machine shares the partners, not the secrets: the server checks at start.
    assert problems(partners=partners(webhook_url="https://partner.example/hook")) == []
    assert problems(partner_webhook_secrets=json.dumps({"oslo": SECRET})) == [
        "AMANAT_PARTNER_WEBHOOK_SECRETS: names oslo, which is no partner with a webhook_url"
    ]
    assert (
        problems(
            partners=partners(webhook_url="https://partner.example/hook"),
            partner_webhook_secrets=json.dumps({"kabul-ngo": SECRET}),
        )
        == []
    )
    assert problems(partners=partners(email="digests@partner.example")) == []
    assert problems(partners=partners(email="a@b.example\nBcc: x@y.example")) == [
        "AMANAT_PARTNERS: partner 1, email: must be one plain e-mail address, like "
        "digests@example.org"
    ]
    assert problems(smtp_host="mail.example.org", smtp_security="plain") == [
        "AMANAT_SMTP_SECURITY: plain is only for a mail relay on this machine: use starttls or tls"
    ]
    weak = "short secret"
    found = problems(
        partners=partners(webhook_url="https://partner.example/hook"),
        partner_webhook_secrets=json.dumps({"kabul-ngo": weak}),
        smtp_user="digests",
    )
    assert found == [
        "AMANAT_SMTP_PASSWORD: is required with AMANAT_SMTP_USER",
        "AMANAT_PARTNER_WEBHOOK_SECRETS: the secret of kabul-ngo must be 32 to 256 printable "
        "characters, no spaces (e.g. `openssl rand -base64 32`)",
    ]
    assert not any(weak in line for line in found)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        partners=partners(webhook_url="https://partner.example/hook"),
        partner_webhook_secrets=json.dumps({"kabul-ngo": SECRET}),
        smtp_host="mail.example.org",
        smtp_user="digests",
        smtp_password="relay password 123",
    )
    assert SECRET not in repr(settings)
    assert "relay password 123" not in repr(settings)
    assert settings.partner_webhook_key("kabul-ngo") == SECRET.encode()


# --------------------------------------------------------------------------- the running bot


async def test_the_running_bot_schedules_the_delivery_job_and_it_sends(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> None:
    """Wired by the composition root: the bot's own "deliveries" job, run as its job queue
    runs it, sends a queued digest to the partner's chat through the bot's own Bot."""
    identity = pyrage.x25519.Identity.generate()
    group = -1_000_000_000_779
    chosen = (partner(identity, telegram_chat_id=group),)
    lead = (admin_key.public_key().key_id,)
    async with running_amanat(make_settings, partners=chosen, lead_admin_keys=lead) as running:
        chat = running.server.world.chat({"id": group, "type": "supergroup", "title": "NGO"})
        jobs = running.driver.application.job_queue
        assert jobs is not None
        [job] = jobs.get_jobs_by_name("deliveries")
        assert {j.name for j in jobs.jobs()} == {"purge", "notices", "deliveries"}
        sealed = seal_for_partner(b"zip", [str(identity.to_public())])
        new = NewDelivery(
            new_delivery_id(), "kabul-ngo", "telegram", MONTH, SealedForPartner(sealed)
        )
        async with unit_of_work(session_factory(running.engine)) as session:
            assert await DeliveryRepository(session).add(new, T0.date(), datetime.now(UTC))
            await queued_by(session, admin_key, new)
        await job.run(running.driver.application)
        [shown] = [m for m in chat.messages.values() if "document" in m.data]
        assert new.id in shown.data["caption"]
        running.server.assert_no_violations()
        async with unit_of_work(session_factory(running.engine)) as session:
            state = await DeliveryRepository(session).get(new.id)
    assert state is not None
    assert state.status == "delivered"
