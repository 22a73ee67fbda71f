"""Every start-up mistake is one line naming its variable, and a non-zero exit (issue 12).

Most cases run ``amanat run`` as a real process, the way a newcomer or a service manager
does, and check what reaches its stderr: exactly one ``error:`` line naming the variable to
fix (any other line is a log record), no traceback, never a secret's value. Settings-only
cases use Typer's CliRunner.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import create_app
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.server import generate_server_secret
from bot.devtools.fakeapi import FakeBotApi

REPO = Path(__file__).resolve().parent.parent
PROGRAM = "from bot.cli.main import main; main()"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
SECRET_MARK = "SECRETVALUE"


def clean_environment(**values: str) -> dict[str, str]:
    """This process's environment without any Amanat setting, plus ``values``."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AMANAT_", "TELEGRAM_", "DATABASE_URL"))
    }
    environment["PYTHONPATH"] = str(REPO)
    environment.update(values)
    return environment


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def new_secret() -> str:
    return base64.b64encode(generate_server_secret()).decode()


@pytest.fixture
def base(tmp_path: Path, locales_dir: Path, admin_key: AdminPrivateKey) -> dict[str, str]:
    """A configuration that starts: token, keys, secret, SQLite file, catalogs."""
    return {
        "TELEGRAM_BOT_TOKEN": "123456:" + "A" * 35,
        "AMANAT_ADMIN_PUBLIC_KEYS": admin_key.public_key().to_text(),
        "AMANAT_SERVER_SECRET": new_secret(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'amanat.db'}",
        "AMANAT_DATA_DIR": str(tmp_path / "data"),
        "AMANAT_LOCALES_DIR": str(locales_dir),
        "AMANAT_LOG_LEVEL": "INFO",
    }


def amanat(
    cwd: Path, *args: str, timeout: float = 60, **values: str
) -> subprocess.CompletedProcess[str]:
    """Run the ``amanat`` command in a new process, stdin not a terminal, as a server would."""
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, *args],
        cwd=cwd,
        env=clean_environment(**values),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def errors_of(stderr: str) -> list[str]:
    """The error lines; fail if anything but errors and log records reached stderr."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    strays = [line for line in lines if not line.startswith("error: ") and not LOG_LINE.match(line)]
    assert not strays, stderr
    return [line for line in lines if line.startswith("error: ")]


def one_error(result: subprocess.CompletedProcess[str], variable: str, code: int) -> str:
    """Check: the exit code, no traceback, exactly one error line, naming ``variable``."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == code, output
    errors = errors_of(result.stderr)
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: {variable}: "), errors[0]
    assert SECRET_MARK not in output
    return errors[0]


# --- the settings: every problem at once, by variable ------------------------------------


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Amanat setting in this process's environment, and no .env in the working folder."""
    for name in list(os.environ):
        if name.startswith(("AMANAT_", "TELEGRAM_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("bare_environment")
def test_every_settings_problem_is_one_line_naming_its_variable() -> None:
    result = CliRunner().invoke(
        create_app(),
        ["run"],
        env={
            "TELEGRAM_BOT_TOKEN": "123456:" + "B" * 35,  # no admin keys, no server secret
            "AMANAT_FLOOD_LIMIT": "1",
            "AMANAT_K_ANONYMITY": "many",
            "DATABASE_URL": "notaurl",
            "AMANAT_PARTNERS": "[{not json",
        },
    )
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # no other exception, so no traceback
    errors = errors_of(result.output)
    named = sorted(line.split(":")[1].strip() for line in errors)
    assert named == [
        "AMANAT_ADMIN_PUBLIC_KEYS",
        "AMANAT_FLOOD_LIMIT",
        "AMANAT_K_ANONYMITY",
        "AMANAT_PARTNERS",
        "AMANAT_SERVER_SECRET",
        "DATABASE_URL",
    ]
    for internal in ("flood_limit", "k_anonymity", "database_url", "server_secret"):
        assert internal not in result.output
    assert "BBBBBBBB" not in result.output


@pytest.mark.usefixtures("bare_environment")
def test_no_secret_value_is_ever_printed() -> None:
    result = CliRunner().invoke(
        create_app(),
        ["purge"],
        env={
            "TELEGRAM_BOT_TOKEN": f'"123456:{SECRET_MARK}token"',  # copied with its quotes
            "AMANAT_SERVER_SECRET": f"{SECRET_MARK}-not-base64!",
            "AMANAT_REDIS_URL": f"http://user:{SECRET_MARK}@redis.internal:6379",
            "DATABASE_URL": f"mysql://amanat:{SECRET_MARK}@db.internal/amanat",
        },
    )
    assert result.exit_code == 2
    assert SECRET_MARK not in result.output
    assert sorted(line.split(":")[1].strip() for line in errors_of(result.output)) == [
        "AMANAT_REDIS_URL",
        "AMANAT_SERVER_SECRET",
        "DATABASE_URL",
        "TELEGRAM_BOT_TOKEN",
    ]
    assert "error: DATABASE_URL: 'mysql' is not supported" in result.output
    assert "error: TELEGRAM_BOT_TOKEN: does not look like a token" in result.output


@pytest.mark.usefixtures("bare_environment")
def test_a_misspelled_variable_in_dotenv_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"TELEGRAM_TOKEN=123456:{SECRET_MARK}\n", encoding="utf-8")
    result = CliRunner().invoke(create_app(), ["run"])
    assert result.exit_code == 2
    assert errors_of(result.output) == [
        "error: TELEGRAM_TOKEN: is not an Amanat setting (in .env?): check its spelling"
    ]
    assert SECRET_MARK not in result.output


@pytest.mark.usefixtures("bare_environment")
def test_simulator_flag_with_a_token_is_refused() -> None:
    result = CliRunner().invoke(
        create_app(),
        ["run", "--simulator"],
        env={
            "TELEGRAM_BOT_TOKEN": "123456:" + "C" * 35,
            "AMANAT_ADMIN_PUBLIC_KEYS": AdminPrivateKey.generate().public_key().to_text(),
            "AMANAT_SERVER_SECRET": new_secret(),
        },
    )
    assert result.exit_code == 2
    assert "--simulator runs without a token" in result.output


# --- no token and no terminal -------------------------------------------------------------


def test_no_token_and_no_terminal_says_so_instead_of_a_silent_simulator(
    tmp_path: Path, base: dict[str, str]
) -> None:
    """A misspelled token variable on a server: stdin is not a terminal, nothing to chat with."""
    settings = {
        name: base[name] for name in ("DATABASE_URL", "AMANAT_DATA_DIR", "AMANAT_LOCALES_DIR")
    }
    result = amanat(tmp_path, "run", TELEGRAM_TOKEN="123456:" + "D" * 35, **settings)
    line = one_error(result, "TELEGRAM_BOT_TOKEN", 2)
    assert "stdin is not a terminal" in line
    assert "Bye." not in result.stdout
    assert not (tmp_path / "data").exists()  # refused before making development keys


# --- the database -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("notaurl", "is not a URL"),
        (f"mysql://amanat:{SECRET_MARK}@db.internal/amanat", "'mysql' is not supported"),
    ],
)
def test_an_unsupported_database_url_is_one_line(
    tmp_path: Path, base: dict[str, str], url: str, says: str
) -> None:
    result = amanat(tmp_path, "run", **{**base, "DATABASE_URL": url})
    assert says in one_error(result, "DATABASE_URL", 2)


def test_an_sqlite_file_in_a_folder_that_cannot_be_made_is_one_line(
    tmp_path: Path, base: dict[str, str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be\n")
    url = f"sqlite:///{blocker / 'db' / 'amanat.db'}"
    result = amanat(tmp_path, "run", **{**base, "DATABASE_URL": url})
    line = one_error(result, "DATABASE_URL", 2)
    assert f"cannot make the folder {blocker / 'db'}" in line
    assert f"{blocker} is not a folder" in line


def test_an_sqlite_file_in_a_missing_folder_is_made_private(
    tmp_path: Path, base: dict[str, str]
) -> None:
    """A folder that can be made is made (0700), and the bot starts on it (here: until the
    network refuses it, which shows the database step passed)."""
    folder = tmp_path / "new" / "place"
    url = f"sqlite:///{folder / 'amanat.db'}"
    base_url = f"http://127.0.0.1:{closed_port()}/bot"
    result = amanat(
        tmp_path, "run", **{**base, "DATABASE_URL": url, "AMANAT_TELEGRAM_API_BASE_URL": base_url}
    )
    one_error(result, "AMANAT_TELEGRAM_API_BASE_URL", 1)
    assert (folder / "amanat.db").is_file()
    assert folder.stat().st_mode & 0o777 == 0o700


def test_postgresql_unreachable_is_one_line_on_run_and_on_digest_preview(
    tmp_path: Path, base: dict[str, str]
) -> None:
    url = f"postgresql://amanat:{SECRET_MARK}@127.0.0.1:{closed_port()}/amanat"
    run = amanat(tmp_path, "run", **{**base, "DATABASE_URL": url})
    assert "connection refused" in one_error(run, "DATABASE_URL", 1)
    simulator = amanat(
        tmp_path,
        "run",
        "--simulator",
        DATABASE_URL=url,
        AMANAT_DATA_DIR=base["AMANAT_DATA_DIR"],
        AMANAT_LOCALES_DIR=base["AMANAT_LOCALES_DIR"],
    )
    assert "connection refused" in one_error(simulator, "DATABASE_URL", 1)
    assert simulator.stdout == ""  # the chat never began
    preview = amanat(tmp_path, "digest", "preview", DATABASE_URL=url)
    assert "connection refused" in one_error(preview, "DATABASE_URL", 1)


# --- keys and catalogs: every problem at once -----------------------------------------------


def test_malformed_and_duplicated_admin_keys_and_missing_catalogs_are_all_named(
    tmp_path: Path, base: dict[str, str], admin_key: AdminPrivateKey
) -> None:
    line = admin_key.public_key().to_text()
    result = amanat(
        tmp_path,
        "run",
        **{
            **base,
            "AMANAT_ADMIN_PUBLIC_KEYS": f"garbage,{line},{line}",
            "AMANAT_LOCALES_DIR": str(tmp_path / "no-locales"),
        },
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.returncode == 2
    assert errors_of(result.stderr) == [
        "error: AMANAT_ADMIN_PUBLIC_KEYS: entry 1 is not an Amanat admin public key "
        "(amanat-admin-pk-v2:…, as `amanat keys init` prints it)",
        f"error: AMANAT_ADMIN_PUBLIC_KEYS: lists key {admin_key.public_key().key_id} twice",
        f"error: AMANAT_LOCALES_DIR: the folder {tmp_path / 'no-locales'} does not exist",
    ]


def test_a_server_lacking_what_its_partners_channels_need_names_each_variable(
    tmp_path: Path, base: dict[str, str]
) -> None:
    """Admins' machines share AMANAT_PARTNERS without the secrets (the settings load there);
    the server that sends must have them, and refuses to start without."""
    import pyrage  # type: ignore[import-untyped]

    recipient = str(pyrage.x25519.Identity.generate().to_public())
    partner = {
        "name": "kabul-ngo",
        "age_recipients": [recipient],
        "email": "digests@kabul-ngo.example",
        "webhook_url": "https://kabul-ngo.example/amanat",
    }
    result = amanat(tmp_path, "run", **{**base, "AMANAT_PARTNERS": json.dumps([partner])})
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.returncode == 2
    assert errors_of(result.stderr) == [
        "error: AMANAT_PARTNER_WEBHOOK_SECRETS: has no secret for kabul-ngo, whose webhook_url "
        "is set",
        "error: AMANAT_SMTP_HOST: is required: a partner in AMANAT_PARTNERS has an email",
        "error: AMANAT_SMTP_FROM: is required: a partner in AMANAT_PARTNERS has an email",
    ]


@pytest.mark.parametrize("simulator", [False, True])
def test_garbage_admin_keys_are_one_line(
    tmp_path: Path, base: dict[str, str], simulator: bool
) -> None:
    settings = {**base, "AMANAT_ADMIN_PUBLIC_KEYS": "garbage"}
    if simulator:
        del settings["TELEGRAM_BOT_TOKEN"]
    args = ("run", "--simulator") if simulator else ("run",)
    one_error(amanat(tmp_path, *args, **settings), "AMANAT_ADMIN_PUBLIC_KEYS", 2)


def test_a_locales_folder_without_catalogs_is_one_line(
    tmp_path: Path, base: dict[str, str]
) -> None:
    empty = tmp_path / "locales"
    empty.mkdir()
    result = amanat(tmp_path, "run", **{**base, "AMANAT_LOCALES_DIR": str(empty)})
    assert "amanat i18n compile" in one_error(result, "AMANAT_LOCALES_DIR", 2)


# --- Redis ---------------------------------------------------------------------------------


def test_redis_unreachable_is_one_line_without_its_password(
    tmp_path: Path, base: dict[str, str]
) -> None:
    url = f"redis://:{SECRET_MARK}@127.0.0.1:{closed_port()}/0"
    result = amanat(tmp_path, "run", **{**base, "AMANAT_REDIS_URL": url})
    assert "cannot connect to Redis" in one_error(result, "AMANAT_REDIS_URL", 1)


@pytest.fixture
def persisting_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis of this test's own that would write snapshots to disk."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = closed_port()
    options = ["--bind", "127.0.0.1", "--save", "3600 1", "--appendonly", "no"]
    process = subprocess.Popen(
        [server, "--port", str(port), *options, "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.skip("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_persisting_redis_is_refused_in_one_line(
    tmp_path: Path, base: dict[str, str], persisting_redis: str
) -> None:
    result = amanat(tmp_path, "run", **{**base, "AMANAT_REDIS_URL": persisting_redis})
    assert "Redis persistence is on" in one_error(result, "AMANAT_REDIS_URL", 1)


# --- the Bot API -----------------------------------------------------------------------


def test_a_token_without_network_is_one_line_not_a_hundred(
    tmp_path: Path, base: dict[str, str]
) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/bot"
    result = amanat(tmp_path, "run", **{**base, "AMANAT_TELEGRAM_API_BASE_URL": base_url})
    line = one_error(result, "AMANAT_TELEGRAM_API_BASE_URL", 1)
    assert "cannot reach the Bot API at 127.0.0.1" in line
    assert len(result.stderr.splitlines()) < 30  # a few log records and the error


async def test_a_token_the_bot_api_refuses_is_one_line(
    tmp_path: Path, base: dict[str, str]
) -> None:
    async with FakeBotApi() as server:
        settings = {
            **base,
            "TELEGRAM_BOT_TOKEN": "123456:" + "E" * 35,  # not the fake's token: 401
            "AMANAT_TELEGRAM_API_BASE_URL": server.base_url,
            "AMANAT_TELEGRAM_FILE_BASE_URL": server.base_file_url,
        }
        result = await asyncio.to_thread(amanat, tmp_path, "run", **settings)
    assert "refused this token" in one_error(result, "TELEGRAM_BOT_TOKEN", 1)
    assert "EEEEEEEE" not in result.stdout + result.stderr


async def test_a_true_username_that_is_not_the_tokens_is_one_line(
    tmp_path: Path, base: dict[str, str]
) -> None:
    """People would be told to trust a name this bot does not have: refuse to start."""
    async with FakeBotApi() as server:
        settings = {
            **base,
            "TELEGRAM_BOT_TOKEN": server.token,
            "AMANAT_TELEGRAM_API_BASE_URL": server.base_url,
            "AMANAT_TELEGRAM_FILE_BASE_URL": server.base_file_url,
            "AMANAT_BOT_USERNAME": "@amanat_fake_bot",
        }
        result = await asyncio.to_thread(amanat, tmp_path, "run", **settings)
    line = one_error(result, "AMANAT_BOT_USERNAME", 2)
    assert "this token belongs to @amanat_test_bot" in line


@pytest.mark.usefixtures("bare_environment")
@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("AMANAT_BOT_USERNAME", "amanat", "must be a Telegram bot username"),
        ("AMANAT_BOT_USERNAME", "@amanat bot", "must be a Telegram bot username"),
        ("AMANAT_VERIFICATION_PHRASE", "blue\u200fsky", "must be plain text on one line"),
        ("AMANAT_VERIFICATION_PHRASE", "x" * 201, "at most 200 characters"),
    ],
)
def test_a_malformed_true_name_or_phrase_is_named(variable: str, value: str, reason: str) -> None:
    result = CliRunner().invoke(create_app(), ["purge"], env={variable: value})
    assert result.exit_code == 2, result.output
    assert f"error: {variable}: " in result.output
    assert reason in result.output


@pytest.mark.usefixtures("bare_environment")
def test_the_true_name_is_kept_with_one_at_sign_and_the_phrase_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.settings import Settings

    monkeypatch.setenv("AMANAT_BOT_USERNAME", "AmanatReportBot")
    monkeypatch.setenv("AMANAT_VERIFICATION_PHRASE", "  the  river\n runs east ")
    settings = Settings()
    assert settings.bot_username == "@AmanatReportBot"
    assert settings.verification_phrase == "the river runs east"


@pytest.mark.usefixtures("bare_environment")
@pytest.mark.parametrize(("value", "limit"), [("true", 64), ("false", 1), ("8", 8)])
def test_concurrent_updates_reads_a_limit_and_the_old_true_or_false(
    monkeypatch: pytest.MonkeyPatch, value: str, limit: int
) -> None:
    from bot.settings import Settings

    monkeypatch.setenv("AMANAT_CONCURRENT_UPDATES", value)
    assert Settings().concurrent_updates == limit


def test_the_settings_accept_exactly_the_schemes_storage_can_open() -> None:
    """The settings refuse a scheme early (with the other problems); storage maps each."""
    from bot.settings import DATABASE_SCHEMES
    from storage.db import _SCHEMES

    assert set(_SCHEMES) == DATABASE_SCHEMES
