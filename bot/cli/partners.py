"""The ``amanat digest`` commands: preview counts, and issue one month's digest to a partner.

Disclosure control lives in :mod:`bot.partners.digest`; periods and settling in
:mod:`bot.partners.months`; the one snapshot per month that every digest of it renders, and
the audit entry that pins it, in :mod:`bot.partners.snapshot`; sealing to a partner's age key
in :mod:`bot.crypto.partner`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.admin.opening import describe_problem
from bot.adminapi.client import AdminApiClient
from bot.cli.common import (
    CliConfig,
    CliError,
    KeyOption,
    Lang,
    LangOption,
    Sessions,
    Work,
    admin_translations,
    audit,
    fail,
    find_partner,
    key_path,
    load_key,
    load_settings,
    run_storage,
)
from bot.cli.deliveries import ViaOption, chosen_channels, queue_digest
from bot.cli.keys import configured_keys, current_keys
from bot.cli.remote import run_api
from bot.crypto.audit import AuditEntry
from bot.crypto.encoding import b64decode, b64encode
from bot.crypto.errors import CryptoError
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.partner import SealedForPartner, seal_for_partner
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import SealedBlob
from bot.partners.bundle import Team, build_bundle
from bot.partners.digest import (
    MARGIN_FIELDS,
    MIN_K,
    build_digest,
    digest_of_margins,
    render_digest,
)
from bot.partners.months import Month, PartnerDigestError, settled_from
from bot.partners.outbox import check_new_file, digest_file_name, write_new_file
from bot.partners.snapshot import (
    DIGEST_ACTION,
    DIGEST_RULES,
    Drift,
    FirstIssue,
    Snapshot,
    decode_snapshot,
    digest_subject,
    drift,
    encode_pinned_snapshot,
    first_issue,
    read_snapshot,
    require_pinned,
    snapshot_pin,
    snapshot_ref,
)
from bot.partners.trend import TrendPoint, months_before, trend_point
from bot.settings import Settings
from storage.audit import AuditRepository
from storage.db import unit_of_work
from storage.records import StatMargins, StatRecord
from storage.repositories import StatsRepository
from storage.snapshots import DigestSnapshotRepository


def register(digest_app: typer.Typer, config: CliConfig) -> None:
    """Add the digest commands to ``amanat digest``."""

    @digest_app.command("preview")
    def digest_preview(
        lang: LangOption = Lang.en,
        k: Annotated[
            int | None,
            typer.Option("--k", help="Smallest count shown (at least the configured k)."),
        ] = None,
        month_text: Annotated[
            str | None,
            typer.Option("--month", help="Count one month only (YYYY-MM), as `issue` does."),
        ] = None,
        key: KeyOption = None,
    ) -> None:
        """Show the counts a partner would receive, with small cells hidden.

        With --month it shows what `issue` renders: the month's snapshot once it was issued
        (opening it needs the admin key), else the records stored now. Without --month it
        counts every record: for the team's eyes only, never to send, since two such previews
        taken on different days can be subtracted.

        Example: amanat digest preview --month 2026-11 --lang fa
        """
        settings = load_settings(config)
        smallest = k if k is not None else settings.k_anonymity
        floor = max(settings.k_anonymity, MIN_K)
        if smallest < floor:
            fail(
                f"--k must be at least {floor} (the configured k, and never below {MIN_K}): "
                "a preview must not show what a digest never may"
            )
        try:
            month = Month.parse(month_text) if month_text is not None else None
        except PartnerDigestError as exc:
            fail(str(exc))
        translations = admin_translations(settings, lang)
        url = settings.admin_api_url
        try:
            if month is None and url is None:
                digest = digest_of_margins(run_storage(settings, _stat_margins()), smallest)
            elif month is None:
                holder = load_key(settings, key)  # signs the request
                margins = run_api(url or "", holder, _margins_through_api)
                digest = digest_of_margins(margins, smallest)
            else:
                shown = _month_for_preview(settings, key, month)
                pinned = shown.k if k is None and shown.k is not None else smallest
                digest = build_digest(shown.records, pinned, roll_up=shown.roll_up)
        except ValueError as exc:
            fail(str(exc))
        period = (month.year, month.month) if month is not None else None
        typer.echo(render_digest(digest, lang.value, translations, period=period), nl=False)

    @digest_app.command("issue")
    def digest_issue(
        partner_name: Annotated[
            str, typer.Option("--partner", help="A partner named in AMANAT_PARTNERS.")
        ],
        month_text: Annotated[
            str, typer.Option("--month", help="The one finished month to count, YYYY-MM.")
        ],
        to: Annotated[Path, typer.Option("--to", help="Folder for the encrypted digest file.")],
        deliver: Annotated[
            bool,
            typer.Option(
                "--deliver",
                help="Also queue the file for the server to deliver to the partner "
                "(by each channel of --via, default all the partner has).",
            ),
        ] = False,
        via: ViaOption = None,
        key: KeyOption = None,
    ) -> None:
        """Encrypt one finished month's digest to a partner's age key.

        The month's first issue takes a snapshot of its records, sealed to the admins, and
        every later issue of it, to any partner, renders exactly that snapshot: two digests of
        one month never differ, so neither can be subtracted from the other.

        Example: amanat digest issue --partner kabul-legal --month 2026-11 --to outbox
        """
        settings = load_settings(config)
        partner = find_partner(settings, partner_name)
        try:
            month = Month.parse(month_text)
        except PartnerDigestError as exc:
            fail(str(exc))
        if via and not deliver:
            fail("--via goes with --deliver")
        if deliver:
            chosen_channels(partner, via)  # refuse a missing channel before anything is issued
        ready = settled_from(month)
        if config.today() < ready:
            fail(
                f"{month} can be issued from {ready.isoformat()}: a month's last records "
                "arrive in batches for some days after it ends, and its first digest fixes "
                "its counts for good"
            )
        name = digest_file_name(partner.name, month)
        try:
            check_new_file(to, name)
        except PartnerDigestError as exc:
            fail(str(exc))
        holder = load_key(settings, key)  # opens the snapshot; the audit log names who issued
        admins = current_keys(settings, configured_keys(settings), key_path(settings, key), holder)
        translations = admin_translations(settings, Lang(partner.language))
        k = max(settings.k_anonymity, MIN_K)
        if settings.admin_api_url is not None:
            issued = run_api(
                settings.admin_api_url,
                holder,
                lambda api: _issue_through_api(api, month, partner.name, holder, admins, k),
            )
        else:
            issued = run_storage(settings, _issue(month, partner.name, holder, admins, k))
        pinned = issued.snapshot
        digest = build_digest(pinned.records, pinned.k_or(k), roll_up=pinned.roll_up)
        trend = [_trend_point(before, snapshot, k) for before, snapshot in issued.earlier]
        trend.append(_trend_point(month, pinned, k))
        bundle = build_bundle(
            digest,
            month,
            partner.language,
            translations,
            issued_on=config.today(),
            team=_team(settings),
            trend=trend,
        )
        sealed = seal_for_partner(bundle.data, partner.age_recipients)
        try:
            path = write_new_file(to, name, sealed)
        except PartnerDigestError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(
                f"cannot write to {to} ({type(exc).__name__}); the audit log records this issue "
                "already, and issuing again renders the same snapshot"
            )
        typer.echo(f"{path}  ({len(sealed)} bytes, for {partner.name})")
        typer.echo(
            f"Only the partner's age key opens it: age -d -i KEYFILE {path.name} > digest.zip "
            "(a page to read, a CSV file per table, a data dictionary and a manifest)"
        )
        taken = "now, at its first issue" if issued.first else "at its first issue"
        typer.echo(f"Counts of {month}: its snapshot taken {taken} (sha256 {issued.pin}...)")
        late = issued.drift.line(month)
        if late is not None:
            typer.echo(late, err=True)
        if deliver:
            for line in queue_digest(
                settings, holder, partner, month, SealedForPartner(sealed), via
            ):
                typer.echo(line)


@dataclass(frozen=True)
class _Issued:
    """What a digest renders: the snapshot, its pin, and how the month moved on."""

    snapshot: Snapshot
    pin: str
    first: bool
    drift: Drift
    earlier: list[tuple[Month, Snapshot | None]]
    """The eleven months before, oldest first, each with its snapshot (None: none to show),
    for the trend table."""


def _trend_point(month: Month, snapshot: Snapshot | None, k: int) -> TrendPoint:
    """A month's total as its own digests show it: hidden below the ``k`` it was issued with."""
    if snapshot is None:
        return trend_point(month, None, k)
    return trend_point(month, len(snapshot.records), snapshot.k_or(k))


@dataclass(frozen=True)
class _MonthState:
    """A month as storage holds it: its first digest entry, its snapshot, its records now."""

    first: FirstIssue | None
    snapshot: SealedBlob | None
    stored: list[StatRecord]


def _team(settings: Settings) -> Team | None:
    """Who issues the digest, as AMANAT_TEAM_NAME and AMANAT_TEAM_CONTACT say (if set)."""
    if not settings.team_name:
        return None
    return Team(settings.team_name, settings.team_contact or None)


def _open_snapshot(blob: SealedBlob, month: Month, key: AdminPrivateKey) -> bytes:
    """Open a month's snapshot with the admin's key, or say why not (never what it holds)."""
    try:
        return open_with_admin_key(blob, snapshot_ref(month), key)
    except CryptoError as exc:
        problem = describe_problem(exc)
        raise CliError(f"the snapshot of {month} cannot be opened: {problem}") from None


def _require_pinned(month: Month, first: FirstIssue | None, stored_pin: str | None) -> None:
    """Refuse, as a one-line CliError, a snapshot the audit chain does not vouch for."""
    try:
        require_pinned(month, first, stored_pin)
    except PartnerDigestError as exc:
        raise CliError(str(exc)) from None


def _pinned(
    month: Month, first: FirstIssue | None, snapshot: SealedBlob | None, key: AdminPrivateKey
) -> tuple[str, Snapshot]:
    """Open the month's stored snapshot, check the audit chain vouches for it, read it."""
    if snapshot is None:
        raise CliError(f"{month} has no snapshot")
    plaintext = _open_snapshot(snapshot, month, key)
    pin = snapshot_pin(plaintext)
    _require_pinned(month, first, pin)
    try:
        return pin, read_snapshot(month, plaintext)
    except PartnerDigestError as exc:
        raise CliError(str(exc)) from None


def _month_for_preview(settings: Settings, key: Path | None, month: Month) -> Snapshot:
    """Return what ``issue`` would render for a month, saying on stderr when it is a snapshot
    (with the ``k`` and rules it pinned); else the records stored now, by today's rules.

    The admin key is asked for only when there is a snapshot to open, or a request to sign.
    """
    holder: AdminPrivateKey | None = None
    if settings.admin_api_url is None:
        state = run_storage(settings, _read_month(month))
    else:
        holder = load_key(settings, key)  # signs the requests
        state = run_api(settings.admin_api_url, holder, lambda api: _month_through_api(api, month))
    try:
        if state.snapshot is None:
            _require_pinned(month, state.first, None)
            return Snapshot(state.stored, None, DIGEST_RULES)
        pin, pinned = _pinned(month, state.first, state.snapshot, holder or load_key(settings, key))
    except CliError as exc:
        fail(str(exc))
    typer.echo(
        f"Showing the snapshot of {month} taken at its first issue (sha256 {pin}...), which "
        "every digest of it renders, not the records stored now.",
        err=True,
    )
    late = drift(pinned.records, state.stored).line(month)
    if late is not None:
        typer.echo(late, err=True)
    return pinned


async def _month_state(
    session: AsyncSession, month: Month, entries: Sequence[AuditEntry]
) -> _MonthState:
    """Read, in the caller's transaction, a month's snapshot and records now; its first
    digest entry from the audit chain ``entries`` (read once by the caller)."""
    snapshot = await DigestSnapshotRepository(session).get(str(month))
    stored = list((await StatsRepository(session).tally(str(month))).elements())
    return _MonthState(first_issue(entries, month), snapshot, stored)


def _shown_snapshot(
    month: Month, first: FirstIssue | None, snapshot: SealedBlob | None, key: AdminPrivateKey
) -> Snapshot | None:
    """A month's snapshot as its digests showed it; None when there is none to show: never
    issued, issued before snapshots existed, or a snapshot the chain does not vouch for
    (issuing that month itself refuses and says why)."""
    if first is None or first.pin is None:
        return None
    try:
        return _pinned(month, first, snapshot, key)[1]
    except CliError:
        return None


def _read_month(month: Month) -> Work[_MonthState]:
    """Read a month's first digest entry, its sealed snapshot and its records stored now."""

    async def work(sessions: Sessions) -> _MonthState:
        async with unit_of_work(sessions) as session:
            entries = await AuditRepository(session).entries()
            return await _month_state(session, month, entries)

    return work


def _issue(
    month: Month, partner: str, key: AdminPrivateKey, admins: Sequence[AdminPublicKey], k: int
) -> Work[_Issued]:
    """Take or check the month's snapshot and chain its hash in the audit log, in one unit.

    The snapshot and the audit entry that pins it commit together, before any digest file is
    written: no digest of a month can exist whose counts the database does not hold pinned.
    """

    async def work(sessions: Sessions) -> _Issued:
        async with unit_of_work(sessions) as session:
            entries = await AuditRepository(session).entries()
            state = await _month_state(session, month, entries)
            if state.snapshot is None:
                _require_pinned(month, state.first, None)
                plaintext = encode_pinned_snapshot(month, state.stored, k)
                sealed = AdminSealer(admins).seal_for_admins(plaintext, snapshot_ref(month))
                if not await DigestSnapshotRepository(session).add(str(month), sealed):
                    raise CliError(
                        f"another digest of {month} was issued at the same moment; "
                        "run the command again"
                    )
                pin, pinned = snapshot_pin(plaintext), read_snapshot(month, plaintext)
            else:
                pin, pinned = _pinned(month, state.first, state.snapshot, key)
            earlier = []
            for before in months_before(month):
                snapshot = await DigestSnapshotRepository(session).get(str(before))
                first = first_issue(entries, before)
                earlier.append((before, _shown_snapshot(before, first, snapshot, key)))
            await audit(session, key, DIGEST_ACTION, digest_subject(partner, month, pin))
        moved = drift(pinned.records, state.stored)
        return _Issued(pinned, pin, state.snapshot is None, moved, earlier)

    return work


def _stat_margins() -> Work[StatMargins]:
    """Count every statistics record by each field, in the database."""

    async def work(sessions: Sessions) -> StatMargins:
        async with unit_of_work(sessions) as session:
            return await StatsRepository(session).margins()

    return work


async def _margins_through_api(api: AdminApiClient) -> StatMargins:
    """Every statistics record counted by each field, through the admin API."""
    answer = await api.call("GET", "/v1/stats")
    try:
        fields = {
            str(name): Counter({_value(value): _count(n) for value, n in counts.items()})
            for name, counts in answer["fields"].items()
        }
        provinces: Counter[tuple[str, str | None]] = Counter()
        for country, province, n in answer["provinces"]:
            provinces[(_value(country), None if province is None else _value(province))] = _count(n)
        if set(fields) != set(MARGIN_FIELDS):
            raise ValueError("not the fields a digest counts")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CliError("the server's answer is not the counts of the statistics records") from None
    return StatMargins(fields, provinces)


def _value(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a value is text")
    return value


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError("a count is a whole number from 1")
    return value


async def _month_through_api(
    api: AdminApiClient, month: Month, entries: Sequence[AuditEntry] | None = None
) -> _MonthState:
    """A month's snapshot and records through the admin API; its first digest entry from the
    audit chain the server hands over (``entries``, when the caller fetched it already),
    read here."""
    answer = await api.call("GET", f"/v1/digests/{month}")
    try:
        snapshot = _sent_snapshot(answer)
        stored = decode_snapshot(month, str(answer["records"]).encode("utf-8"))
    except (KeyError, TypeError, CryptoError, PartnerDigestError):
        raise CliError(f"the server's answer about {month} is malformed") from None
    chain = await api.audit_entries() if entries is None else entries
    return _MonthState(first_issue(chain, month), snapshot, stored)


async def _snapshot_through_api(api: AdminApiClient, month: Month) -> SealedBlob | None:
    """A month's sealed snapshot through the admin API, without its records (``records=0``):
    the trend table needs only what each earlier month's own digest showed."""
    answer = await api.call("GET", f"/v1/digests/{month}?records=0")
    try:
        return _sent_snapshot(answer)
    except (KeyError, TypeError, CryptoError):
        raise CliError(f"the server's answer about {month} is malformed") from None


def _sent_snapshot(answer: object) -> SealedBlob | None:
    """The sealed snapshot in a ``GET /v1/digests/{month}`` answer (None: never taken)."""
    if not isinstance(answer, dict):
        raise TypeError("an answer about a month is an object")
    sent = answer["snapshot"]
    return None if sent is None else SealedBlob(b64decode(sent, size=None))


async def _issue_through_api(
    api: AdminApiClient,
    month: Month,
    partner: str,
    key: AdminPrivateKey,
    admins: Sequence[AdminPublicKey],
    k: int,
) -> _Issued:
    """Take or check the month's snapshot here, and have the server keep and chain it.

    As :func:`_issue`: the first issue seals the month's records to the admins; every later
    one opens the stored snapshot and checks its hash against the month's first entry.
    """
    entries = await api.audit_entries()
    state = await _month_through_api(api, month, entries)
    sealed: SealedBlob | None = None
    if state.snapshot is None:
        _require_pinned(month, state.first, None)
        plaintext = encode_pinned_snapshot(month, state.stored, k)
        sealed = AdminSealer(admins).seal_for_admins(plaintext, snapshot_ref(month))
        pin, pinned = snapshot_pin(plaintext), read_snapshot(month, plaintext)
    else:
        pin, pinned = _pinned(month, state.first, state.snapshot, key)
    earlier = []
    for before in months_before(month):
        old = await _snapshot_through_api(api, before)
        earlier.append((before, _shown_snapshot(before, first_issue(entries, before), old, key)))
    await api.audited(
        "POST",
        f"/v1/digests/{month}/issue",
        DIGEST_ACTION,
        digest_subject(partner, month, pin),
        {
            "partner": partner,
            "pin": pin,
            "snapshot": None if sealed is None else b64encode(sealed.data),
        },
    )
    moved = drift(pinned.records, state.stored)
    return _Issued(pinned, pin, sealed is not None, moved, earlier)
