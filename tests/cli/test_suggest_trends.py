"""`newsbot suggest` and `newsbot trends` end to end, and the trends chart."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import app
from bot.model import Field, Match, RuleKind, Story
from bot.settings import Settings
from storage import open_store
from storage.store import StoredStory
from tests.cli.test_cli import run
from tests.conftest import DATA, RULES
from tests.helpers.feedserver import FeedServer

SEEDS = sorted((DATA / "seeds").glob("*.txt"))
NOW = datetime(2025, 5, 15, 18, 0, tzinfo=UTC)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_suggest_writes_a_draft_that_passes_check(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    code, _, err = run(["suggest", *map(str, SEEDS), "--out", str(draft)])
    assert code == 0 and "Draft written to" in err
    text = draft.read_text()
    assert "name: Keir Starmer\n    aliases: [Sir Keir, Starmer]" in text
    assert "# person: 26 mentions in 3 articles" in text
    code, out, _ = run(["check", str(draft)])
    assert code == 0 and out.startswith("OK: ")


def test_suggest_reads_html_pages_over_http_and_reports_bad_sources(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    body = SEEDS[2].read_text().replace("\n", "</p>\n<p>")
    page = feed_server.publish(
        "article.html",
        (
            "<html><head><title>x</title><script>var Nigel = 'Farage';</script></head><body><nav>Home News Sport"
            f"</nav><article><h1>Badenoch backs deportations</h1><p>{body}</p></article><footer>Contact us</footer>"
            "</body></html>"
        ).encode(),
    )
    missing = tmp_path / "missing.txt"
    code, out, err = run(["suggest", page, str(missing), f"{feed_server.url}/status/404"])
    assert code == 2  # some sources failed; the draft is still written from the rest
    assert "missing.txt: unable to read" in err and "HTTP 404" in err
    assert "name: Kemi Badenoch" in out and "Home News Sport" not in out and "var Nigel" not in out


def test_suggest_without_any_text_is_an_error(tmp_path: Path) -> None:
    code, _, err = run(["suggest", str(tmp_path / "nothing.txt")])
    assert code == 1 and "no article text could be read" in err


def _fill(db: str) -> None:
    store = open_store(db)
    try:
        for i, (rule, cluster, hours_ago) in enumerate(
            [
                ("keir-starmer", "a", 2),
                ("keir-starmer", "a", 3),
                ("keir-starmer", "b", 26),
                ("small-boats", "c", 50),
            ]
        ):
            fetched = NOW - timedelta(hours=hours_ago)
            story = Story(
                id=f"s{i}",
                title=f"story {i}",
                url=f"https://x.test/{i}",
                canonical_url=f"x.test/{i}",
                published=fetched,
            )
            match = Match(rule, RuleKind.PERSON, "x", Field.TITLE, "x", 100.0)
            store.save_stories([StoredStory(story, cluster, (match,))], fetched)
    finally:
        store.close()


def test_trends_counts_clusters_per_rule_per_day_and_draws_a_chart(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/t.db"
    _fill(db)
    chart = tmp_path / "trends.png"
    code, out, _ = run(
        [
            "trends",
            "--db",
            db,
            "--rules",
            str(RULES),
            "--days",
            "4",
            "--until",
            "2025-05-15",
            "--out",
            str(chart),
        ]
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Matched stories (clusters) per day, 12 May to 15 May 2025 (Europe/London)"
    assert "keir-starmer   ·   ·   1   1      2" in lines  # cluster "a" twice on the 15th counts once
    assert "small-boats    ·   1   ·   ·      1" in lines
    width, height = png_size(chart.read_bytes())
    assert 800 <= width <= 1600 and 400 <= height <= 900 and chart.stat().st_size > 20_000


def test_trends_data_for_a_chat_and_the_chart_without_data(tmp_path: Path) -> None:
    settings = Settings(rules=(RULES,), db=f"sqlite:///{tmp_path}/t.db")
    _fill(settings.db)
    application = app.build(settings, clock=lambda: NOW)
    try:
        trends, png = app.trends_png(application, "@uk_migration_watch", NOW, 4)
        assert {s.rule: s.counts for s in trends.active} == {
            "keir-starmer": (0, 0, 1, 1),
            "small-boats": (0, 1, 0, 0),
        }
        empty, blank = app.trends_png(application, None, NOW - timedelta(days=30), 3)
        assert empty.active == () and png_size(blank)[0] >= 800
    finally:
        application.close()


def test_trends_rejects_bad_flags() -> None:
    assert run(["trends", "--days", "0"])[0] == 1
    code, _, err = run(["trends", "--until", "15/05/2025", "--db", "sqlite:///:memory:"])
    assert code == 1 and "YYYY-MM-DD" in err
