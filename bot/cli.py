"""The `newsbot` command line: parses flags and environment into Settings, calls `app`, prints, exits 0/1/2."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot import __version__, app, articles
from bot.delivery import Audience, digest_messages
from bot.errors import ConfigError, NewsbotError, RuleFileError
from bot.jsonl import BadLine, cluster_line, match_line, read_stories
from bot.logs import setup_logging
from bot.model import Story
from bot.outbox import flush_outbox
from bot.pipeline import PollReport
from bot.polling import feed_health, health_counts
from bot.rulefiles import load_watchlist, render_draft, rule_files
from bot.settings import ROLES, Settings
from bot.trends import Trends
from bot.watchlist import parse_span
from storage import copy_database, schema_revision, upgrade_database

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2

DESCRIPTION = """\
newsbot polls news feeds, matches every new story against the people and topics you track,
folds near-identical coverage from many outlets into one entry, and sends alerts and daily
digests to Telegram (or prints them, when no bot token is set).

Quick start:   newsbot demo          (replays bundled real feeds offline)
               newsbot once          (polls the feeds in rules/ once)
"""

ENV_HELP = """\
environment:
  NEWSBOT_RULES              rule files or folders (default: rules/), separated by ':'
  NEWSBOT_DB                 database URL (default: sqlite:///data/newsbot.db)
  TELEGRAM_BOT_TOKEN         send to Telegram; without it messages are printed
  NEWSBOT_TELEGRAM_BASE_URL  another Bot API server (a local one, or an emulator)
  NEWSBOT_POLL_EVERY, NEWSBOT_CONCURRENCY, NEWSBOT_DEDUP_WINDOW, NEWSBOT_DEDUP_FOLD,
  NEWSBOT_DEDUP_MEANING, NEWSBOT_RETENTION, NEWSBOT_TIMEZONE, NEWSBOT_MAX_FEED_BYTES,
  NEWSBOT_LOG_LEVEL   (see README)
"""
DEDUP_ENV_HELP = """\
environment:
  NEWSBOT_DEDUP_FOLD     event (default): a cluster holds a development with its reactions and analysis;
                         development: each development is a cluster of its own
  NEWSBOT_DEDUP_MEANING  on (default): weigh what stories mean (text embeddings); off: words alone
"""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--rules",
        action="append",
        metavar="PATH",
        help="rule file or folder (repeatable; default: $NEWSBOT_RULES or rules/)",
    )
    common.add_argument(
        "--db", metavar="URL", help="database URL (default: $NEWSBOT_DB or sqlite:///data/newsbot.db)"
    )
    common.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr",
    )

    parser = argparse.ArgumentParser(
        prog="newsbot",
        description=DESCRIPTION,
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str, epilog: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description=summary,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command(
        "run", "run the service: poll feeds on schedule, send alerts and daily digests (Ctrl-C stops)"
    )
    p.add_argument(
        "--role",
        choices=ROLES,
        help="all (default): everything; poller: poll feeds, store, match, queue alerts; sender: deliver "
        "alerts and digests, take Telegram commands. Run any number of pollers beside one sender "
        "(PostgreSQL for more than one process). Also $NEWSBOT_ROLE",
    )
    p.add_argument(
        "--metrics-port",
        metavar="PORT",
        help="serve /metrics (Prometheus) and /healthz on this local port, or 'off' "
        "(default: $NEWSBOT_METRICS_PORT or 9464)",
    )
    p = command("once", "poll every feed once, store, print or send what is new, exit")
    p.add_argument("--quiet", action="store_true", help="print only the new stories, no progress or summary")
    command(
        "demo",
        "replay bundled real feed snapshots through the whole pipeline offline and print the digest "
        "(in a temporary database, or the one --db names, which then keeps the stories)",
    )
    p = command("check", "validate rule files; print a summary, or every error as file:line: field: message")
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="rule files or folders (default: the configured rules)"
    )
    p = command("match", "stories JSONL in, matches JSONL out (backtest rules on an archive)")
    p.add_argument("input", nargs="?", default="-", metavar="FILE", help="stories JSONL file, or - for stdin")
    p = command("dedup", "stories JSONL in, cluster assignments JSONL out", DEDUP_ENV_HELP)
    p.add_argument("input", nargs="?", default="-", metavar="FILE", help="stories JSONL file, or - for stdin")
    p.add_argument(
        "--window", default="48h", help="how far apart two copies of a story may be (default: 48h)"
    )
    p = command("digest", "render the digest from what is stored")
    p.add_argument(
        "--since",
        default=None,
        help="how far back, e.g. 24h or 3d (default: 24h, or since the chat's last digest with --send)",
    )
    p.add_argument("--chat", help="render for this channel of the rule files (its follows and timezone)")
    p.add_argument(
        "--send",
        action="store_true",
        help="queue and deliver it (Telegram, or the console) and remember it as the chat's last digest",
    )
    command("feeds", "each feed's health: last success, last error, items, interval, next poll")
    command("stats", "what is stored: stories, clusters, matches, feeds by health, the outbox, chats")
    _suggest_parser(command)
    _trends_parser(command)
    p = command(
        "db",
        "the database: `db upgrade` applies the migrations it lacks, `db current` shows its schema revision, "
        "`db copy --from URL` copies another newsbot database into it (e.g. SQLite into a new PostgreSQL)",
    )
    p.add_argument("action", choices=["upgrade", "current", "copy"])
    p.add_argument("--from", dest="source", metavar="URL", help="db copy: the database to copy from")
    return parser


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; return the exit status."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(stdout)
        return EXIT_OK
    try:
        settings = Settings.from_env(
            os.environ if environ is None else environ,
            rules=args.rules,
            db=args.db,
            log_level=args.log_level,
            role=getattr(args, "role", None),
            metrics_port=getattr(args, "metrics_port", None),
        )
    except ConfigError as exc:
        print(f"newsbot: {exc}", file=stderr)
        return EXIT_ERROR
    secrets = [settings.telegram_token.get_secret_value()] if settings.telegram_token else []
    # One-shot commands print their own summary of feed failures; logs below ERROR would repeat it.
    setup_logging(settings.log_level if args.command == "run" else (args.log_level or "ERROR"), secrets)
    out = _Out(stdout, stderr)
    handler = {
        "run": _run,
        "once": _once,
        "demo": _demo,
        "check": _check,
        "match": _match,
        "dedup": _dedup,
        "digest": _digest,
        "feeds": _feeds,
        "stats": _stats,
        "suggest": _suggest,
        "trends": _trends,
        "db": _db,
    }[args.command]
    try:
        return handler(args, settings, out, stdin)
    except RuleFileError as exc:
        for problem in exc.problems:
            print(problem, file=stderr)
        print(f"newsbot: {len(exc.problems)} problem(s) in the rule files", file=stderr)
        return EXIT_ERROR
    except (NewsbotError, LookupError) as exc:
        message = str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)
        for secret in secrets:
            message = message.replace(secret, "***")
        print(f"newsbot: {message}", file=stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsbot match ... | head`: the reader has gone; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


class _Out:
    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout, self.stderr = stdout, stderr
        # Piped or redirected, tables get room rather than the 80 columns rich assumes.
        width = None if stdout.isatty() else 160
        self.console = Console(file=stdout, highlight=False, soft_wrap=True, width=width)
        self.err = Console(file=stderr, highlight=False, soft_wrap=True)

    def print(self, text: str = "") -> None:
        self.stdout.write(text + "\n")


def _run(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    application = app.build(settings)
    try:
        asyncio.run(app.run(application))
    finally:
        application.close()
    return EXIT_OK


def _once(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    application = app.build(settings)
    try:
        feeds = application.watchlist.feeds
        if not feeds:
            out.print("No feeds in the rule files; nothing to poll.")
            return EXIT_OK
        with _progress(out, len(feeds), "Polling feeds", args.quiet) as on_report:
            reports, flushed = asyncio.run(app.once(application, on_report))
        new = [s for r in reports for s in r.new_matched]
        if new:
            heading = "newsbot: new stories"
            out.print(app.render_text(application, new, app.console_channel(settings), heading))
        if not args.quiet:
            _print_poll_summary(out, reports, flushed.sent, application.sender.name)
        if all(r.outcome == "error" for r in reports):
            return EXIT_ERROR  # every feed failed: let cron and scripts notice
        return EXIT_OK
    finally:
        application.close()


def _demo(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    days = app.demo_snapshots()
    total = sum(len(feeds) for _, feeds in days)
    with _progress(out, total, "Replaying snapshots", False) as on_report:
        results = asyncio.run(app.demo(settings, on_report, db=settings.db if args.db else None))
    for day in results:
        entries = sum(r.entries for r in day.reports)
        errors = [r for r in day.reports if r.outcome == "error"]
        out.print(
            f"\n### {day.day}: {len(day.reports)} feeds, {entries} stories read; "
            f"{day.stories} matched stories folded into {day.clusters} entries\n"
        )
        out.print(day.digest or "(nothing matched the watchlist)")
        for report in errors:
            out.print(f"  ! {report.feed or report.url}: {report.error}")
    if args.db:
        out.print(
            f"Demo done: the stories are kept in {args.db} (try `newsbot trends --db {args.db} --demo`)."
        )
    else:
        out.print(
            "Demo done: this was a temporary database. Run `newsbot once` to poll the live feeds in rules/."
        )
    return EXIT_OK


def _check(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    paths = args.paths or list(settings.rules)
    watchlist = load_watchlist(paths)
    files = rule_files(paths)
    alerting = sum(1 for r in watchlist.rules if r.priority.value == "alert")
    out.print(
        f"OK: {len(files)} rule file(s): {len(watchlist.feeds)} feeds, {len(watchlist.people)} people, "
        f"{len(watchlist.topics)} topics, {len(watchlist.channels)} channels; {alerting} rules alert at once"
    )
    return EXIT_OK


def _open_input(name: str, stdin: TextIO) -> TextIO:
    if name == "-":
        return stdin
    try:
        return open(name, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise NewsbotError(f"unable to read {name}: {exc.strerror or exc}") from None


def _name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _match(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    watchlist = load_watchlist(args.rules or list(settings.rules))
    matcher = app.build_matcher(watchlist)
    return _each_story(
        "match", args.input, out, stdin, lambda story: match_line(story.id, matcher.match(story))
    )


def _dedup(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    try:
        window = parse_span(args.window)
    except ValueError as exc:
        raise ConfigError(f"--window: {exc}") from None
    index = app.build_cluster_index(settings, window)
    latest = [datetime(1970, 1, 1, tzinfo=UTC)]  # stories arrive in input order; time never runs back

    def assign(story: Story) -> str:
        latest[0] = max(latest[0], story.published or latest[0])
        return cluster_line(index.assign(story, latest[0]))

    return _each_story("dedup", args.input, out, stdin, assign)


def _each_story(
    command: str, source: str, out: _Out, stdin: TextIO, handle_story: Callable[[Story], str]
) -> int:
    """Write one output line per good input line; report bad lines with their numbers (exit 2)."""
    handle = _open_input(source, stdin)
    bad = 0
    try:
        for item in read_stories(handle):
            if isinstance(item, BadLine):
                bad += 1
                print(f"newsbot {command}: {_name(source)}: {item}", file=out.stderr)
                continue
            out.stdout.write(handle_story(item) + "\n")
    finally:
        if handle is not stdin:
            handle.close()
    return EXIT_BAD_INPUT if bad else EXIT_OK


def _digest(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    try:
        since_delta = parse_span(args.since) if args.since else None
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    application = app.build(settings)
    try:
        now = application.clock()
        since = now - since_delta if since_delta else None
        if args.send:
            if args.chat is None:
                raise ConfigError("--send needs --chat: a digest is sent to one channel or subscribed chat")
            audience = app.find_audience(application, args.chat)
            queued, flushed = asyncio.run(_send_digest(application, audience, since))
            out.print(
                f"Digest for {audience.chat}: {queued} message(s) queued, {flushed} sent "
                f"via {application.sender.name}."
            )
            return EXIT_OK
        stories = application.store.digest_stories(since or now - timedelta(hours=24), now)
        if args.chat is not None:
            audience = app.find_audience(application, args.chat)
            text = "\n".join(
                m.plain_text for m in digest_messages(application.watchlist, audience, stories, now)
            )
        else:
            text = app.render_text(application, stories, app.console_channel(settings), "newsbot digest")
        out.print(text or "No matched stories in that period.")
        return EXIT_OK
    finally:
        application.close()


async def _send_digest(application: app.App, audience: Audience, since: datetime | None) -> tuple[int, int]:
    queued = await app.send_digest(
        application, audience, since, key=f"now-{application.clock():%Y%m%dT%H%M%S}"
    )
    await application.sender.start()
    try:
        flushed = await flush_outbox(application.store, application.sender, application.clock)
    finally:
        await application.sender.stop()
    return queued, flushed.sent


def _feeds(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    application = app.build(settings)
    try:
        states = {s.url: s for s in application.store.feed_states()}
        table = Table(title=f"{len(application.watchlist.feeds)} feeds", title_justify="left")
        for column in ("feed", "health", "last success", "items", "every", "next poll", "note"):
            table.add_column(column, overflow="fold")
        now = application.clock()
        moved = 0
        for feed in application.watchlist.feeds:
            state = states.get(feed.url)
            if state is None:
                table.add_row(feed.name, "never polled", "-", "-", "-", "-", "")
                continue
            note = state.last_error or ""
            if state.fetch_url:
                moved += 1
                note = f"now at {state.fetch_url}" + (f"; {note}" if note else "")
            table.add_row(
                feed.name,
                feed_health(state, now),
                _ago(state.last_success, now),
                str(state.items_seen),
                _span(state.poll_interval),
                _ago(state.next_poll, now),
                note,
            )
        out.console.print(table)
        if moved:
            out.print(f"{moved} feed(s) moved: put the new address in the rule files.")
        return EXIT_OK
    finally:
        application.close()


def _stats(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    application = app.build(settings)
    try:
        st = application.store.stats()
        now = application.clock()
        health = health_counts(application.store.feed_states(), now)
        chats = application.store.active_chats()
        table = Table(title=f"newsbot: {application.store.url}", title_justify="left", show_header=False)
        table.add_column("what", style="bold")
        table.add_column("count", justify="right")
        table.add_column("detail")
        table.add_row(
            "stories", f"{st.stories:,}", f"in {st.clusters:,} clusters; {st.matched_stories:,} matched"
        )
        table.add_row(
            "feeds",
            f"{st.feeds:,}",
            ", ".join(f"{n} {label}" for label, n in sorted(health.items())) or "none polled yet",
        )
        table.add_row(
            "outbox",
            f"{st.outbox_pending:,}",
            f"waiting; {st.outbox_sent:,} sent, {st.outbox_failed:,} given up",
        )
        table.add_row(
            "chats",
            f"{len(chats):,}",
            f"active; {len(application.watchlist.channels)} channel(s) in the rule files",
        )
        out.console.print(table)
        return EXIT_OK
    finally:
        application.close()


def _db(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    if args.action == "copy":
        if not args.source:
            raise ConfigError("db copy needs --from URL: the database to copy into --db (or NEWSBOT_DB)")
        copied = copy_database(args.source, settings.db)
        out.print("Copied " + ", ".join(f"{count} {table}" for table, count in copied.items()) + ".")
        return EXIT_OK
    if args.source:
        raise ConfigError("--from is for `newsbot db copy`")
    if args.action == "upgrade":
        before, after = upgrade_database(settings.db)
        if before.current == after.current:
            out.print(f"{after.url}: schema already at the latest revision, {after.current}.")
        else:
            out.print(f"{after.url}: schema upgraded from {before.current or 'nothing'} to {after.current}.")
        return EXIT_OK
    revision = schema_revision(settings.db)
    if revision.is_latest:
        out.print(f"{revision.url}: schema revision {revision.current} (the latest).")
    else:
        current = revision.current or "none (an empty database)"
        out.print(
            f"{revision.url}: schema revision {current}; the latest is {revision.latest}: "
            "run `newsbot db upgrade` (or any command that opens the database)."
        )
    return EXIT_OK


def _span(seconds: float | None) -> str:
    """A duration the way people say it: 45s, 12m, 3.5h, 2d."""
    if not seconds:
        return "-"
    return (
        f"{seconds:.0f}s"
        if seconds < 90
        else f"{seconds / 60:.0f}m"
        if seconds < 5400
        else f"{seconds / 3600:.1f}h"
        if seconds < 172800
        else f"{seconds / 86400:.0f}d"
    )


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    text = _span(abs(seconds)) if seconds else "0s"
    return f"in {text}" if seconds < 0 else f"{text} ago"


class _progress:
    """A progress bar on stderr for long polls (only on a terminal); yields the per-feed callback."""

    def __init__(self, out: _Out, total: int, label: str, quiet: bool) -> None:
        self.enabled = not quiet and out.stderr.isatty()
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[last]}"),
            TimeElapsedColumn(),
            console=out.err,
            transient=True,
        )
        self.task = self.bar.add_task(label, total=total, last="")

    def __enter__(self) -> _OnReport:
        if self.enabled:
            self.bar.start()
        return self._advance

    def _advance(self, report: PollReport) -> None:
        if self.enabled:
            self.bar.update(self.task, advance=1, last=(report.feed or report.url)[:40])

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.stop()


_OnReport = app.OnReport


def _print_poll_summary(out: _Out, reports: list[PollReport], sent: int, sender: str) -> None:
    new = sum(r.new for r in reports)
    matched = sum(r.matched for r in reports)
    errors = [r for r in reports if r.outcome == "error"]
    unchanged = sum(1 for r in reports if r.outcome == "unchanged")
    if new == 0:
        out.print(f"No new stories ({len(reports)} feeds: {unchanged} unchanged, {len(errors)} failed).")
    else:
        out.print(
            f"{new} new {'story' if new == 1 else 'stories'} from {len(reports)} feeds, "
            f"{matched} new matched entries; {sent} alert message(s) sent via {sender}."
        )
    for report in errors:
        out.print(f"  ! {report.feed or report.url}: {report.error}")
    if errors and len(errors) == len(reports) and all("unable to connect" in (r.error or "") for r in errors):
        out.print("No feed could be reached: is this machine offline, or is DNS failing?")


# -- suggest ----------------------------------------------------------------------------------------------------


def _suggest_parser(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = command(
        "suggest", "read example articles and write a draft rule file of the people and topics they name"
    )
    p.add_argument(
        "sources",
        nargs="+",
        metavar="FILE_OR_URL",
        help="articles: text or HTML files, pages, feeds, or - for stdin",
    )
    p.add_argument("--out", metavar="FILE", help="write the draft here (default: print it)")


def _suggest(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    files = [s for s in args.sources if s != "-"]
    results = asyncio.run(articles.read_sources(files)) if files else []
    texts = [t for r in results for t in r.texts]
    if "-" in args.sources:
        texts.append(stdin.read())
    for result in results:
        if result.error is not None:
            print(f"newsbot suggest: {result.source}: {result.error}", file=out.stderr)
    if not any(t.strip() for t in texts):
        raise NewsbotError("suggest: no article text could be read")
    draft = articles.suggest_rules(texts)
    names = [r.source for r in results if r.error is None] + (["<stdin>"] if "-" in args.sources else [])
    text = render_draft(draft, names)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise NewsbotError(f"unable to write {args.out}: {exc.strerror or exc}") from None
        print(
            f"Draft written to {args.out}: {len(draft.people)} people, {len(draft.names)} organisations and "
            f"places, {len(draft.phrases)} key phrases. Prune it, then `newsbot check {args.out}`.",
            file=out.stderr,
        )
    else:
        out.stdout.write(text)
    return EXIT_BAD_INPUT if any(r.error for r in results) else EXIT_OK


# -- trends -----------------------------------------------------------------------------------------------------


def _trends_parser(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = command("trends", "daily matched-story counts per followed rule: a table, and a chart with --out")
    p.add_argument("--days", type=int, default=14, help="how many days, ending today (default: 14)")
    p.add_argument("--out", metavar="FILE", help="also draw the chart to this PNG file")
    p.add_argument("--chat", help="the rules this channel or subscribed chat follows (default: every rule)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--until", metavar="YYYY-MM-DD", help="the last day (default: today)")
    when.add_argument(
        "--demo",
        action="store_true",
        help="end on the last day of the bundled demo snapshots (for `demo --db`)",
    )


def _trends(args: argparse.Namespace, settings: Settings, out: _Out, stdin: TextIO) -> int:
    if not 1 <= args.days <= 366:
        raise ConfigError(f"--days: expected 1 to 366, got {args.days}")
    application = app.build(settings)
    try:
        rules, timezone = app.audience_rules(application, args.chat)
        until = application.clock()
        day = app.demo_snapshots()[-1][0] if args.demo else args.until
        if day:
            try:
                last = datetime.strptime(day, "%Y-%m-%d")
            except ValueError:
                raise ConfigError(f"--until: expected a date as YYYY-MM-DD, got {day!r}") from None
            until = last.replace(hour=23, minute=59, tzinfo=ZoneInfo(timezone))
        trends = app.compute_trends(application, rules, until, args.days, timezone)
        _print_trends(out, trends)
        if args.out:
            _, png = app.trends_png(application, args.chat, until, args.days)
            try:
                with open(args.out, "wb") as handle:
                    handle.write(png)
            except OSError as exc:
                raise NewsbotError(f"unable to write {args.out}: {exc.strerror or exc}") from None
            out.print(f"Chart written to {args.out} ({len(png):,} bytes).")
        return EXIT_OK
    finally:
        application.close()


def _print_trends(out: _Out, trends: Trends) -> None:
    first, last = trends.days[0], trends.days[-1]
    out.print(f"Matched stories (clusters) per day, {first:%d %b} to {last:%d %b %Y} ({trends.timezone})")
    if not trends.active:
        out.print("No matched stories in this period.")
        return
    width = max(len(s.rule) for s in trends.active)
    months = "".join(
        f"{d:%b}"[:3].rjust(4) if d.day == 1 or i == 0 else "    " for i, d in enumerate(trends.days)
    )
    out.print(" " * width + months)
    out.print("rule".ljust(width) + "".join(f"{d.day:>4}" for d in trends.days) + "  total")
    for series in trends.active:
        cells = "".join(f"{c:>4}" if c else "   ·" for c in series.counts)
        out.print(series.rule.ljust(width) + cells + f"{series.total:>7}")
    quiet = len(trends.series) - len(trends.active)
    if quiet:
        out.print(f"({quiet} followed rule(s) had no matched stories in this period)")
