"""The ``amanat keys`` commands: make admin key pairs, print a key's public line, add, revoke
and rotate admin keys.

They take the current set from ``AMANAT_ADMIN_PUBLIC_KEYS`` (what the server seals new reports
to) and print the new value; they never change the server's configuration
(``docs/operations.md``). Re-wrapping stored reports is :mod:`bot.admin.rekey`'s work.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Final

import typer

from bot.admin.rekey import (
    AfterReport,
    DatabaseRekeyStore,
    KeyChange,
    KeySetError,
    Problem,
    RekeySummary,
    parse_key_set,
    plan_add,
    plan_revoke,
    plan_rotate,
    rekey_subject,
    resolve_key_id,
    rewrap_reports,
)
from bot.adminapi.client import AdminApiClient
from bot.adminapi.rewrap import ApiRekeyStore, rewrap_snapshots_through_api, start_rekey
from bot.cli.common import (
    DEFAULT_KEY_PATH,
    MIN_PASSPHRASE_LENGTH,
    CliConfig,
    ExecuteOption,
    KeyOption,
    Sessions,
    audit,
    fail,
    key_path,
    load_key,
    load_key_file,
    load_settings,
    require_database,
    run_storage,
)
from bot.cli.remote import run_api
from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.devtools.devkeys import is_dev_key
from bot.partners.rekey import rewrap_snapshots
from bot.settings import Settings
from storage.db import unit_of_work

# --- key changes -------------------------------------------------------------------------


def _choose_passphrase() -> str:
    """Ask for a new key's passphrase twice (hidden) and refuse a short one."""
    typer.echo(
        f"Choose a passphrase of at least {MIN_PASSPHRASE_LENGTH} characters. It is all "
        "that protects the key if this file is copied (a backup, a seized laptop); "
        "nobody can recover it.",
        err=True,
    )
    passphrase: str = typer.prompt(
        "Passphrase", hide_input=True, confirmation_prompt=True, err=True
    )
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        fail(
            f"the passphrase is shorter than {MIN_PASSPHRASE_LENGTH} characters; use several words"
        )
    return passphrase


def _key_file_bytes(config: CliConfig, key: AdminPrivateKey, passphrase: str) -> bytes:
    """Encrypt a key under its passphrase, at the configured (test) scrypt cost if any."""
    if config.scrypt_n is None:
        return key.to_file_bytes(passphrase)
    return key.to_file_bytes(passphrase, scrypt_n=config.scrypt_n)


def configured_keys(settings: Settings) -> tuple[AdminPublicKey, ...]:
    """Parse AMANAT_ADMIN_PUBLIC_KEYS, the keys the server seals new reports to (exit 2)."""
    try:
        return parse_key_set(settings.admin_public_keys)
    except KeySetError as exc:
        fail(f"invalid configuration: {exc}", 2)


def current_keys(
    settings: Settings,
    configured: tuple[AdminPublicKey, ...],
    key_path: Path,
    holder: AdminPrivateKey,
) -> tuple[AdminPublicKey, ...]:
    """Return the current set; in development with none configured, the development key."""
    if configured:
        return configured
    if settings.is_simulator and is_dev_key(settings, key_path):
        return (holder.public_key(),)  # what the simulator seals to when nothing is set
    fail(
        "AMANAT_ADMIN_PUBLIC_KEYS is empty: set it, here too, to the value the server uses now",
        2,
    )


def _holder_and_current_set(
    settings: Settings, key: Path | None
) -> tuple[AdminPrivateKey, tuple[AdminPublicKey, ...]]:
    """Open this admin's key and name the set the server seals to now (or exit)."""
    configured = configured_keys(settings)
    if settings.admin_api_url is None:
        require_database(settings)
    path = key_path(settings, key)
    holder = load_key_file(settings, path)
    return holder, current_keys(settings, configured, path, holder)


def _plan(make: Callable[[], KeyChange]) -> KeyChange:
    """Compute a key change, turning a refusal into one line and exit 1."""
    try:
        return make()
    except KeySetError as exc:
        fail(str(exc))


def _rekey(
    settings: Settings,
    keys: Sequence[AdminPrivateKey],
    change: KeyChange,
    execute: bool,
    after_report: AfterReport | None,
) -> RekeySummary:
    """Re-wrap every stored report to the change's target set (or count, in a dry run):
    through the admin API when it is set, else on the database."""
    if settings.admin_api_url is not None:
        return run_api(
            settings.admin_api_url,
            keys[0],
            lambda api: _rekey_through_api(api, keys, change, execute, after_report),
        )

    async def work(sessions: Sessions) -> RekeySummary:
        summary = await rewrap_reports(
            DatabaseRekeyStore(sessions),
            keys,
            change.target,
            execute=execute,
            after_report=after_report,
            lead_ids=frozenset(settings.lead_admin_keys),
        )
        _print_snapshots(
            *await rewrap_snapshots(sessions, keys, change.target, execute=execute), execute
        )
        if execute:
            # One entry per run: which admin changed the set, and a fingerprint of the set
            # it now seals to (sha256 of the sorted key ids, joined by commas).
            async with unit_of_work(sessions) as session:
                await audit(
                    session, keys[0], "rekey", rekey_subject([k.key_id for k in change.target])
                )
        return summary

    return run_storage(settings, work)


async def _rekey_through_api(
    api: AdminApiClient,
    keys: Sequence[AdminPrivateKey],
    change: KeyChange,
    execute: bool,
    after_report: AfterReport | None,
) -> RekeySummary:
    """The run chained first, then every report and snapshot re-wrapped here, stored there.

    Originals of redacted items go to the leads the server names among the new set.
    """
    await start_rekey(api, change.target, execute=execute)
    leads = await api.lead_keys(change.target)
    summary = await rewrap_reports(
        ApiRekeyStore(api, change.target),
        keys,
        change.target,
        execute=execute,
        after_report=after_report,
        lead_ids=frozenset(key.key_id for key in leads),
    )
    months, left = await rewrap_snapshots_through_api(api, keys, change.target, execute=execute)
    _print_snapshots(months, left, execute)
    return summary


def _print_snapshots(months: int, left: Sequence[str], execute: bool) -> None:
    """Say how the digest snapshots fared, and name each one left as it was."""
    if months or left:
        verb = "re-wrapped" if execute else "would re-wrap"
        typer.echo(f"Digest snapshots: {verb} {months} of {months + len(left)} months.")
    for month in left:
        typer.echo(f"digest snapshot {month}: left as it is (no key of yours opens it)", err=True)


NEW_KEY_IN_DRY_RUN: Final = "your new key (its id is known once --execute makes it)"


def _print_outcome(
    summary: RekeySummary,
    change: KeyChange,
    execute: bool,
    names: Mapping[str, str] | None = None,
) -> None:
    """Say what was (or would be) re-wrapped, to which keys, and every item left over.

    ``names`` shows some key ids as words: a dry run's rehearsal key is no one's key.
    """
    for note in change.notes:
        typer.echo(f"note: {note}")
    shown = names or {}
    ids = ", ".join(shown.get(key.key_id, key.key_id) for key in change.target)
    count = f"{summary.rewrapped} items in {summary.reports} reports"
    if execute:
        typer.echo(f"Re-wrapped {count} to {len(change.target)} admin keys: {ids}.")
    else:
        typer.echo(
            f"Would re-wrap {count} to {len(change.target)} admin keys: {ids} "
            "(dry run; pass --execute to write)."
        )
    for outcome in summary.problem_reports:
        for problem, number in outcome.problems:
            typer.echo(f"report {outcome.report_id}: {number} items {problem.value}", err=True)


def _print_config(change: KeyChange, execute: bool) -> None:
    """Print the value that makes the server seal new reports to the new set."""
    first = "Set" if execute else "After the --execute run, set"
    typer.echo(f"{first} this on the server (and in your own settings) and restart the bot:")
    typer.echo(f"AMANAT_ADMIN_PUBLIC_KEYS={change.config_value}")


def _refuse_unknown(settings: Settings, current: Sequence[AdminPublicKey], revoked_id: str) -> None:
    """Refuse a key id that names no admin here: most likely a typing mistake."""
    known = {key.key_id for key in current}
    known |= {_key_id_of(text) for text in settings.former_admin_public_keys}
    if revoked_id not in known:
        fail(
            f"key {revoked_id} is not an admin key here: it is in neither "
            "AMANAT_ADMIN_PUBLIC_KEYS nor AMANAT_FORMER_ADMIN_PUBLIC_KEYS. Check the id "
            "(`amanat audit list` names every admin who acted). To take an earlier admin's "
            "key off old reports, add their public line to AMANAT_FORMER_ADMIN_PUBLIC_KEYS first."
        )


def _print_former(
    settings: Settings, change: KeyChange, holders: Sequence[AdminPrivateKey]
) -> None:
    """Print the revoked admins' setting: their lines keep verifying the entries they signed."""
    kept = {key.key_id for key in change.target}
    own = {holder.public_key().key_id: holder.public_key() for holder in holders}
    removed = [own.get(key.key_id, key) for key in change.current if key.key_id not in kept]
    if not removed:
        return
    lines = {_key_id_of(text): text for text in settings.former_admin_public_keys}
    for key in removed:  # one line per key, the v2 line if either is one
        if key.signing is not None or key.key_id not in lines:
            lines[key.key_id] = key.to_text()
    typer.echo(
        "Keep the removed key's public line in AMANAT_FORMER_ADMIN_PUBLIC_KEYS (in every "
        "admin's settings; nothing is sealed to it), so `amanat audit verify` still checks the "
        "entries it signed:"
    )
    typer.echo(f"AMANAT_FORMER_ADMIN_PUBLIC_KEYS={','.join(lines.values())}")
    for key in removed:
        if key.signing is None:
            typer.echo(
                f"note: key {key.key_id} is configured as a v1 line, which cannot check "
                "signatures: its holder prints the v2 line with `amanat keys public`"
            )


def _key_id_of(text: str) -> str:
    """Name a configured line by its key id; a malformed line stays itself (verify refuses it)."""
    try:
        return AdminPublicKey.from_text(text).key_id
    except CryptoError:
        return text


_SAME_COMMAND: Final = "an admin whose key opens them must run the same command"


def _finish(summary: RekeySummary, execute: bool, advice: str = _SAME_COMMAND) -> None:
    """Exit 1 when any item was (or would be) left as it was: never a silent skip."""
    if not summary.unopened:
        return
    verb = "were" if execute else "would be"
    not_mine = any(
        problem is Problem.NOT_A_RECIPIENT
        for outcome in summary.problem_reports
        for problem, _ in outcome.problems
    )
    fail(
        f"{summary.unopened} items in {len(summary.problem_reports)} reports {verb} "
        "left as they were (listed above)" + (f"; {advice}" if not_mine else "")
    )


# --- files ---------------------------------------------------------------------------------


def _write_private_file(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a 0600 file atomically in a 0700 folder; never replace one unless asked."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # 0600
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile
    except FileExistsError:
        fail(f"{path} exists; pass --force to replace it")
    finally:
        tmp.unlink(missing_ok=True)


def register(keys_app: typer.Typer, config: CliConfig) -> None:
    """Add the key commands to ``amanat keys``."""

    @keys_app.command("init")
    def keys_init(
        out: Annotated[
            Path, typer.Option("--out", help="Where to write the encrypted private key.")
        ] = DEFAULT_KEY_PATH,
        force: Annotated[
            bool, typer.Option("--force", help="Replace an existing key file.")
        ] = False,
    ) -> None:
        """Make an admin key pair; the private key is written encrypted with a passphrase.

        Example: amanat keys init
        """
        path = out.expanduser()
        if path.exists() and not force:
            fail(f"{path} exists; pass --force to replace it (the old key is then lost)")
        passphrase = _choose_passphrase()
        key = AdminPrivateKey.generate()
        _write_private_file(path, _key_file_bytes(config, key, passphrase), replace=force)
        public = key.public_key()
        typer.echo(f"Wrote the encrypted private key to {path} (only you can read it).")
        typer.echo(f"Key id: {public.key_id}")
        typer.echo("Public key (give it to the server; it is not secret):")
        typer.echo(public.to_text())
        typer.echo(
            "On the server, add it to AMANAT_ADMIN_PUBLIC_KEYS (comma separated for several "
            "admins), for example:"
        )
        typer.echo(f"  AMANAT_ADMIN_PUBLIC_KEYS={public.to_text()}")

    @keys_app.command("public")
    def keys_public(key: KeyOption = None) -> None:
        """Print your key's public line (v2, with its audit signing key) for the configuration.

        Example: amanat keys public
        """
        settings = load_settings(config)
        public = load_key(settings, key).public_key()
        typer.echo(public.to_text())
        typer.echo(
            f"Key id: {public.key_id} (unchanged). Put this line in place of the key's "
            "amanat-admin-pk-v1 line in AMANAT_ADMIN_PUBLIC_KEYS, on the server and in every "
            "admin's settings, so `amanat audit verify` can check the entries you sign.",
            err=True,
        )

    @keys_app.command("add-admin")
    def keys_add_admin(
        public_key: Annotated[
            str,
            typer.Argument(
                metavar="PUBLIC_KEY", help="The new admin's public key (amanat-admin-pk-v2:…)."
            ),
        ],
        key: KeyOption = None,
        execute: ExecuteOption = False,
    ) -> None:
        """Let another admin open every stored report: re-wrap data keys, not content.

        Example: amanat keys add-admin amanat-admin-pk-v2:... --execute
        """
        settings = load_settings(config)
        try:
            new = AdminPublicKey.from_text(public_key.strip())
        except CryptoError:
            fail("PUBLIC_KEY is not an Amanat admin public key (amanat-admin-pk-v2:…)")
        holder, current = _holder_and_current_set(settings, key)
        change = _plan(lambda: plan_add(current, new, holder=holder.public_key()))
        summary = _rekey(settings, (holder,), change, execute, config.after_report)
        _print_outcome(summary, change, execute)
        _print_config(change, execute)
        typer.echo(
            "Reports that arrive before the restart are sealed to the old set only: run this "
            "command again after the restart to re-wrap them."
        )
        _finish(summary, execute)

    @keys_app.command("revoke")
    def keys_revoke(
        revoked: Annotated[
            str,
            typer.Argument(
                metavar="KEY_ID_OR_PUBLIC_KEY",
                help="The key to revoke: its key id (16 hex digits) or its public key.",
            ),
        ],
        key: KeyOption = None,
        execute: ExecuteOption = False,
    ) -> None:
        """Stop a key from opening stored reports: re-wrap data keys to the set without it.

        Example: amanat keys revoke 3f9a0c1d2b4e5f60 --execute
        """
        settings = load_settings(config)
        holder, current = _holder_and_current_set(settings, key)
        change = _plan(lambda: plan_revoke(current, revoked, holder=holder.public_key()))
        _refuse_unknown(settings, current, resolve_key_id(revoked))
        summary = _rekey(settings, (holder,), change, execute, config.after_report)
        _print_outcome(summary, change, execute)
        _print_config(change, execute)
        _print_former(settings, change, (holder,))
        typer.echo(
            "The revocation applies to NEW reports only once the server's "
            "AMANAT_ADMIN_PUBLIC_KEYS is changed and the bot restarted: until then the bot "
            "seals every new report to the revoked key too. After the restart, run this "
            "command again to re-wrap the reports that arrived meanwhile."
        )
        typer.echo(
            "Copies of the database and backups made before the re-wrap can still be opened "
            "with the revoked key: re-wrapping cannot reach them."
        )
        _finish(summary, execute)

    @keys_app.command("rotate")
    def keys_rotate(
        key: KeyOption = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Where to write the new encrypted key (default: NAME.new.key next to the "
                "old key file).",
            ),
        ] = None,
        resume: Annotated[
            bool,
            typer.Option(
                "--resume",
                help="Finish a rotation (after an interruption or the server's restart) with "
                "the new key file that --out names.",
            ),
        ] = False,
        execute: ExecuteOption = False,
    ) -> None:
        """Replace your key by a new one: re-wrap data keys to the set with the new key.

        Example: amanat keys rotate --execute
        """
        settings = load_settings(config)
        configured = configured_keys(settings)
        if settings.admin_api_url is None:
            require_database(settings)
        old_path = key_path(settings, key)
        new_path = out or old_path.with_name(f"{old_path.stem}.new{old_path.suffix}")
        new_path = new_path.expanduser()
        if new_path.resolve() == old_path.resolve():
            fail("--out must name a new file, not the key being replaced")
        if resume and not new_path.exists():
            fail(f"no key file at {new_path} to resume with: pass the --out of the rotation")
        if not resume and new_path.exists():
            fail(
                f"{new_path} exists: pass --resume to finish the rotation to that key, "
                "or choose another --out"
            )
        old = load_key_file(settings, old_path)
        # A dry run rehearses with a key that lives only in memory and is never written.
        new = load_key_file(settings, new_path) if resume else AdminPrivateKey.generate()
        current = current_keys(settings, configured, old_path, old)
        change = _plan(lambda: plan_rotate(current, old.public_key(), new.public_key()))
        if execute and not resume:
            # The new key is on disk before any item is sealed to it.
            passphrase = _choose_passphrase()
            _write_private_file(new_path, _key_file_bytes(config, new, passphrase), replace=False)
            typer.echo(f"Wrote the new encrypted private key to {new_path} (only you can read it).")
        summary = _rekey(settings, (old, new), change, execute, config.after_report)
        rehearsal = {} if execute or resume else {new.public_key().key_id: NEW_KEY_IN_DRY_RUN}
        _print_outcome(summary, change, execute, rehearsal)
        advice = (
            "an admin whose key opens them must run `amanat keys add-admin` with the new "
            "public key once the setting lists it"
        )
        if not execute:
            if not resume:
                typer.echo("A dry run makes no key: --execute asks for the new key's passphrase.")
            _finish(summary, execute, advice)
            return
        typer.echo(f"New key id: {new.public_key().key_id}")
        typer.echo(f"New public key: {new.public_key().to_text()}")
        _print_config(change, execute)
        _print_former(settings, change, (old, new))
        typer.echo(
            "Keep the old key file until the server has the new value and was restarted: "
            "reports that arrive before then are sealed to the old key. Then run "
            f"`amanat keys rotate --key {old_path} --out {new_path} --resume --execute` once "
            "more, and destroy the old key file. Backups made before the rotation open only "
            "with the old key (and other admins' keys)."
        )
        _finish(summary, execute, advice)
