"""The ``amanat digest`` delivery commands: queue a digest, list the outbox, queue it again.

The outbox, the delivery job and the audit reasoning live in :mod:`storage.deliveries`,
:mod:`bot.partners.delivery` and :mod:`bot.partners.delivery_audit`. Every command works
directly on the database or through the admin API (AMANAT_ADMIN_API_URL), alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final

import typer

from bot.adminapi.client import AdminApiClient
from bot.adminapi.deliveries import delivery_fields
from bot.cli.common import (
    CliConfig,
    CliError,
    KeyOption,
    Sessions,
    Work,
    audit,
    fail,
    find_partner,
    load_key,
    load_settings,
    run_storage,
)
from bot.cli.remote import run_api
from bot.crypto.encoding import b64encode
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.partner import SealedForPartner
from bot.partners.delivery import new_delivery_id
from bot.partners.delivery_audit import (
    DELIVER_ACTION,
    OUTCOME_ACTION,
    REDELIVER_ACTION,
    Checked,
    check,
    deliver_subject,
    lead_signing_keys,
    outcome_subject,
    was_issued,
)
from bot.partners.months import Month, PartnerDigestError
from bot.partners.outbox import digest_file_name
from bot.settings import DELIVERY_CHANNELS, Partner, Settings
from storage.audit import AuditRepository
from storage.db import unit_of_work
from storage.deliveries import (
    DELIVERED,
    DELIVERY_STATUSES,
    Delivery,
    DeliveryRepository,
    NewDelivery,
)

ViaOption = Annotated[
    list[str] | None,
    typer.Option(
        "--via",
        help="A channel to deliver by (telegram, email, webhook); repeat for several. "
        "Default: every channel the partner has in AMANAT_PARTNERS.",
    ),
]
_DELIVERY_ID: Final = re.compile(r"[0-9a-f]{32}")


def register(digest_app: typer.Typer, config: CliConfig) -> None:
    """Add ``deliver``, ``deliveries`` and ``redeliver`` to ``amanat digest``."""

    @digest_app.command("deliver")
    def digest_deliver(
        partner_name: Annotated[
            str, typer.Option("--partner", help="A partner named in AMANAT_PARTNERS.")
        ],
        month_text: Annotated[str, typer.Option("--month", help="The digest's month, YYYY-MM.")],
        folder: Annotated[
            Path, typer.Option("--from", help="The folder `digest issue --to` wrote it to.")
        ],
        via: ViaOption = None,
        key: KeyOption = None,
    ) -> None:
        """Queue a digest already issued and written for delivery to its partner (a lead).

        The server sends it by each channel, exactly once, trying again with growing waits.
        Your signed audit entry names the file's SHA-256.

        Example: amanat digest deliver --partner kabul-ngo --month 2026-10 --from outbox
        """
        settings = load_settings(config)
        partner = find_partner(settings, partner_name)
        try:
            month = Month.parse(month_text)
        except PartnerDigestError as exc:
            fail(str(exc))
        path = folder / digest_file_name(partner.name, month)
        try:
            sealed = SealedForPartner(path.read_bytes())
        except OSError as exc:
            fail(f"cannot read {path} ({exc.strerror or type(exc).__name__})")
        except ValueError as exc:
            fail(f"{path}: {exc}")
        holder = load_key(settings, key)
        for line in queue_digest(settings, holder, partner, month, sealed, via):
            typer.echo(line)

    @digest_app.command("deliveries")
    def digest_deliveries(
        status: Annotated[
            str | None,
            typer.Option("--status", help=f"Only these: {', '.join(DELIVERY_STATUSES)}."),
        ] = None,
        key: KeyOption = None,
    ) -> None:
        """List the outbox, and chain each finished delivery's outcome in the audit log.

        The server cannot sign the audit log; your machine chains, in your name, each
        delivered or failed delivery the log does not hold yet, and checks every delivery
        against the lead's entry that queued it. A delivery that does not fit is reported
        and the command exits 1.

        Example: amanat digest deliveries --status failed
        """
        settings = load_settings(config)
        if status is not None and status not in DELIVERY_STATUSES:
            fail(f"--status is one of: {', '.join(DELIVERY_STATUSES)}")
        holder = load_key(settings, key)
        leads = lead_signing_keys(settings)
        if settings.admin_api_url is not None:
            checked = run_api(
                settings.admin_api_url, holder, lambda api: _list_through_api(api, status, leads)
            )
        else:
            checked = run_storage(settings, _list(holder, status, leads))
        problems = 0
        for item in checked:
            typer.echo(_line(item.delivery))
            for problem in item.problems:
                typer.echo(f"warning: delivery {item.delivery.id}: {problem}", err=True)
                problems += 1
        if not checked:
            typer.echo("The outbox is empty." if status is None else f"No delivery is {status}.")
        recorded = sum(1 for item in checked if item.needs_recording)
        if recorded:
            typer.echo(f"Chained {recorded} outcome(s) in the audit log, signed by you.")
        if problems:
            raise typer.Exit(1)

    @digest_app.command("redeliver")
    def digest_redeliver(
        delivery_id: Annotated[str, typer.Argument(help="The delivery's id (32 hex digits).")],
        key: KeyOption = None,
    ) -> None:
        """Queue a failed delivery again, with all its tries (a lead), after fixing the cause.

        Example: amanat digest redeliver 3f0c…
        """
        settings = load_settings(config)
        if not _DELIVERY_ID.fullmatch(delivery_id):
            fail("a delivery id is 32 hex digits, as `amanat digest deliveries` lists it")
        holder = load_key(settings, key)
        if settings.admin_api_url is not None:
            run_api(
                settings.admin_api_url,
                holder,
                lambda api: api.audited(
                    "POST",
                    f"/v1/deliveries/{delivery_id}/retry",
                    REDELIVER_ACTION,
                    delivery_id,
                ),
            )
        else:
            run_storage(settings, _requeue(holder, delivery_id))
        typer.echo(f"Delivery {delivery_id} is queued again.")


def queue_digest(
    settings: Settings,
    key: AdminPrivateKey,
    partner: Partner,
    month: Month,
    sealed: SealedForPartner,
    via: Sequence[str] | None,
) -> list[str]:
    """Queue one issued digest by each chosen channel; return a line per delivery to show.

    Directly on the database, or through the admin API: either way, each delivery and the
    lead's signed ``deliver-digest`` entry naming its file's hash are stored together.
    """
    channels = chosen_channels(partner, via)
    news = [
        NewDelivery(new_delivery_id(), partner.name, channel, str(month), sealed)
        for channel in channels
    ]
    if settings.admin_api_url is not None:
        run_api(settings.admin_api_url, key, lambda api: _queue_through_api(api, news))
    else:
        run_storage(settings, _queue(key, month, news))
    return [
        f"Queued for {new.partner} by {new.channel}: delivery {new.id} "
        f"(sha256 {new.sha256[:16]}...); `amanat digest deliveries` shows how it goes"
        for new in news
    ]


def chosen_channels(partner: Partner, via: Sequence[str] | None) -> list[str]:
    """The channels asked for, each one the partner has; fail naming what is missing."""
    if not partner.channels:
        fail(
            f"{partner.name} has no delivery channel in AMANAT_PARTNERS "
            "(telegram_chat_id, email or webhook_url)"
        )
    if not via:
        return list(partner.channels)
    chosen = []
    for channel in via:
        if channel not in DELIVERY_CHANNELS:
            fail(f"--via is one of: {', '.join(DELIVERY_CHANNELS)}")
        if channel not in partner.channels:
            fail(f"{partner.name} has no {channel} channel in AMANAT_PARTNERS")
        if channel not in chosen:
            chosen.append(channel)
    return chosen


def _subject(new: NewDelivery) -> str:
    return deliver_subject(new.partner, new.month, new.channel, new.id, new.sha256)


def _queue(key: AdminPrivateKey, month: Month, news: Sequence[NewDelivery]) -> Work[None]:
    """Check the chain holds the digest's issue, then store each delivery with its entry."""

    async def work(sessions: Sessions) -> None:
        async with unit_of_work(sessions) as session:
            entries = await AuditRepository(session).entries()
            if not was_issued(entries, news[0].partner, month):
                raise CliError(
                    f"the digest of {month} for {news[0].partner} was never issued: "
                    "run `amanat digest issue` first"
                )
            outbox = DeliveryRepository(session)
            now = datetime.now(UTC)
            for new in news:
                if not await outbox.add(new, now.date(), now):
                    raise CliError("a delivery id was taken: run the command again")
                await audit(session, key, DELIVER_ACTION, _subject(new))

    return work


async def _queue_through_api(api: AdminApiClient, news: Sequence[NewDelivery]) -> None:
    for new in news:
        await api.audited(
            "POST",
            "/v1/deliveries",
            DELIVER_ACTION,
            _subject(new),
            {
                "id": new.id,
                "partner": new.partner,
                "channel": new.channel,
                "month": new.month,
                "bundle": b64encode(new.bundle.data),
            },
        )


def _list(
    key: AdminPrivateKey, status: str | None, leads: Mapping[str, bytes]
) -> Work[list[Checked]]:
    """Read the outbox and the chain, check them, chain the outcomes not chained yet."""

    async def work(sessions: Sessions) -> list[Checked]:
        async with unit_of_work(sessions) as session:
            outbox = DeliveryRepository(session)
            listed = await outbox.listing(status)
            hashes = {
                item.id: await outbox.file_hash(item.id)
                for item in listed
                if item.status != DELIVERED
            }
            checked = check(listed, await AuditRepository(session).entries(), leads, hashes)
            for item in checked:
                subject = outcome_subject(item.delivery)
                if item.needs_recording and subject is not None:
                    await audit(session, key, OUTCOME_ACTION, subject)
        return checked

    return work


async def _list_through_api(
    api: AdminApiClient, status: str | None, leads: Mapping[str, bytes]
) -> list[Checked]:
    """The outbox as the server lists it, checked against the chain; outcomes chained."""
    listed = await api.deliveries(status)
    checked = check(listed, await api.audit_entries(), leads)
    for item in checked:
        subject = outcome_subject(item.delivery)
        if item.needs_recording and subject is not None:
            await api.audited(
                "POST", f"/v1/deliveries/{item.delivery.id}/outcome", OUTCOME_ACTION, subject
            )
    return checked


def _requeue(key: AdminPrivateKey, delivery_id: str) -> Work[None]:
    async def work(sessions: Sessions) -> None:
        async with unit_of_work(sessions) as session:
            if not await DeliveryRepository(session).requeue(delivery_id, datetime.now(UTC)):
                raise CliError("no failed delivery has this id")
            await audit(session, key, REDELIVER_ACTION, delivery_id)

    return work


def _line(item: Delivery) -> str:
    """One delivery as a line: id, whom, what, how, where it stands."""
    fields = delivery_fields(item)
    if item.status == DELIVERED:
        where = f"delivered {fields['delivered_at']}"
    elif item.status == "failed":
        where = f"FAILED ({item.last_error}) after {item.attempts} tries"
    else:
        after = f", last: {item.last_error}" if item.last_error else ""
        where = f"{item.status}, next try {fields['next_attempt_at']}{after}"
    return f"{item.id}  {item.partner}  {item.month}  {item.channel:<8}  {where}"
