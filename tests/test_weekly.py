"""The weekly digest of channels with `weekly: true`: the trends chart as a photo, once a week."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from bot import app
from bot.errors import RuleFileError
from bot.model import OutgoingMessage
from bot.outbox import flush_outbox
from bot.rulefiles import load_watchlist
from bot.senders import ConsoleSender
from bot.settings import Settings
from bot.trends import weekly_period
from storage import open_store
from tests.cli.test_suggest_trends import _fill
from tests.conftest import RULES

MONDAY_EARLY = datetime(2025, 5, 19, 6, 0, tzinfo=UTC)  # 07:00 in London (BST)
MONDAY_LATE = datetime(2025, 5, 19, 8, 0, tzinfo=UTC)  # 09:00 in London


def test_the_weekly_period_starts_on_monday_at_the_digest_time() -> None:
    assert weekly_period(MONDAY_EARLY, time(8, 0), "Europe/London") is None
    assert weekly_period(MONDAY_LATE, time(8, 0), "Europe/London") == "2025-W21"
    assert weekly_period(datetime(2025, 5, 21, tzinfo=UTC), time(8, 0), "Europe/London") == "2025-W21"


def test_weekly_must_be_true_or_false(tmp_path: Path) -> None:
    bad = tmp_path / "channels.yaml"
    bad.write_text('channels:\n  - chat: "@x"\n    weekly: sometimes\n')
    with pytest.raises(RuleFileError) as error:
        load_watchlist([RULES / "people.yaml", bad])
    assert "channels[@x].weekly" in str(error.value.problems[0])


def test_the_outbox_keeps_a_photo(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/o.db")
    try:
        store.enqueue([OutgoingMessage("k", "@c", "caption", "", True, b"\x89PNG...")], MONDAY_LATE)
        [queued] = store.pending(MONDAY_LATE)
        assert queued.message.photo == b"\x89PNG..."
    finally:
        store.close()


def test_a_weekly_channel_gets_the_chart_once_a_week(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("people.yaml", "topics.yaml"):
        (rules / name).write_text((RULES / name).read_text())
    (rules / "channels.yaml").write_text(
        'channels:\n  - chat: "@weekly"\n    follow: all\n    digest_at: "08:00"\n    weekly: true\n'
        '  - chat: "@daily"\n    follow: all\n'
    )
    settings = Settings(rules=(rules,), db=f"sqlite:///{tmp_path}/w.db")
    _fill(settings.db)  # stories on 13-15 May
    clock = [MONDAY_EARLY]
    out = io.StringIO()
    application = app.build(settings, sender=ConsoleSender(out), clock=lambda: clock[0])
    try:
        assert asyncio.run(app.weekly_tick(application)) == 0  # Monday, before 08:00 London time
        clock[0] = MONDAY_LATE
        assert asyncio.run(app.weekly_tick(application)) == 1
        assert asyncio.run(app.weekly_tick(application)) == 0  # once per week, also after a restart
        [chart, *digest] = application.store.pending(MONDAY_LATE)
        assert chart.message.key == "weekly:@weekly:2025-W21:chart" and chart.message.chat == "@weekly"
        assert chart.message.photo is not None and chart.message.photo[:4] == b"\x89PNG"
        assert "newsbot weekly" in chart.message.text and "busiest: Keir Starmer (2)" in chart.message.text
        assert digest and all(m.message.chat == "@weekly" for m in digest)
        asyncio.run(flush_outbox(application.store, application.sender, application.clock))
        assert "[chart: a " in out.getvalue() and "-byte PNG]" in out.getvalue()
    finally:
        application.close()
