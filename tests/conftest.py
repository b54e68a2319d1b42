"""Shared fixtures: the loopback feed server, the offline guard, a clean environment, settings, databases."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.settings import Settings
from tests.helpers.feedserver import FeedServer
from tests.helpers.pgserver import PostgresServer, PostgresUnavailable

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
RULES = ROOT / "rules"

# Read once at import: the autouse `clean_environ` drops every NEWSBOT_* variable inside each test.
POSTGRES_URL = os.environ.get("NEWSBOT_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("NEWSBOT_REQUIRE_POSTGRES", "") not in ("", "0")


@pytest.fixture(scope="session")
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection to an address outside loopback: no test may touch the internet."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if isinstance(address, tuple) and self.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0])
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise ConnectionRefusedError(f"test tried to reach {host}: tests stay offline")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop NEWSBOT_*, TELEGRAM_* and proxy variables so the host's environment never leaks in."""
    import os

    for name in list(os.environ):
        if name.startswith(("NEWSBOT_", "TELEGRAM_")) or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(rules=(RULES,), db=f"sqlite:///{tmp_path}/newsbot.db")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Engine]:
    """An engine on the test PostgreSQL database: NEWSBOT_TEST_POSTGRES_URL, else a throwaway server.

    Without a server or binaries the PostgreSQL tests are skipped, unless NEWSBOT_REQUIRE_POSTGRES=1
    (as in CI), which makes that a failure.
    """
    server = None
    url = POSTGRES_URL
    if not url:
        server = PostgresServer()
        try:
            url = server.start()
        except PostgresUnavailable as exc:
            server.stop()
            reason = str(exc).splitlines()[0]
            if REQUIRE_POSTGRES:
                pytest.fail(f"NEWSBOT_REQUIRE_POSTGRES is set but {reason}", pytrace=False)
            pytest.skip(f"no PostgreSQL: {reason} (set NEWSBOT_TEST_POSTGRES_URL)")
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        if server is not None:
            server.stop()


@pytest.fixture
def postgres_url(postgres_server: Engine) -> Iterator[str]:
    """The URL of a fresh, empty schema on the test server (its search_path), dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with postgres_server.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = postgres_server.url.update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with postgres_server.begin() as conn:
        # A test that leaked a transaction makes this fail after a minute instead of hanging.
        conn.execute(text("SET LOCAL lock_timeout = '60s'"))
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on each backend: a SQLite file, and a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/newsbot.db"
    url: str = request.getfixturevalue("postgres_url")
    return url
