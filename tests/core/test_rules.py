"""Rule files: every error names file, line and field; all problems are reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import RuleFileError
from bot.rulefiles import load_watchlist
from bot.watchlist import Mode, parse_duration


def problems(tmp_path: Path, text: str, name: str = "rules.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RuleFileError) as caught:
        load_watchlist([tmp_path])
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("people:\n  - id: a-b\n    name: A B\n    alias: [x]\n", ":4: people[a-b].alias: unknown field"),
        (
            "people:\n  - id: a-b\n    name: A B\n    aliases: Starmer\n",
            ":4: people[a-b].aliases: Input should be a valid list, got 'Starmer'",
        ),
        (
            "people:\n  - id: a-b\n    name: 42\n",
            ":3: people[a-b].name: Input should be a valid string, got 42",
        ),
        (
            "feeds:\n  - name: F\n    url: https://x.test/rss\n    every: soon\n",
            ":4: feeds[F].every: expected a duration",
        ),
        (
            "feeds:\n  - name: F\n    url: https://x.test/rss\n    every: 5s\n",
            "outside the allowed range of 30s to 7d",
        ),
        (
            "channels:\n  - chat: '@c'\n    timezone: Mars/Olympus\n",
            ":3: channels[@c].timezone: unknown timezone",
        ),
        (
            "channels:\n  - chat: '@c'\n    digest_at: '8am'\n",
            ":3: channels[@c].digest_at: expected a time of day",
        ),
        (
            "channels:\n  - chat: '@c'\n    mode: loud\n",
            ":3: channels[@c].mode: Input should be 'alert', 'digest' or 'both'",
        ),
        (
            "topics:\n  - id: t\n    name: T\n    terms: ['!!']\n",
            ":4: topics[t].terms[0]: '!!' has no letters",
        ),
        ("topics:\n  - id: t\n    name: T\n    terms: [x]\n", "single character"),
        ("topics:\n  - id: t\n    name: T\n    terms: ['de*']\n", "needs at least 3 letters before the *"),
        ("topics:\n  - id: t\n    name: T\n", ":2: topics[t]: a topic needs `terms` or `all`"),
        ("people: {id: x}\n", ":1: people: expected a list of entries"),
        ("peeple:\n  - id: x\n", ":1: peeple: unknown section"),
        ("people:\n  - id: a\n    name: [unclosed\n", "flow sequence started at line 3"),
    ],
    ids=[
        "unknown key",
        "wrong type list",
        "wrong type str",
        "bad interval",
        "interval too short",
        "bad timezone",
        "bad clock",
        "bad mode",
        "punctuation term",
        "one-letter term",
        "short wildcard",
        "empty topic",
        "section not a list",
        "unknown section",
        "broken yaml",
    ],
)
def test_error_names_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(tmp_path / "rules.yaml")) for p in found)


def test_duplicate_id_across_files_names_both_places(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("people:\n  - id: keir\n    name: Keir Starmer\n")
    found = problems(
        tmp_path,
        "topics:\n  - id: other\n    name: O\n    terms: [x y]\n  - id: keir\n    name: K\n"
        "    terms: [Keir]\n",
        "b.yaml",
    )
    assert found == [
        f"{tmp_path}/b.yaml:5: topics.id: duplicate id 'keir': also defined at {tmp_path}/a.yaml:2"
    ]


def test_channel_following_unknown_id(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "people:\n  - id: keir-starmer\n    name: Keir Starmer\nchannels:\n  - chat: '@c'\n"
        "    follow:\n      - keir-starmer\n      - keir-starmr\n",
    )
    assert found == [
        f"{tmp_path}/rules.yaml:8: channels[@c].follow: unknown id 'keir-starmr' "
        "(did you mean 'keir-starmer'?)"
    ]


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    found = problems(tmp_path, "people:\n  - id: a\n    name: A\n    aliases: x\n  - id: b\n    nam: B\n")
    assert len(found) == 4  # one-letter name, aliases type, unknown `nam`, missing `name`


def test_valid_files_merge_into_one_watchlist(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - name: F\n    url: https://x.test/rss\n    every: 10m\n")
    (tmp_path / "people.yaml").write_text("people:\n  - id: p\n    name: Pat Doe\n    aliases: [Doe]\n")
    (tmp_path / "channels.yaml").write_text(
        "channels:\n  - chat: -1001234\n    follow: all\n    mode: both\n"
    )
    watchlist = load_watchlist([tmp_path])
    assert [f.every for f in watchlist.feeds] == [parse_duration("10m")]
    assert watchlist.people[0].aliases == ("Doe",)
    assert watchlist.channels[0].chat == "-1001234" and watchlist.channels[0].mode is Mode.BOTH
    assert watchlist.channels[0].follows("p")


def test_no_rule_files(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="no rule files"):
        load_watchlist([tmp_path])


def test_shipped_rules_are_valid() -> None:
    from tests.conftest import RULES

    watchlist = load_watchlist([RULES])
    assert watchlist.people and watchlist.topics and watchlist.feeds
