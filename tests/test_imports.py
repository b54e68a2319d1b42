"""What a fresh process imports: libraries that only some processes use stay out of the others (issue 6)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from storage import open_store
from storage.engine import make_engine
from storage.migrations import migrate
from tests.conftest import ROOT

HEAVY = ("telegram", "httpx", "alembic", "wordfreq", "ftfy")
SNAPSHOT = ROOT / "bot" / "demo_data" / "2023-12-06"


def imported_after(code: str, tmp_path: Path) -> set[str]:
    """Run `code` in a fresh interpreter; return which of HEAVY it left in sys.modules."""
    out = tmp_path / "modules.json"
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        with open({str(out)!r}, "w") as f:
            json.dump([m for m in {HEAVY!r} if m in sys.modules], f)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def test_the_command_line_and_composition_root_import_no_telegram(tmp_path: Path) -> None:
    loaded = imported_after("import bot.cli, bot.app, bot.pipeline, bot.outbox, bot.poller", tmp_path)
    assert not loaded & {"telegram", "httpx"}


def test_a_console_service_polls_and_delivers_without_telegram(tmp_path: Path) -> None:
    feeds = sorted(str(p) for p in SNAPSHOT.glob("*.xml"))[:2]
    loaded = imported_after(
        f"""
        import asyncio
        from dataclasses import replace
        from bot import app
        from bot.settings import Settings
        from bot.watchlist import FeedRule

        settings = Settings(rules=({str(ROOT / "rules")!r},), db={f"sqlite:///{tmp_path}/newsbot.db"!r})
        watchlist = app.load_rules(settings)
        feeds = tuple(FeedRule(name=url, url=url) for url in {feeds!r})
        service = app.build(settings, replace(watchlist, feeds=feeds))
        assert service.sender.name == "console" and service.telegram is None
        reports, _ = asyncio.run(app.once(service))
        assert sum(r.new for r in reports) > 0, reports
        service.close()
        """,
        tmp_path,
    )
    assert not loaded & {"telegram", "httpx", "wordfreq", "ftfy"}


def test_a_bot_token_brings_in_telegram(tmp_path: Path) -> None:
    loaded = imported_after(
        f"""
        from bot import app
        from bot.settings import Settings

        settings = Settings(
            rules=({str(ROOT / "rules")!r},),
            db={f"sqlite:///{tmp_path}/newsbot.db"!r},
            telegram_token="123456:test-token",
            dedup_meaning=False,
        )
        service = app.build(settings)
        assert service.sender.name == "telegram" and service.telegram is not None
        service.close()
        """,
        tmp_path,
    )
    assert {"telegram", "httpx"} <= loaded


def test_opening_a_current_database_imports_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/newsbot.db"
    open_store(url).close()  # migrated to the head here, in this process
    loaded = imported_after(
        f"""
        from storage import open_store

        store = open_store({url!r})
        assert store.stats().stories == 0
        store.close()
        """,
        tmp_path,
    )
    assert "alembic" not in loaded


def test_opening_an_older_database_migrates_it_with_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/newsbot.db"
    engine = make_engine(url)
    migrate(engine, "0005")
    engine.dispose()
    loaded = imported_after(
        f"""
        from storage import open_store, schema_revision

        open_store({url!r}).close()
        assert schema_revision({url!r}).is_latest
        """,
        tmp_path,
    )
    assert "alembic" in loaded
