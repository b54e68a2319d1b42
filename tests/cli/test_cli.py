"""The command line end to end through `cli.main(argv)`, with captured output."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.dedup import ClusterIndex, DedupConfig
from bot.jsonl import story_from_json
from bot.meaning import embedder
from tests.conftest import DATA, RULES
from tests.helpers.feedserver import FeedServer


def run(argv: list[str], stdin: str = "", environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, environ or {}, io.StringIO(stdin), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "command", ["run", "once", "demo", "check", "match", "dedup", "digest", "feeds", "suggest", "trends"]
)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"], {})
    assert exit_.value.code == 0 and "usage: newsbot " + command in capsys.readouterr().out


def test_check_prints_a_summary() -> None:
    code, out, _ = run(["check", str(RULES)])
    assert code == 0 and out.startswith("OK: ") and " people, " in out and " topics, " in out


def test_check_reports_file_line_field_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("people:\n  - id: x-y\n    name: X Y\n    aliasses: [Y]\n")
    code, out, err = run(["check", str(bad)])
    assert code == 1 and out == ""
    assert err.splitlines()[0] == f"{bad}:4: people[x-y].aliasses: unknown field"


def test_match_writes_one_line_per_story_in_input_order() -> None:
    stories = [
        {"id": "s1", "title": "Keir Stamer visits Tirana", "summary": "", "source": "BBC"},
        {"id": "s2", "title": "Garage owner fined"},
        {"id": 3, "title": "Mr Rama rules out a return hub", "summary": "Albania said no."},
    ]
    code, out, err = run(
        ["match", "--rules", str(DATA / "match_rules.yaml"), "-"],
        "\n".join(json.dumps(s) for s in stories) + "\n",
    )
    assert code == 0 and err == ""
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == ["s1", "s2", "3"]
    assert lines[0]["matches"] == [
        {
            "rule": "keir-starmer",
            "kind": "person",
            "score": 85.7,
            "field": "title",
            "term": "Keir Starmer",
            "text": "Keir Stamer",
        }
    ]
    assert lines[1]["matches"] == [] and lines[2]["matches"][0]["rule"] == "edi-rama"


def test_match_reports_bad_lines_with_numbers_and_exits_2() -> None:
    text = (
        '{"id": "a", "title": "Farage"}\nnot json\n{"title": "no id"}\n["list"]\n{"id": "b", "title": 5}\n'
        '{"id": "c", "title": "Starmer", "published": "yesterday"}\n{"id": "d", "title": "Starmer"}\n'
    )
    code, out, err = run(["match", "--rules", str(DATA / "match_rules.yaml")], text)
    assert code == 2
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a", "d"]
    assert [line.split(": ")[2] for line in err.splitlines()] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]
    assert err.startswith("newsbot match: <stdin>: line 2: not valid JSON")
    assert "missing required field 'id'" in err and "not an ISO 8601 time" in err


def test_dedup_writes_cluster_named_by_first_story(tmp_path: Path) -> None:
    stories = [
        {
            "id": "a",
            "title": "Robert Jenrick resigns as immigration minister over Rwanda legislation",
            "published": "2023-12-06T19:00:00Z",
            "url": "https://bbc.co.uk/news/1",
        },
        {"id": "b", "title": "Sunak unveils emergency Rwanda bill", "published": "2023-12-06T19:10:00Z"},
        {
            "id": "c",
            "title": "Robert Jenrick resigns as immigration minister over Rwanda legislation",
            "published": "2023-12-06T19:20:00Z",
            "url": "https://wire.test/2",
        },
        {
            "id": "d",
            "title": "Different headline",
            "published": "2023-12-06T19:30:00Z",
            "url": "https://www.bbc.co.uk/news/1?at_medium=RSS",
        },
    ]
    path = tmp_path / "stories.jsonl"
    path.write_text("\n".join(json.dumps(s) for s in stories) + "\n")
    code, out, _ = run(["dedup", str(path)])
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": "a", "cluster": "a"},
        {"id": "b", "cluster": "b"},
        {"id": "c", "cluster": "a"},
        {"id": "d", "cluster": "a"},
    ]


def test_dedup_on_a_real_day_of_news() -> None:
    code, out, err = run(["dedup", str(DATA / "stories_2023-11-15.jsonl")])
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and err == "" and len(lines) == 887
    assert len({line["cluster"] for line in lines}) < 887


def test_dedup_folds_on_words_alone_when_meaning_is_off() -> None:
    """NEWSBOT_DEDUP_MEANING=off: the same stories as the index without embeddings, not the default ones."""
    path = DATA / "stories_2023-11-15.jsonl"
    expected: dict[str, list[str]] = {}
    for words_alone in (False, True):
        index = ClusterIndex(embed=None if words_alone else embedder())
        latest = datetime(1970, 1, 1, tzinfo=UTC)
        for line in path.read_text().splitlines():
            story = story_from_json(json.loads(line))
            latest = max(latest, story.published or latest)
            expected.setdefault(story.id, []).append(index.assign(story, latest).cluster_id)
    _, on, _ = run(["dedup", str(path)])
    _, off, _ = run(["dedup", str(path)], environ={"NEWSBOT_DEDUP_MEANING": "off"})
    assert {r["id"]: r["cluster"] for r in map(json.loads, on.splitlines())} == {
        k: v[0] for k, v in expected.items()
    }
    assert {r["id"]: r["cluster"] for r in map(json.loads, off.splitlines())} == {
        k: v[1] for k, v in expected.items()
    }
    assert on != off


def test_dedup_keeps_developments_apart_when_asked() -> None:
    """NEWSBOT_DEDUP_FOLD=development: the clusters of the development models, with fewer merges."""
    path = DATA / "stories_2023-11-15.jsonl"
    index = ClusterIndex(DedupConfig.folding("development"), embed=embedder())
    latest, expected = datetime(1970, 1, 1, tzinfo=UTC), {}
    for line in path.read_text().splitlines():
        story = story_from_json(json.loads(line))
        latest = max(latest, story.published or latest)
        expected[story.id] = index.assign(story, latest).cluster_id
    _, events, _ = run(["dedup", str(path)])
    _, developments, _ = run(["dedup", str(path)], environ={"NEWSBOT_DEDUP_FOLD": "development"})
    by_development = {r["id"]: r["cluster"] for r in map(json.loads, developments.splitlines())}
    by_event = {r["id"]: r["cluster"] for r in map(json.loads, events.splitlines())}
    assert by_development == expected
    assert len(set(by_development.values())) > len(set(by_event.values()))


def test_an_unknown_fold_is_a_clear_error() -> None:
    code, _, err = run(
        ["dedup", str(DATA / "stories_2023-11-15.jsonl")], environ={"NEWSBOT_DEDUP_FOLD": "story"}
    )
    assert code == 1 and "NEWSBOT_DEDUP_FOLD" in err and "'story'" in err
    with pytest.raises(ValueError, match="fold must be one of event, development"):
        DedupConfig.folding("story")


def test_missing_input_file_is_a_clear_error() -> None:
    code, _, err = run(["dedup", "/nonexistent/stories.jsonl"])
    assert code == 1 and err.startswith("newsbot: unable to read /nonexistent/stories.jsonl")


def _rules_for(server: FeedServer, tmp_path: Path) -> Path:
    server.publish("cli-bbc.xml", (DATA / "feeds" / "bbc.xml").read_bytes())
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "feeds.yaml").write_text(
        f"feeds:\n  - name: BBC\n    url: {server.url}/etag/cli-bbc.xml\n"
        f"  - name: Broken\n    url: {server.url}/status/503\n"
    )
    (rules / "topics.yaml").write_text(
        "topics:\n  - id: egyptair-hijack\n    name: EgyptAir hijack\n"
        "    terms: [EgyptAir]\n  - id: data-scandal\n    name: Data scandal\n"
        "    terms: [Cambridge Analytica]\n"
    )
    return rules


def test_once_twice_prints_nothing_new_the_second_time(feed_server: FeedServer, tmp_path: Path) -> None:
    env = {
        "NEWSBOT_RULES": str(_rules_for(feed_server, tmp_path)),
        "NEWSBOT_DB": f"sqlite:///{tmp_path}/db.sqlite",
    }
    code, first, _ = run(["once"], environ=env)
    assert (
        code == 0
        and "16 new stories from 2 feeds" in first
        and "EgyptAir hijack (2)" in first
        and "Data scandal (1)" in first
    )
    assert "! Broken: fetch: HTTP 503" in first
    code, second, _ = run(["once"], environ=env)
    assert code == 0 and second.startswith("No new stories (2 feeds: 1 unchanged, 1 failed).")
    assert "EgyptAir" not in second


def test_feeds_and_digest_read_what_was_stored(feed_server: FeedServer, tmp_path: Path) -> None:
    env = {
        "NEWSBOT_RULES": str(_rules_for(feed_server, tmp_path)),
        "NEWSBOT_DB": f"sqlite:///{tmp_path}/db.sqlite",
    }
    run(["once", "--quiet"], environ=env)
    code, table, _ = run(["feeds"], environ=env)
    assert code == 0 and "BBC" in table and "failing (1×)" in table and "HTTP 503" in table
    code, digest, _ = run(["digest", "--since", "1h"], environ=env)
    assert code == 0 and "EgyptAir hijack (2)" in digest
    code, _, err = run(["digest", "--chat", "@nobody"], environ=env)
    assert code == 1 and "no channel or subscribed chat '@nobody'" in err


def test_demo_prints_a_readable_digest_of_real_stories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["demo"], environ={"NEWSBOT_RULES": str(RULES)})
    assert code == 0
    assert "### 2023-11-15" in out and "### 2023-12-06" in out
    assert "Rwanda" in out and "also: " in out and "    ↳ " in out  # folded coverage, and its reactions
    assert list(tmp_path.iterdir()) == []  # the demo uses a temporary database, not ./data/newsbot.db


def test_bad_setting_names_the_variable_and_value() -> None:
    code, _, err = run(["check"], environ={"NEWSBOT_TIMEZONE": "Mars/Base", "NEWSBOT_RULES": str(RULES)})
    assert code == 1 and "setting NEWSBOT_TIMEZONE has value 'Mars/Base'" in err


def test_token_never_appears_in_errors(tmp_path: Path) -> None:
    token = "123456:SECRET-token-value"
    code, out, err = run(
        ["digest", "--chat", "@x", "--send"],
        environ={
            "TELEGRAM_BOT_TOKEN": token,
            "NEWSBOT_RULES": str(RULES),
            "NEWSBOT_DB": "postgresql+psycopg://u:" + token + "@127.0.0.1:1/x",
        },
    )
    assert code == 1 and token not in out + err
