"""The composition root: builds store, matcher, clusterer, fetcher, sender and scheduler, and runs them.

Nothing starts at import. `build` wires the parts; `once`, `run`, `send_digest` and `demo` drive them.
"""

from __future__ import annotations

import asyncio
import html
import logging
import signal
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.articles import suggest_from_message
from bot.dedup import ClusterIndex, DedupConfig
from bot.delivery import Audience, audiences, channel_audience, chat_audiences, digest_due, digest_messages
from bot.digest import build_items, build_sections, period_heading, render_digest_text
from bot.errors import RuleFileError
from bot.fetch import Fetcher, FetchLimits
from bot.lexicon import common_words
from bot.matching import Matcher
from bot.meaning import embedder
from bot.metrics import Metrics, MetricsServer, serve
from bot.model import DigestStory, FeedState, OutgoingMessage, Story
from bot.outbox import FlushReport, flush_outbox
from bot.pipeline import Ingestor, PollReport, poll_feed
from bot.poller import Poller, worker_name
from bot.polling import PollPolicy, feed_health, health_counts
from bot.rulefiles import load_watchlist, rule_files
from bot.scheduler import Scheduler
from bot.senders import ConsoleSender, Sender
from bot.settings import Settings
from bot.trends import Trends, daily_trends, period_start, weekly_caption, weekly_period
from bot.watchlist import Channel, FeedRule, Mode, Watchlist, with_tracked
from storage import Store, open_store
from storage.store import has_message, sightings

if TYPE_CHECKING:  # python-telegram-bot and httpx (13 MB) are imported only where a bot token is set
    from bot.telegram_commands import ArticleOffer, BotServices

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SHUTDOWN_GRACE = 20.0  # seconds in-flight polls get to finish on SIGTERM
OnReport = Callable[[PollReport], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    watchlist: Watchlist
    store: Store
    ingestor: Ingestor
    sender: Sender
    clock: Clock = utcnow
    limits: FetchLimits = field(default_factory=FetchLimits)
    base_watchlist: Watchlist = field(default_factory=Watchlist)  # the rule files, without tracked phrases
    telegram: Any = None  # the python-telegram-bot Application taking commands, when a token is set
    metrics: Metrics = field(default_factory=Metrics)
    owner: str = field(default_factory=worker_name)  # this process, as named in feed leases
    ticks: dict[str, datetime] = field(default_factory=dict)  # when each housekeeping job last ran

    def close(self) -> None:
        self.store.close()


def load_rules(settings: Settings) -> Watchlist:
    """Read the rule files named in settings; raises RuleFileError listing every problem."""
    return load_watchlist(settings.rules)


def build_matcher(watchlist: Watchlist) -> Matcher:
    return Matcher(watchlist.rules, common_words())


def build_cluster_index(settings: Settings, window: timedelta | None = None) -> ClusterIndex:
    """The clusterer as settings ask: its window, its fold level, and text embeddings unless
    NEWSBOT_DEDUP_MEANING=off."""
    config = DedupConfig.folding(settings.dedup_fold, window if window is not None else settings.dedup_window)
    return ClusterIndex(config, embed=embedder() if settings.dedup_meaning else None)


def policy_for(settings: Settings, feed: FeedRule) -> PollPolicy:
    """A feed's schedule: its own `every:` if the rule file sets one, else adaptive from the default."""
    base = feed.every or settings.poll_every
    return PollPolicy(base, settings.poll_min, settings.poll_max, fixed=feed.every is not None)


def sync_feeds(app: App) -> None:
    """Tell the database which feeds the rule files list now (new ones are due at once)."""
    app.store.sync_feeds([(f.url, f.name) for f in app.watchlist.feeds])


def build(
    settings: Settings,
    watchlist: Watchlist | None = None,
    sender: Sender | None = None,
    clock: Clock = utcnow,
) -> App:
    """Wire every part from settings; the cluster index is restored from recently stored stories."""
    watchlist = watchlist if watchlist is not None else load_rules(settings)
    store = open_store(settings.db)
    index = build_cluster_index(settings)
    now = clock()
    ingestor = Ingestor(store, watchlist, build_matcher(watchlist), index)
    # Closed however the loop ends: the stream holds a read transaction (a server-side cursor on PostgreSQL).
    with closing(store.recent_stories(now - settings.dedup_window)) as stored:
        for story, cluster_id in stored:
            ingestor.restore(story, cluster_id, now)
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else None
    limits = FetchLimits(max_bytes=settings.max_feed_bytes, per_host=settings.per_host)
    app = App(
        settings,
        watchlist,
        store,
        ingestor,
        sender or ConsoleSender(),
        clock,
        limits,
        base_watchlist=watchlist,
    )
    if token and sender is None:
        from bot.telegram_commands import build_application
        from bot.telegram_sender import TelegramSender

        app.telegram = build_application(token, settings.telegram_api_url, _services(app))
        app.sender = TelegramSender(token, settings.telegram_api_url, bot=app.telegram.bot)
    app.ingestor.via = app.sender.name
    app.metrics = Metrics(settings.role)
    refresh_rules(app)
    return app


def _services(app: App) -> BotServices:
    from bot.telegram_commands import BotServices

    async def digest_now(chat: str) -> int:
        queued = await send_digest(app, find_audience(app, chat), key=f"now-{app.clock():%Y%m%dT%H%M%S}")
        await flush_outbox(app.store, app.sender, app.clock)
        return queued

    async def reload() -> str:
        return await asyncio.to_thread(reload_rules, app)

    s = app.settings
    return BotServices(
        store=app.store,
        watchlist=lambda: app.watchlist,
        refresh_rules=lambda: refresh_rules(app),
        digest_now=digest_now,
        reload=reload,
        stats=lambda: stats_text(app),
        feeds=lambda: feeds_text(app),
        clock=app.clock,
        default_timezone=s.timezone,
        trends_chart=lambda chat: asyncio.to_thread(chat_trends_png, app, chat),
        suggest_article=lambda text: offer_for_article(app, text),
        admins=s.admins,
        allowed_users=s.allowed_users,
        commands_per_minute=s.commands_per_minute,
    )


def reload_rules(app: App) -> str:
    """Re-read the rule files; invalid files leave the running rules in place. Return a report."""
    try:
        watchlist = load_rules(app.settings)
    except RuleFileError as exc:
        log.error("Rule files invalid; keeping the running rules", extra={"problems": len(exc.problems)})
        report = "Rule files have errors; the running rules stay:\n" + "\n".join(
            str(p) for p in exc.problems[:20]
        )
        _tell_admins(app, report)
        return report
    app.base_watchlist = watchlist
    refresh_rules(app)
    sync_feeds(app)
    return (
        f"Reloaded: {len(watchlist.feeds)} feeds, {len(watchlist.people)} people, "
        f"{len(watchlist.topics)} topics, {len(watchlist.channels)} channels."
    )


def _tell_admins(app: App, text: str) -> None:
    now = app.clock()
    stamp = f"{now:%Y%m%dT%H%M%S}"
    app.store.enqueue(
        [
            OutgoingMessage(f"admin:{a}:{stamp}", str(a), html.escape(text), text, True)
            for a in app.settings.admins
        ],
        now,
        app.sender.name,
    )


def rule_files_signature(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """What identifies the rule files' current contents: names, sizes and modification times."""
    signature = []
    for path in rule_files(settings.rules):
        try:
            info = path.stat()
        except OSError:
            continue
        signature.append((str(path), info.st_size, info.st_mtime_ns))
    return tuple(signature)


async def watch_rules(app: App, last: list[tuple[tuple[str, int, int], ...]]) -> bool:
    """Reload the rules when their files changed since `last[0]`; return whether a reload was tried."""
    current = await asyncio.to_thread(rule_files_signature, app.settings)
    if current == last[0]:
        return False
    last[0] = current
    report = await asyncio.to_thread(reload_rules, app)
    log.info("Rule files changed", extra={"result": report.splitlines()[0]})
    return True


def stats_text(app: App) -> str:
    st = app.store.stats()
    return (
        f"{st.stories} stories in {st.clusters} clusters, {st.matched_stories} matched; {st.feeds} feeds; "
        f"outbox: {st.outbox_pending} pending, {st.outbox_sent} sent, {st.outbox_failed} failed; "
        f"{len(app.store.active_chats())} active chats."
    )


def feeds_text(app: App) -> str:
    states = {f.url: f for f in app.store.feed_states()}
    lines = []
    for feed in app.watchlist.feeds:
        state = states.get(feed.url)
        health = "never polled" if state is None else feed_health(state, app.clock())
        if state is not None and state.last_error:
            health += f": {state.last_error}"
        lines.append(f"• {feed.name}: {health}")
    return "\n".join(lines) or "No feeds."


async def poll_all(
    app: App, feeds: Sequence[FeedRule], on_report: OnReport | None = None
) -> list[PollReport]:
    """Poll feeds concurrently (bounded by settings.concurrency); one feed's failure never stops the others."""
    gate = asyncio.Semaphore(app.settings.concurrency)
    # One query for every feed's state rather than one transaction (and thread hop) per feed.
    states = {state.url: state for state in await asyncio.to_thread(app.store.feed_states)}
    async with Fetcher(app.limits) as fetcher:

        async def one(feed: FeedRule) -> PollReport:
            state = states.get(feed.url) or FeedState(url=feed.url, name=feed.name)
            async with gate:
                report = await poll_feed(
                    feed, fetcher, app.ingestor, app.clock, policy_for(app.settings, feed), state=state
                )
            app.metrics.polled(report)
            if on_report is not None:
                on_report(report)
            return report

        return list(await asyncio.gather(*(one(feed) for feed in feeds)))


async def once(app: App, on_report: OnReport | None = None) -> tuple[list[PollReport], FlushReport]:
    """Poll every feed once, then deliver what the polls queued (alerts)."""
    await asyncio.to_thread(sync_feeds, app)
    reports = await poll_all(app, app.watchlist.feeds, on_report)
    await app.sender.start()
    try:
        flushed = await flush_outbox(app.store, app.sender, app.clock)
    finally:
        await app.sender.stop()
    return reports, flushed


def console_channel(settings: Settings) -> Channel:
    """The pseudo-channel the console digest uses: every rule, in the configured timezone."""
    return Channel(chat="console", follow=None, mode=Mode.DIGEST, timezone=settings.timezone)


def render_text(app: App, stories: Sequence[DigestStory], channel: Channel, heading: str) -> str:
    """Render stories as the plain-text digest of a channel (or of every rule for the console)."""
    tz = ZoneInfo(channel.timezone)
    followed = [(r.id, r.name) for r in app.watchlist.followed_by(channel)]
    names = {r.id: r.name for r in app.watchlist.rules}
    sections = build_sections(build_items(stories), followed)
    return render_digest_text(sections, tz, period_heading(heading, app.clock(), tz), names)


def find_audience(app: App, chat: str) -> Audience:
    """The audience of a chat: a channel of the rule files, or a Telegram chat with subscriptions."""
    for channel in app.watchlist.channels:
        if channel.chat == chat:
            return channel_audience(app.watchlist, channel)
    settings = app.store.chat(chat)
    if settings is not None:
        found = chat_audiences([settings], app.store.subscriptions(chat))
        if found:
            return found[0]
    known = ", ".join(c.chat for c in app.watchlist.channels) or "none"
    raise LookupError(f"no channel or subscribed chat {chat!r} (channels in the rule files: {known})")


async def send_digest(app: App, audience: Audience, since: datetime | None = None, key: str = "") -> int:
    """Queue an audience's digest: what is new since its last digest (or the last 24 h), once per period."""
    until = app.clock()
    if since is None:
        since = await asyncio.to_thread(app.store.last_digest, audience.chat) or until - timedelta(hours=24)
    stories = await asyncio.to_thread(app.store.digest_stories, since, until)
    messages = digest_messages(app.watchlist, audience, stories, until, key=key)
    await asyncio.to_thread(app.store.record_digest, audience.chat, until, messages, app.sender.name)
    return len(messages)


async def digest_tick(app: App, started: datetime) -> int:
    """Send every digest whose local time has come since its last one; return how many were sent."""
    now = app.clock()
    chats = await asyncio.to_thread(app.store.active_chats)
    created = {c.chat: c.created_at for c in chats}
    listeners = audiences(app.watchlist, chats, await asyncio.to_thread(app.store.subscriptions))
    sent = 0
    for audience in listeners:
        last = await asyncio.to_thread(app.store.last_digest, audience.chat)
        if digest_due(audience, last or created.get(audience.chat) or started, now):
            await send_digest(app, audience, since=last)
            sent += 1
    sent += await weekly_tick(app)
    return sent


def refresh_rules(app: App) -> None:
    """Rebuild the matcher with the personal phrases chats track now."""
    phrases = app.store.tracked_phrases()
    watchlist = with_tracked(app.base_watchlist, phrases)
    if watchlist != app.watchlist:
        app.watchlist = watchlist
        app.ingestor.replace_rules(watchlist, build_matcher(watchlist))


POLL_TICK = timedelta(seconds=5)  # how often a poller looks for due feeds


async def run(app: App, stop: asyncio.Event | None = None, pace: float = 1.0) -> None:
    """Run the service until SIGINT/SIGTERM (or `stop` is set), in the role settings give it.

    `all` (the default) does everything; a `poller` polls feeds, stores, matches and queues alerts; a
    `sender` delivers the outbox, sends digests and takes Telegram commands. Pollers share the feeds
    through leases in the database, so any number can run beside one sender (PostgreSQL for more than
    one process). `pace` speeds up every housekeeping interval (tests run a day on a fast clock).
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or not a Unix loop
            pass
    role = app.settings.role
    polls, sends = role in ("all", "poller"), role in ("all", "sender")
    # Storage and parsing run in worker threads: enough of them that polls do not queue for one.
    workers = min(64, app.settings.concurrency + 8)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsbot"))
    scheduler = Scheduler(app.settings.timezone)
    inflight: set[asyncio.Task[object]] = set()
    server = _serve_metrics(app)
    if sends:
        await app.sender.start()
    commands = [await _start_commands(app) if sends else False]
    async with Fetcher(app.limits) as fetcher:
        poller = None
        if polls:
            await asyncio.to_thread(sync_feeds, app)
            app.ingestor.shared = True  # other pollers may store stories too: catch up before clustering
            poller = _poller(app, fetcher)
        _schedule(app, scheduler, poller, inflight, sends, pace)
        if sends and app.telegram is not None and not commands[0]:

            async def retry_commands() -> None:
                if not commands[0]:
                    commands[0] = await _start_commands(app)

            scheduler.add_every("telegram", timedelta(seconds=60) / pace, retry_commands)
        scheduler.start()
        log.info(
            "newsbot running",
            extra={
                "role": role,
                "worker": app.owner,
                "feeds": len(app.watchlist.feeds),
                "channels": len(app.watchlist.channels),
                "sender": app.sender.name,
                "db": app.store.url,
            },
        )
        try:
            await stop.wait()
        finally:
            log.info("Stopping", extra={"tasks_in_flight": len(inflight)})
            scheduler.pause()
            if poller is not None:
                poller.stopping = True
            await _drain(inflight, SHUTDOWN_GRACE)
            scheduler.shutdown()
            if sends:
                await flush_outbox(app.store, app.sender, app.clock)
            if app.telegram is not None and commands[0]:
                await app.telegram.updater.stop()
                await app.telegram.stop()
                await app.telegram.shutdown()
            if sends:
                await app.sender.stop()
            if server is not None:
                server.close()


def _poller(app: App, fetcher: Fetcher) -> Poller:
    known: list[Any] = [None, {}]  # the watchlist the mapping was built from, and the mapping

    def feeds() -> dict[str, FeedRule]:
        if known[0] is not app.watchlist:
            known[0], known[1] = app.watchlist, {f.url: f for f in app.watchlist.feeds}
        mapping: dict[str, FeedRule] = known[1]
        return mapping

    return Poller(
        app.ingestor,
        fetcher,
        feeds,
        lambda feed: policy_for(app.settings, feed),
        app.clock,
        app.settings.concurrency,
        owner=app.owner,
        on_report=app.metrics.polled,
        lease=app.settings.poll_lease,
    )


def health(app: App) -> tuple[bool, dict[str, Any]]:
    """Healthy while the loop ticks (jobs ran lately) and the database answers."""
    now = utcnow()
    late = {
        job: round((now - when).total_seconds())
        for job, when in app.ticks.items()
        if now - when > 3 * _EXPECTED_TICK.get(job, POLL_TICK) + timedelta(seconds=30)
    }
    detail: dict[str, Any] = {"role": app.settings.role, "worker": app.owner}
    try:
        detail["outbox_depth"] = app.store.outbox_depth()
    except Exception as exc:  # StorageError, or the driver's own
        detail["database"] = str(exc)[:200]
        return False, detail
    if late:
        detail["late_jobs"] = late
    return not late, detail


_EXPECTED_TICK = {
    "outbox": timedelta(seconds=5),
    "digests": timedelta(seconds=60),
    "poll": POLL_TICK,
    "rules": timedelta(seconds=30),
    "retention": timedelta(hours=6),
}


def _serve_metrics(app: App) -> MetricsServer | None:
    s = app.settings
    if s.metrics_port is None:
        return None

    def refresh() -> None:  # the gauges read from the database, before each scrape of /metrics
        app.metrics.queue_depth.set(app.store.outbox_depth())
        app.metrics.set_feed_health(health_counts(app.store.feed_states(), app.clock()).items())

    return serve(app.metrics, lambda: health(app), s.metrics_host, s.metrics_port, refresh)


async def _start_commands(app: App) -> bool:
    """Start taking Telegram commands; if the Bot API cannot be reached, log it and report False."""
    if app.telegram is None:
        return False
    from bot.telegram_sender import TelegramUnavailable

    try:
        await app.telegram.initialize()
        await app.telegram.start()
        await app.telegram.updater.start_polling(allowed_updates=["message", "callback_query"])
    except TelegramUnavailable as exc:
        log.error(
            "Unable to reach the Telegram Bot API; retrying every minute", extra={"error": str(exc)[:200]}
        )
        return False
    return True


async def _drain(tasks: set[asyncio.Task[object]], grace: float) -> None:
    """Let running polls finish within `grace` seconds, then cut the rest short."""
    if not tasks:
        return
    _, late = await asyncio.wait(set(tasks), timeout=grace)
    for task in late:
        task.cancel()
    if late:
        log.warning("Polls cut short at shutdown", extra={"polls": len(late)})
        await asyncio.wait(late, timeout=5)


def _schedule(
    app: App,
    scheduler: Scheduler,
    poller: Poller | None,
    inflight: set[asyncio.Task[object]],
    sends: bool,
    pace: float = 1.0,
) -> None:
    start = utcnow()  # the scheduler runs on the wall clock, whatever clock stories are stamped with
    begun = app.clock()  # digests and stories follow the app's clock

    def every(
        name: str, interval: timedelta, job: Callable[[], Any], delay: timedelta = timedelta(0)
    ) -> None:
        scheduler.add_every(name, interval / pace, job, first=start + delay / pace)

    def ticked(job: str) -> None:
        app.ticks[job] = utcnow()
        task = asyncio.current_task()
        if task is not None:  # so shutdown lets the job finish rather than cancel it mid-way
            inflight.add(task)
            task.add_done_callback(inflight.discard)

    if poller is not None:

        async def poll() -> None:
            ticked("poll")
            if poller.sweeping is None or poller.sweeping.done():
                sweep: asyncio.Task[Any] = poller.kick()
                inflight.add(sweep)
                sweep.add_done_callback(inflight.discard)

        async def expire() -> None:
            app.ingestor.index.expire(app.clock())

        every("poll", POLL_TICK, poll)
        every("clusters", timedelta(hours=1), expire, timedelta(minutes=5))

    if sends:

        async def digests() -> None:
            ticked("digests")
            if await digest_tick(app, begun):
                await _deliver(app)

        async def deliver() -> None:
            ticked("outbox")
            await _deliver(app)

        async def prune() -> None:
            ticked("retention")
            await asyncio.to_thread(app.store.prune, app.clock() - app.settings.retention)

        every("outbox", timedelta(seconds=5), deliver)
        every("digests", timedelta(seconds=60), digests, timedelta(seconds=30))
        every("retention", timedelta(hours=6), prune, timedelta(minutes=1))

    signature = [rule_files_signature(app.settings)]

    async def rules() -> None:
        ticked("rules")
        await watch_rules(app, signature)

    every("rules", timedelta(seconds=30), rules, timedelta(seconds=30))


async def _deliver(app: App) -> FlushReport:
    report = await flush_outbox(app.store, app.sender, app.clock)
    app.metrics.delivered(report.sent, report.retrying, report.failed)
    return report


# -- demo ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoDay:
    day: str
    reports: tuple[PollReport, ...]
    digest: str
    stories: int
    clusters: int


def demo_snapshots() -> list[tuple[str, list[FeedRule]]]:
    """Return the bundled snapshot days, each with its feed files, oldest first."""
    root = resources.files("bot") / "demo_data"
    days = []
    for folder in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name):
        files = sorted((f for f in folder.iterdir() if f.name.endswith(".xml")), key=lambda f: f.name)
        days.append((folder.name, [FeedRule(name="", url=str(Path(str(f)))) for f in files]))
    return days


async def demo(settings: Settings, on_report: OnReport | None = None, db: str | None = None) -> list[DemoDay]:
    """Replay the bundled snapshots day by day through the whole pipeline, in a temporary database (or `db`)."""
    watchlist = load_rules(settings)
    days = []
    with tempfile.TemporaryDirectory(prefix="newsbot-demo-") as tmp:
        # One feed at a time, in file order: stories reach the clusterer in the same order on every run.
        demo_settings = settings.model_copy(
            update={"db": db or f"sqlite:///{tmp}/demo.db", "telegram_token": None, "concurrency": 1}
        )
        clock_value = [datetime(1970, 1, 1, tzinfo=UTC)]
        app = build(
            demo_settings, replace(watchlist, feeds=()), ConsoleSender(), clock=lambda: clock_value[0]
        )
        try:
            for day, feeds in demo_snapshots():
                since = datetime.fromisoformat(day).replace(tzinfo=UTC)
                clock_value[0] = since + timedelta(hours=23, minutes=59)
                reports = await poll_all(app, feeds, on_report)
                stories = await asyncio.to_thread(
                    app.store.digest_stories, since, clock_value[0] + timedelta(seconds=1)
                )
                text = render_text(app, stories, console_channel(settings), "newsbot demo digest")
                clusters = len({s.cluster_id for s in stories})
                days.append(DemoDay(day, tuple(reports), text, len(stories), clusters))
        finally:
            app.close()
    return days


# -- trends (issue 8) ----------------------------------------------------------------------------------------


def compute_trends(
    app: App, rules: Sequence[tuple[str, str]], until: datetime, days: int, timezone: str
) -> Trends:
    """Daily matched-cluster counts for the given rules (id, name) over `days` local days up to `until`."""
    since = period_start(until, days, ZoneInfo(timezone))
    return daily_trends(sightings(app.store, since, until), rules, until, days, timezone)


def audience_rules(app: App, chat: str | None) -> tuple[list[tuple[str, str]], str]:
    """The rules a chat or channel follows (every rule without a chat), and the timezone to count days in."""
    if chat is None:
        return [(r.id, r.name) for r in app.watchlist.rules], app.settings.timezone
    audience = find_audience(app, chat)
    names = {r.id: r.name for r in app.watchlist.rules}
    return [(rule_id, names.get(rule_id, rule_id)) for rule_id in audience.modes], audience.timezone


def trends_png(app: App, chat: str | None, until: datetime, days: int = 14) -> tuple[Trends, bytes]:
    """The trends chart of what a chat follows (or of every rule): the counts and the PNG."""
    rules, timezone = audience_rules(app, chat)
    trends = compute_trends(app, rules, until, days, timezone)
    title = f"newsbot: matched stories per day, {trends.days[0]:%d %b} to {trends.days[-1]:%d %b %Y}"
    # Imported here: matplotlib and numpy add some 40 MB to every process, and only a chart needs them.
    from bot.charts import render_trends_png

    return trends, render_trends_png(trends, title)


def chat_trends_png(app: App, chat: str, days: int = 14) -> bytes | None:
    """The trends chart of what a Telegram chat or channel follows, or None if it follows nothing."""
    try:
        return trends_png(app, chat, app.clock(), days)[1]
    except LookupError:
        return None


MAX_NEW_PHRASES = 4


async def offer_for_article(app: App, text: str) -> ArticleOffer:
    """What to offer for an article sent to the bot: watchlist rules it names, and new phrases to track."""
    from bot.telegram_commands import ArticleOffer

    draft, error = await suggest_from_message(text, app.limits)
    if error is not None:
        return ArticleOffer(error=error)
    matcher = build_matcher(app.base_watchlist)
    by_id = {r.id: r for r in app.base_watchlist.rules}
    named: dict[str, None] = {}
    fresh: list[str] = []
    entries = sorted(draft.people + draft.phrases, key=lambda e: -e.weight) + list(draft.names)
    for entry in entries:
        found = [
            m.rule
            for term in (entry.name, *entry.terms)
            for m in matcher.match(Story(id="offer", title=term))
        ]
        named.update(dict.fromkeys(found))
        if not found and entry.kind in ("person", "phrase") and len(fresh) < MAX_NEW_PHRASES:
            fresh.append(entry.name)
    rules = tuple(by_id[rule_id] for rule_id in named if rule_id in by_id)
    return ArticleOffer(rules=rules[:8], phrases=tuple(fresh))


WEEKLY_DAYS = 7


async def weekly_tick(app: App) -> int:
    """Queue the weekly digest (the week's trends chart, then the week's digest) of channels with `weekly`."""
    now = app.clock()
    sent = 0
    for channel in app.watchlist.channels:
        period = weekly_period(now, channel.digest_at, channel.timezone) if channel.weekly else None
        if period is None:
            continue
        key = f"weekly:{channel.chat}:{period}:chart"
        if await asyncio.to_thread(has_message, app.store, key):
            continue
        trends, png = await asyncio.to_thread(trends_png, app, channel.chat, now, WEEKLY_DAYS)
        audience = channel_audience(app.watchlist, channel)
        stories = await asyncio.to_thread(app.store.digest_stories, now - timedelta(days=WEEKLY_DAYS), now)
        messages = [OutgoingMessage(key, channel.chat, weekly_caption(trends, period), "", True, png)]
        messages += digest_messages(
            app.watchlist, audience, stories, now, heading="newsbot weekly digest", key=f"weekly-{period}"
        )
        await asyncio.to_thread(app.store.enqueue, messages, now, app.sender.name)
        sent += 1
    return sent
