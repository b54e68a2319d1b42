"""Read rule files (`rules/*.yaml`) into a `Watchlist`; every problem is reported as `file:line: field: message`.

YAML is read with ruamel.yaml, which keeps the line of every key and list item; the shape of each entry is
checked with pydantic, and each pydantic error's location is walked back through the YAML to its line.
All problems in all files are collected before anything is raised.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from bot.errors import RuleFileError, RuleProblem
from bot.model import RuleKind
from bot.suggest import Draft, DraftEntry
from bot.watchlist import (
    Channel,
    FeedRule,
    Fields,
    Mode,
    Origin,
    Priority,
    Rule,
    Watchlist,
    check_references,
    check_term,
    check_timezone,
    parse_clock,
    parse_duration,
)

SECTIONS = ("feeds", "people", "topics", "channels")
MAX_RULE_FILE_BYTES = 5_000_000

Term = Annotated[str, Field(min_length=1), AfterValidator(check_term)]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FeedSpec(_Spec):
    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    every: str | int | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "file://", "/", "./", "../")) and "/" not in value:
            raise ValueError(f"{value!r} is not an http(s) URL, a file:// URL or a path")
        return value

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_duration(value)
        return value


class _RuleSpec(_Spec):
    id: RuleId
    name: str = Field(min_length=1)
    none: list[Term] = []
    context: list[Term] = []
    fuzzy: int | None = Field(default=None, ge=0, le=100)
    fields: Literal["title", "summary", "both"] = "both"
    priority: Literal["alert", "digest"] = "digest"


class PersonSpec(_RuleSpec):
    aliases: list[Term] = []

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_term(value)


class TopicSpec(_RuleSpec):
    terms: list[Term] = []
    all: list[Annotated[list[Term], Field(min_length=1)]] = []
    aliases: list[Term] = []

    def model_post_init(self, context: Any, /) -> None:
        if not self.terms and not self.all and not self.aliases:
            raise ValueError("a topic needs `terms` or `all` groups to match anything")


class ChannelSpec(_Spec):
    chat: str | int
    follow: list[str] | Literal["all"] = "all"
    mode: Literal["alert", "digest", "both"] = "digest"
    digest_at: str = "08:00"
    timezone: Annotated[str, AfterValidator(check_timezone)] = "Europe/London"
    weekly: bool = False

    @field_validator("digest_at")
    @classmethod
    def _digest_at(cls, value: str) -> str:
        parse_clock(value)
        return value

    @field_validator("chat")
    @classmethod
    def _chat(cls, value: str | int) -> str | int:
        if isinstance(value, str) and not (
            value.startswith("@") and len(value) > 1 or value.lstrip("-").isdigit()
        ):
            raise ValueError(f"{value!r} is neither an @channel name nor a numeric chat id")
        return value


_SPECS: dict[str, type[_Spec]] = {
    "feeds": FeedSpec,
    "people": PersonSpec,
    "topics": TopicSpec,
    "channels": ChannelSpec,
}


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand rule paths: a file stands for itself, a folder for its `*.yaml` / `*.yml` files, sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            continue
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            files.append(path)
    return files


def load_watchlist(paths: Sequence[str | Path]) -> Watchlist:
    """Read and validate rule files into one watchlist; raise RuleFileError with every problem found."""
    problems = [
        RuleProblem(
            str(p), 0, "path", "does not exist; name rule files or folders with --rules or NEWSBOT_RULES"
        )
        for p in paths
        if not Path(p).exists()
    ]
    files = rule_files(paths)
    if not files:
        names = ", ".join(str(p) for p in paths)
        problems = problems or [RuleProblem(names or "<none>", 0, "path", "no rule files (*.yaml) found")]
        raise RuleFileError(problems)
    sections: dict[str, list[Any]] = {s: [] for s in SECTIONS}
    for file in files:
        for section, items in _read_file(file, problems).items():
            sections[section].extend(items)
    watchlist = Watchlist(
        feeds=tuple(sections["feeds"]),
        people=tuple(sections["people"]),
        topics=tuple(sections["topics"]),
        channels=tuple(sections["channels"]),
    )
    problems.extend(check_references(watchlist))
    if problems:
        raise RuleFileError(problems)
    return watchlist


def _read_file(file: Path, problems: list[RuleProblem]) -> dict[str, list[Any]]:
    name = str(file)
    try:
        if file.stat().st_size > MAX_RULE_FILE_BYTES:
            problems.append(RuleProblem(name, 0, "file", f"larger than {MAX_RULE_FILE_BYTES:,} bytes"))
            return {}
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(RuleProblem(name, 0, "file", f"cannot be read: {exc}"))
        return {}
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            message += f" ({exc.context} started at line {exc.context_mark.line + 1})"
        problems.append(RuleProblem(name, line, "yaml", message))
        return {}
    except Exception as exc:  # ruamel raises a handful of non-marked errors on odd input
        problems.append(RuleProblem(name, 0, "yaml", f"invalid YAML: {exc}"))
        return {}
    if document is None:
        return {}
    if not isinstance(document, CommentedMap):
        problems.append(
            RuleProblem(name, 1, "file", "expected a mapping with feeds, people, topics or channels")
        )
        return {}
    result: dict[str, list[Any]] = {}
    for key in document:
        line = document.lc.key(key)[0] + 1
        if key not in _SPECS:
            problems.append(
                RuleProblem(name, line, str(key), f"unknown section; expected one of {', '.join(SECTIONS)}")
            )
            continue
        entries = document[key]
        if entries is None:
            continue
        if not isinstance(entries, CommentedSeq):
            problems.append(RuleProblem(name, line, str(key), "expected a list of entries"))
            continue
        result[key] = list(_read_section(name, str(key), entries, problems))
    return result


def _read_section(
    file: str, section: str, entries: CommentedSeq, problems: list[RuleProblem]
) -> Iterable[Any]:
    spec_type = _SPECS[section]
    for index, entry in enumerate(entries):
        line = entries.lc.item(index)[0] + 1
        label = _label(section, index, entry)
        if not isinstance(entry, CommentedMap):
            problems.append(RuleProblem(file, line, label, "expected a mapping of fields"))
            continue
        try:
            spec = spec_type.model_validate(_plain(entry))
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                problems.append(
                    RuleProblem(file, _line_at(entry, loc, line), _field_path(label, loc), _message(error))
                )
            continue
        origin = Origin(file, line, _field_lines(entry))
        yield _build(section, spec, origin)


def _plain(node: Any) -> Any:
    if isinstance(node, CommentedMap):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)  # ruamel's scalar string subclasses are not `str` to pydantic's strict mode
    return node


def _label(section: str, index: int, entry: Any) -> str:
    if isinstance(entry, CommentedMap):
        key = entry.get("id") or entry.get("chat") or entry.get("name")
        if isinstance(key, str | int) and not isinstance(key, bool):
            return f"{section}[{key}]"
    return f"{section}[{index}]"


def _field_path(label: str, loc: tuple[Any, ...]) -> str:
    parts = [label]
    for part in loc:
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
        elif part in ("str", "int", "list[str]", "literal['all']") or "[" in str(part) or "-" in str(part):
            continue  # pydantic's union-branch names say nothing to an operator
        else:
            parts.append(str(part))
    return ".".join(parts)


def _message(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind.endswith("_type") or kind.startswith(("literal", "string_pattern")):
        message += (
            f", got {value!r}" if not isinstance(value, dict | list) else f", got a {type(value).__name__}"
        )
    return message


def _line_at(entry: CommentedMap, loc: tuple[Any, ...], default: int) -> int:
    """Walk a pydantic error location through the YAML nodes to the line it points at."""
    node: Any = entry
    line = default
    for part in loc:
        try:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedMap) and isinstance(part, str) and part in {str(k) for k in node}:
                key = next(k for k in node if str(k) == part)
                line = node.lc.key(key)[0] + 1
                node = node[key]
            else:
                continue
        except (AttributeError, KeyError, TypeError, IndexError):
            break
    return line


def _field_lines(entry: CommentedMap) -> dict[str, int]:
    lines: dict[str, int] = {}
    for key, value in entry.items():
        lines[str(key)] = entry.lc.key(key)[0] + 1
        if isinstance(value, CommentedSeq):
            for i in range(len(value)):
                lines[f"{key}[{i}]"] = value.lc.item(i)[0] + 1
    return lines


def _build(section: str, spec: Any, origin: Origin) -> FeedRule | Rule | Channel:
    if isinstance(spec, FeedSpec):
        every = parse_duration(spec.every) if spec.every is not None else None
        return FeedRule(name=spec.name, url=spec.url, every=every, origin=origin)
    if isinstance(spec, ChannelSpec):
        return Channel(
            chat=str(spec.chat),
            follow=None if spec.follow == "all" else tuple(spec.follow),
            mode=Mode(spec.mode),
            digest_at=parse_clock(spec.digest_at),
            timezone=spec.timezone,
            origin=origin,
            weekly=spec.weekly,
        )
    kind = RuleKind.PERSON if section == "people" else RuleKind.TOPIC
    return Rule(
        id=spec.id,
        name=spec.name,
        kind=kind,
        terms=(spec.name,) if kind is RuleKind.PERSON else tuple(spec.terms),
        aliases=tuple(spec.aliases),
        all=tuple(tuple(group) for group in getattr(spec, "all", [])),
        none=tuple(spec.none),
        context=tuple(spec.context),
        fuzzy=spec.fuzzy,
        fields=Fields(spec.fields),
        priority=Priority(spec.priority),
        origin=origin,
    )


# -- drafts from `newsbot suggest` ---------------------------------------------------------------------------

DRAFT_HEADER = """\
Draft rules suggested by `newsbot suggest` from {articles}: {sources}
PRUNE ME. Delete what you do not want to follow, merge entries that name one thing, add `context:` to
aliases that are ordinary words, then move what you keep into rules/ (`newsbot check` validates it).
Each entry says how often the articles named it; entries are ordered by weight (mentions, and half as
much again for each further article that names them)."""


def render_draft(draft: Draft, sources: Sequence[str]) -> str:
    """Write a suggested draft as a rule file, with comments on counts and what to prune."""
    document = CommentedMap()
    articles = f"{draft.articles} article{'s' if draft.articles != 1 else ''}"
    document.yaml_set_start_comment(DRAFT_HEADER.format(articles=articles, sources=", ".join(sources)))
    people = CommentedSeq()
    for entry in draft.people:
        item = CommentedMap(id=entry.id, name=entry.name)
        if entry.terms:
            item["aliases"] = _flow(entry.terms)
        people.append(item)
        people.yaml_set_comment_before_after_key(len(people) - 1, before=_note(entry), indent=2)
    topics = CommentedSeq()
    for group, entries in (("Organisations and places", draft.names), ("Key phrases", draft.phrases)):
        for i, entry in enumerate(entries):
            item = CommentedMap(id=entry.id, name=entry.name, terms=_flow(entry.terms))
            if entry.kind == "phrase":
                item["fuzzy"] = 100  # ordinary words: a typo of one is another word
            topics.append(item)
            note = _note(entry)
            if i == 0:
                note = f"--- {group} ---\n{note}"
            topics.yaml_set_comment_before_after_key(len(topics) - 1, before=note, indent=2)
    if people:
        document["people"] = people
    if topics:
        document["topics"] = topics
    if not people and not topics:
        return (
            "# "
            + DRAFT_HEADER.format(articles=articles, sources=", ".join(sources)).replace("\n", "\n# ")
            + "\n# Nothing to suggest: no names or key phrases were found.\n"
        )
    stream = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.width = 110
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(document, stream)
    return stream.getvalue()


def _flow(values: Sequence[str]) -> CommentedSeq:
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def _note(entry: DraftEntry) -> str:
    mentions = f"{entry.count} mention{'s' if entry.count != 1 else ''}"
    note = f"{entry.kind}: {mentions} in {entry.articles} article{'s' if entry.articles != 1 else ''}"
    note += f", weight {entry.weight:g}"
    if len(entry.forms) > 1:
        note += " (" + ", ".join(f"{form} {n}" for form, n in entry.forms[:5]) + ")"
    for alias in entry.common_aliases:
        note += f"\n{alias!r} is also an ordinary word: add `context:` terms or drop it"
    return note
