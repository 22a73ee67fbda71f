"""The ``amanat unlock`` and ``amanat lock`` commands: one passphrase for a working session.

Opening the key file costs about a second of scrypt, on purpose. ``unlock`` pays it once and
leaves the key with a local agent (:mod:`bot.cli.agent`) for a set time; every command in
between asks the agent instead of the passphrase.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Annotated, Final

import typer

from bot.cli.agent import READY, lock, socket_path
from bot.cli.common import CliConfig, KeyOption, fail, key_path, load_settings, read_passphrase
from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import recorded_public_key

AGENT_START_SECONDS: Final = 60


def register(root: typer.Typer, config: CliConfig) -> None:
    """Add ``unlock`` and ``lock`` to the root command."""

    @root.command("unlock")
    def unlock(
        key: KeyOption = None,
        minutes: Annotated[
            float,
            typer.Option("--minutes", min=0.01, max=12 * 60, help="How long it stays unlocked."),
        ] = 60,
    ) -> None:
        """Open your key once; commands ask no passphrase until `amanat lock` or the time ends.

        A local agent keeps the key in memory and never hands it out: commands ask it to
        open or sign, over a socket only you can reach. Lock it when you leave the machine.

        Example: amanat unlock --minutes 120
        """
        settings = load_settings(config)
        path = key_path(settings, key)
        try:
            public = recorded_public_key(path.read_bytes())
        except OSError as exc:
            fail(f"cannot read the key file {path} ({exc.strerror or type(exc).__name__})")
        except CryptoError:
            fail(f"{path} is not a usable Amanat admin key file")
        passphrase = read_passphrase(settings, path)
        order = {
            "key_file": str(path),
            "passphrase": passphrase,
            "seconds": minutes * 60,
            "socket": str(socket_path(public.key_id)),
        }
        agent = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.agent"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command and the terminal's Ctrl-C
            text=True,
        )
        said = _start(agent, json.dumps(order))
        if said != READY:
            agent.wait(timeout=AGENT_START_SECONDS)
            fail(said or "the key agent did not start")
        typer.echo(
            f"Key {public.key_id} is unlocked for {minutes:g} minutes: commands ask no "
            "passphrase until then. Run `amanat lock` when you leave this machine."
        )

    @root.command("lock")
    def lock_key(key: KeyOption = None) -> None:
        """Forget the unlocked key now: the next command asks for the passphrase again.

        Example: amanat lock
        """
        settings = load_settings(config)
        path = key_path(settings, key)
        try:
            public = recorded_public_key(path.read_bytes())
        except (OSError, CryptoError):
            fail(f"cannot read the key file {path}")
        if lock(public.key_id):
            typer.echo(f"Key {public.key_id} is locked.")
        else:
            typer.echo(f"Key {public.key_id} was not unlocked.")


def _start(agent: subprocess.Popen[str], order: str) -> str:
    """Hand the agent its order on stdin; return its first line (``ready`` or a problem)."""
    if agent.stdin is None or agent.stdout is None:
        raise RuntimeError("the agent was started without pipes")
    agent.stdin.write(order + "\n")
    agent.stdin.close()
    said = agent.stdout.readline().strip()
    agent.stdout.close()
    return said
