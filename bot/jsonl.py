"""Read and write the JSONL formats of DESIGN.md (stories in; matches and cluster assignments out). Pure."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.model import ClusterAssignment, Match, Story
from bot.urls import canonical_url

MAX_LINE = 2_000_000


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.number}: {self.reason}"


def read_stories(lines: Iterable[str]) -> Iterator[Story | BadLine]:
    """Yield a Story per good line and a BadLine per malformed one; blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        if number == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            yield BadLine(number, f"line longer than {MAX_LINE:,} characters")
            continue
        try:
            yield story_from_json(json.loads(line))
        except json.JSONDecodeError as exc:
            yield BadLine(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
        except ValueError as exc:
            yield BadLine(number, str(exc))


def story_from_json(data: Any) -> Story:
    """Build a Story from a decoded JSON object; raise ValueError naming the bad field."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    for key in ("id", "title"):
        if key not in data:
            raise ValueError(f"missing required field {key!r}")
    story_id = data["id"]
    if isinstance(story_id, bool) or not isinstance(story_id, str | int) or str(story_id) == "":
        raise ValueError("field 'id' must be a non-empty string")
    texts = {}
    for key in ("title", "summary", "url", "source"):
        value = data.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"field {key!r} must be a string, got {type(value).__name__}")
        texts[key] = value
    return Story(
        id=str(story_id),
        title=texts["title"],
        summary=texts["summary"],
        url=texts["url"],
        canonical_url=canonical_url(texts["url"]) if texts["url"] else "",
        source=texts["source"],
        published=parse_time(data.get("published")),
    )


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO 8601 time (`Z` or an offset; a bare time is taken as UTC); raise ValueError if bad."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"field 'published' must be an ISO 8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"field 'published' is not an ISO 8601 time: {value[:60]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def match_line(story_id: str, matches: Iterable[Match]) -> str:
    payload = {
        "id": story_id,
        "matches": [
            {
                "rule": m.rule,
                "kind": m.kind.value,
                "score": m.score,
                "field": m.field.value,
                "term": m.term,
                "text": m.text,
            }
            for m in matches
        ],
    }
    return json.dumps(payload, ensure_ascii=False)


def cluster_line(assignment: ClusterAssignment) -> str:
    return json.dumps({"id": assignment.story_id, "cluster": assignment.cluster_id}, ensure_ascii=False)
