"""The local simulator, the first thing a newcomer sees (issue 13).

Deletions are shown, buttons are numbered once, log records stay out of the chat (they go to
``simulator.log`` in the data folder), the first run says where the development key and its
passphrase are, ``AMANAT_DATA_DIR`` moves the default database, and a restarted simulator
answers at once.
"""

from __future__ import annotations

import io
import logging
import os
import re
import select
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import create_app
from bot.devtools.devkeys import DEV_KEY_FILE, DEV_PASSPHRASE_FILE
from bot.devtools.fakeapi import Button, ChatMessage
from bot.devtools.simulator import (
    SIMULATOR_LOG_FILE,
    Transcript,
    button_lines,
    prepare_simulator,
    run_simulator,
)
from bot.settings import Settings

FAST_N = 2**10
LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR)")


def bot_message(
    message_id: int, text: str, *labels: str, sender: str = "bot", edited: bool = False
) -> ChatMessage:
    row = tuple(Button(label, f"cb:{index}") for index, label in enumerate(labels))
    return ChatMessage(
        message_id=message_id,
        sender=sender,  # type: ignore[arg-type]
        kind="text",
        text=text,
        buttons=(row,) if row else (),
        protected=False,
        edited=edited,
        reply_to=None,
    )


# --- the transcript ---------------------------------------------------------------------


def test_buttons_are_numbered_once() -> None:
    assert button_lines(["1. Yes", "2. No", "3. Prefer not to say", "⬅ Back"]) == [
        "   [1] Yes",
        "   [2] No",
        "   [3] Prefer not to say",
        "   [4] ⬅ Back",
    ]
    # Ticked choices keep their tick; the bot's own digits may be Dari, and isolated.
    assert button_lines(["✅ 1. Money", "2. Papers", "\u2068۳\u2069. \u2068کار\u2069"]) == [
        "   [1] ✅ Money",
        "   [2] Papers",
        "   [3] \u2068کار\u2069",
    ]
    # A number that is not the button's position is the label's own: it stays.
    assert button_lines(["Done", "1. Yes"]) == ["   [1] Done", "   [2] 1. Yes"]


def test_deletions_edits_and_the_newest_keyboard_are_shown() -> None:
    written: list[str] = []
    transcript = Transcript(written.append)
    question = bot_message(2, "Are you safe?", "1. Yes", "2. No")
    transcript.show([bot_message(1, "Hello"), question])
    assert "".join(written) == "\n🤖 Hello\n\n🤖 Are you safe?\n   [1] Yes\n   [2] No\n"
    assert transcript.buttons == ["cb:0", "cb:1"]

    written.clear()
    answered = bot_message(2, "Are you safe?", edited=True)
    transcript.show([bot_message(1, "Hello"), answered, bot_message(4, "Thank you.")])
    assert "".join(written) == "\n🤖 (buttons removed) Are you safe?\n\n🤖 Thank you.\n"
    assert transcript.buttons == []  # old buttons went with their keyboard

    written.clear()
    transcript.show([bot_message(5, "Done.")], deleted=23)
    assert "".join(written) == "\n[the bot deleted 23 messages]\n\n🤖 Done.\n"
    written.clear()
    transcript.show([bot_message(5, "Done.")], deleted=24)
    assert "".join(written) == "\n[the bot deleted 1 message]\n"


# --- the simulator, end to end -----------------------------------------------------------


@pytest.fixture
def newcomer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, locales_dir: Path) -> Iterator[Path]:
    """A fresh folder and environment, as on a first checkout; returns the data folder."""
    for name in list(os.environ):
        if name.startswith(("AMANAT_", "TELEGRAM_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMANAT_LOCALES_DIR", str(locales_dir))
    monkeypatch.setenv("AMANAT_DATA_DIR", str(tmp_path / "elsewhere"))
    root = logging.getLogger()
    level = root.level
    yield tmp_path / "elsewhere"
    root.setLevel(level)


def test_first_run_says_where_the_key_is_keeps_logs_out_of_the_chat_and_shows_a_wipe(
    newcomer: Path, tmp_path: Path
) -> None:
    first = CliRunner().invoke(create_app(), ["run", "--simulator"], input="3\n/wipe\n/quit\n")
    assert first.exit_code == 0, first.output
    out = first.output  # stdout and stderr: the whole terminal
    assert f"a development admin key was made at {newcomer / DEV_KEY_FILE}" in out
    assert f"its passphrase is in {newcomer / DEV_PASSPHRASE_FILE}" in out
    assert f"Log lines go to {newcomer / SIMULATOR_LOG_FILE}" in out
    assert "Please choose your language." in out
    assert re.search(r"\[the bot deleted \d+ messages\]", out), out
    assert not re.search(r"\[\d+\] +\d+\.", out)  # never "[1] 1. Yes"
    assert not LOG_RECORD.search(out), out
    log = (newcomer / SIMULATOR_LOG_FILE).read_text(encoding="utf-8")
    assert LOG_RECORD.search(log)  # the records are there instead
    assert (newcomer / SIMULATOR_LOG_FILE).stat().st_mode & 0o777 == 0o600

    # AMANAT_DATA_DIR moved the default database too: a new secret never meets an old one.
    assert (newcomer / "amanat.db").is_file()
    assert not (tmp_path / ".amanat").exists()

    again = CliRunner().invoke(create_app(), ["run", "--simulator"], input="/quit\n")
    assert again.exit_code == 0, again.output
    assert "First run" not in again.output
    assert f"sealed to the development key {newcomer / DEV_KEY_FILE}" in again.output


def test_the_default_database_follows_the_data_folder(tmp_path: Path) -> None:
    moved = Settings(_env_file=None, data_dir=tmp_path / "d")  # type: ignore[call-arg]
    assert moved.database_url == f"sqlite:///{tmp_path / 'd' / 'amanat.db'}"
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    assert default.database_url == "sqlite:///.amanat/amanat.db"
    chosen = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "d", database_url="postgresql://db/amanat"
    )
    assert chosen.database_url == "postgresql://db/amanat"


class Terminal(io.StringIO):
    """A terminal's output that notes when the bot's first message appeared."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()
        self.first_answer: float | None = None

    def write(self, text: str) -> int:
        if self.first_answer is None and "🤖" in text:
            self.first_answer = time.monotonic() - self.started
        return super().write(text)


async def test_a_restarted_simulator_answers_at_once_each_time(
    make_settings: Callable[..., Settings],
) -> None:
    """Two restarts on one data folder and database: conversations live in memory, so no
    earlier run can hold anything up (no lock, no leftover state, no update to wait out)."""
    settings = make_settings(admin_public_keys=(), server_secret=None)
    delays = []
    for run in range(3):
        prepared = prepare_simulator(settings, scrypt_n=FAST_N)
        terminal = Terminal()
        await run_simulator(
            prepared.settings,
            stdin=io.StringIO("3\n/quit\n"),
            stdout=terminal,
            intro=prepared.intro,
        )
        out = terminal.getvalue()
        assert "Please choose your language." in out, f"run {run}: {out}"
        assert "Let us begin" in out or "📝 Start a report" in out, f"run {run}: {out}"
        assert out.rstrip().endswith("Bye.")
        assert terminal.first_answer is not None
        delays.append(terminal.first_answer)
        assert ("First run" in out) == (run == 0)
    assert max(delays) < 5, delays  # about 1 s here: start-up, then one answer


async def test_a_logged_warning_is_noted_in_the_chat_not_printed(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    lines = iter(["hello\n", "/quit\n"])

    class Keyboard(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            line = next(lines)
            if line == "hello\n":
                logging.getLogger("bot.test").warning("something to look at")
            return line

    terminal = Terminal()
    await run_simulator(settings, stdin=Keyboard(), stdout=terminal)
    out = terminal.getvalue()
    assert f"[1 warning or error logged: see {settings.data_dir / SIMULATOR_LOG_FILE}]" in out
    assert "something to look at" not in out


def test_ctrl_c_leaves_the_simulator_at_once(tmp_path: Path, locales_dir: Path) -> None:
    """A read blocked on the terminal must not keep the process alive after Ctrl-C."""
    pty = pytest.importorskip("pty")
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AMANAT_", "TELEGRAM_", "DATABASE_URL"))
    }
    environment.update(
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        AMANAT_LOCALES_DIR=str(locales_dir),
        AMANAT_DATA_DIR=str(tmp_path / "data"),
    )
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the simulator on a terminal of its own
        os.chdir(tmp_path)
        os.execve(
            sys.executable,
            [sys.executable, "-c", "from bot.cli.main import main; main()", "run"],
            environment,
        )
    seen = b""
    done = (0, 0)

    def read_until(marker: bytes, seconds: float) -> None:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([terminal], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(terminal, 65536)
                except OSError:  # the child closed the terminal
                    return

    try:
        read_until(b"\n> ", 60)
        assert b"Please choose your language." in seen, seen.decode(errors="replace")
        os.write(terminal, b"\x03")  # Ctrl-C
        read_until(b"stopped", 10)
        deadline = time.monotonic() + 10
        while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done != (0, 0), "the simulator still runs 10 s after Ctrl-C"
        assert os.waitstatus_to_exitcode(done[1]) == 0
        assert b"stopped" in seen
        assert b"Traceback" not in seen
    finally:
        if done == (0, 0):  # not reaped yet
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)
