"""Shared fixtures: compiled catalogs, keys with fast test parameters, settings on tmp files."""

from __future__ import annotations

import base64
import importlib.util
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import Services, open_services
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.server import generate_server_secret
from bot.i18n.translations import Translations, compile_catalogs
from bot.settings import Settings
from storage.db import create_engine, session_factory
from storage.migrate import upgrade_to_head_async
from tests.storage_backends import (
    BACKENDS,
    PostgresUnavailable,
    ScratchPostgres,
    sqlite_url,
)

REPO = Path(__file__).resolve().parent.parent
LOCALES = REPO / "locales"
TEST_PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="session")
def locales_dir() -> Path:
    """Compile the real catalogs once, as the install does; a broken catalog fails here."""
    compile_catalogs(LOCALES)
    return LOCALES


@pytest.fixture(scope="session")
def translations(locales_dir: Path) -> Translations:
    return Translations.load(locales_dir)


@pytest.fixture(scope="session")
def admin_key() -> AdminPrivateKey:
    return AdminPrivateKey.generate()


@pytest.fixture
def make_settings(
    tmp_path: Path, locales_dir: Path, admin_key: AdminPrivateKey
) -> Callable[..., Settings]:
    """Build settings on a fresh SQLite file in tmp_path; keyword arguments override fields."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": f"sqlite:///{tmp_path / 'amanat.db'}",
            "data_dir": tmp_path / "data",
            "locales_dir": locales_dir,
            "admin_public_keys": (admin_key.public_key().to_text(),),
            "server_secret": base64.b64encode(generate_server_secret()).decode(),
            "emergency_contacts": ("Emergency line 119",),
            # Tests must not depend on this machine's free space; one test sets it on purpose.
            "min_free_disk_bytes": 0,
            # Telegram's passing failures are tried again after 10 ms, not 1 s.
            "send_retry_seconds": 0.01,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture(scope="session")
def alice() -> AdminPrivateKey:
    return AdminPrivateKey.generate()


@pytest.fixture(scope="session")
def bob() -> AdminPrivateKey:
    return AdminPrivateKey.generate()


@pytest.fixture(scope="session")
def carol() -> AdminPrivateKey:
    return AdminPrivateKey.generate()


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    """Load the independent implementation of the formats that builds the test vectors."""
    path = REPO / "tests" / "vectors" / "make_crypto_vectors.py"
    spec = importlib.util.spec_from_file_location("amanat_crypto_reference", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def scratch_postgres() -> Iterator[ScratchPostgres]:
    """One PostgreSQL database for the whole run, emptied by each test that uses it."""
    try:
        database = ScratchPostgres.create()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield database
    database.drop()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs twice: on a SQLite file, and on the scratch PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    database: ScratchPostgres = request.getfixturevalue("scratch_postgres")
    database.reset()
    return database.url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a schema the real migrations built."""
    await upgrade_to_head_async(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def scratch_database() -> Iterator[ScratchPostgres]:
    """A PostgreSQL database of this test's own, for tests that read the server's files."""
    try:
        database = ScratchPostgres.create()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    if not database.owned:
        pytest.skip("no right to create a scratch database; the shared one is not touched")
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
async def services(make_settings: Callable[..., Settings]) -> AsyncIterator[Services]:
    """The bot's services on a fresh SQLite file, conversations in memory."""
    async with open_services(make_settings()) as opened:
        yield opened
