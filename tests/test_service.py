"""The service: scheduled polls and digests on one event loop, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time as clock
from datetime import UTC, datetime, time
from pathlib import Path

from bot import app
from bot.delivery import Audience, digest_due, latest_digest_moment
from bot.senders import ConsoleSender
from bot.settings import Settings
from bot.watchlist import Mode
from tests.conftest import DATA, ROOT
from tests.helpers.feedserver import FeedServer

RULES = """
feeds:
  - name: BBC
    url: {url}
    every: 30s
topics:
  - id: egyptair
    name: EgyptAir hijack
    terms: [EgyptAir]
channels:
  - chat: "@watch"
    follow: all
    mode: alert
"""


def test_digest_time_follows_the_local_clock_across_daylight_saving() -> None:
    audience = Audience("@c", "Europe/London", time(8, 0), {"r": Mode.DIGEST})
    winter = latest_digest_moment(audience, datetime(2024, 1, 11, 12, 0, tzinfo=UTC))
    summer = latest_digest_moment(audience, datetime(2024, 7, 11, 12, 0, tzinfo=UTC))
    assert winter == datetime(2024, 1, 11, 8, 0, tzinfo=UTC)
    assert summer == datetime(2024, 7, 11, 7, 0, tzinfo=UTC)
    # The morning the clocks go forward (31 March 2024), 08:00 local is 07:00 UTC; the day before it was 08:00 UTC.
    last = datetime(2024, 3, 30, 8, 0, tzinfo=UTC)
    assert not digest_due(audience, last, datetime(2024, 3, 31, 6, 59, tzinfo=UTC))
    assert digest_due(audience, last, datetime(2024, 3, 31, 7, 0, tzinfo=UTC))
    assert not digest_due(
        audience, datetime(2024, 3, 31, 7, 0, tzinfo=UTC), datetime(2024, 3, 31, 23, 0, tzinfo=UTC)
    )


def _rules(feed_server: FeedServer, tmp_path: Path) -> Path:
    url = feed_server.publish("service-bbc.xml", (DATA / "feeds" / "bbc.xml").read_bytes())
    (tmp_path / "rules.yaml").write_text(RULES.format(url=url.replace("/feeds/", "/etag/")))
    return tmp_path / "rules.yaml"


def test_run_polls_on_schedule_and_sends_alerts_then_stops(feed_server: FeedServer, tmp_path: Path) -> None:
    settings = Settings(rules=(_rules(feed_server, tmp_path),), db=f"sqlite:///{tmp_path}/db.sqlite")
    out = io.StringIO()
    application = app.build(
        settings, sender=ConsoleSender(out), clock=lambda: datetime(2016, 3, 29, 18, 0, tzinfo=UTC)
    )

    async def scenario() -> None:
        stop = asyncio.Event()
        service = asyncio.create_task(app.run(application, stop))
        for _ in range(600):  # the first poll starts at once; alerts go out within the 5 s outbox interval
            await asyncio.sleep(0.05)
            if "EgyptAir" in out.getvalue():
                break
        stop.set()
        await asyncio.wait_for(service, 10)

    asyncio.run(scenario())
    assert application.store.stats().stories == 16
    assert out.getvalue().count("🔔 EgyptAir hijack") == 2


def test_sigterm_stops_the_service_cleanly(feed_server: FeedServer, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NEWSBOT_RULES": str(_rules(feed_server, tmp_path)),
        "NEWSBOT_DB": f"sqlite:///{tmp_path}/db.sqlite",
        "NEWSBOT_LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = clock.monotonic() + 30
        assert process.stderr is not None
        while clock.monotonic() < deadline:
            if "newsbot running" in process.stderr.readline():
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        _, err = process.communicate(timeout=5)
        assert "Stopping" in err and "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
