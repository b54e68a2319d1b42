"""The Telegram bot's commands: python-telegram-bot handlers over storage. One of two telegram importers.

Every handler answers in plain words: an unknown name gets suggestions, a bad value says what is
expected, and nothing a user types produces a stack trace. Users are checked against the optional
allow-list and a per-user rate limit before any handler runs; admin commands need an admin's user id.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.matching import find_rules
from bot.model import ChatSettings, Subscription
from bot.normalize import words
from bot.watchlist import (
    TRACK_PREFIX,
    Mode,
    Rule,
    Watchlist,
    check_term,
    check_timezone,
    parse_clock,
    tracked_id,
)
from storage import Store

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

HELP = """<b>newsbot</b> watches the news for the people and topics you follow and tells you about new stories:
at once (alerts), in one message a day (digest), or both. The same story from many outlets comes once.

<b>Follow</b>
/topics: what you can follow, with buttons
/follow <i>name or id</i>: e.g. /follow starmer, /follow small-boats
/unfollow <i>name or id</i>
/track <i>phrase</i>: your own words to watch, e.g. /track return hubs
/untrack <i>phrase</i>
/list: what this chat follows and how

<b>Delivery</b>
/mode <i>id</i> alert|digest|both
/digest_at HH:MM: when the daily digest comes (now {digest_at})
/timezone <i>Area/City</i>: e.g. /timezone Europe/London (now {timezone})
/pause and /resume: stop and restart all messages
/digest: the digest now (what is new since your last one)
/trends: a chart of the last 14 days of what you follow

<b>From an article</b>
Send me a link or paste an article: I offer the people and topics it names to follow."""

ADMIN_HELP = "\n\n<b>Admin</b>\n/stats, /feeds, /reload"


@dataclass(frozen=True, slots=True)
class ArticleOffer:
    """What an article sent to the bot names: watchlist rules to follow, and new phrases to track."""

    rules: tuple[Rule, ...] = ()
    phrases: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class BotServices:
    """What the handlers need, passed in by the composition root (never global, never `bot_data`)."""

    store: Store
    watchlist: Callable[[], Watchlist]
    refresh_rules: Callable[[], None]
    digest_now: Callable[[str], Awaitable[int]]
    reload: Callable[[], Awaitable[str]]
    stats: Callable[[], str]
    feeds: Callable[[], str]
    clock: Callable[[], datetime]
    default_timezone: str = "Europe/London"
    trends_chart: Callable[[str], Awaitable[bytes | None]] | None = None  # PNG of a chat's follows
    suggest_article: Callable[[str], Awaitable[ArticleOffer]] | None = None
    admins: frozenset[int] = frozenset()
    allowed_users: frozenset[int] | None = None
    commands_per_minute: int = 20
    _recent: dict[int, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def allowed(self, user_id: int | None) -> bool:
        return self.allowed_users is None or (user_id is not None and user_id in self.allowed_users)

    def over_limit(self, user_id: int) -> bool:
        window = self._recent[user_id]
        now = time.monotonic()
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self.commands_per_minute:
            return True
        window.append(now)
        return False


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class Commands:
    """The command handlers, bound to their services."""

    def __init__(self, services: BotServices) -> None:
        self.s = services

    def install(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Register every handler (order matters: commands first, then buttons) and the error handler."""
        commands: dict[str, Handler] = {
            "start": self.help_command,
            "help": self.help_command,
            "topics": self.topics_command,
            "follow": self.follow_command,
            "unfollow": self.unfollow_command,
            "track": self.track_command,
            "untrack": self.untrack_command,
            "list": self.list_command,
            "mode": self.mode_command,
            "digest_at": self.digest_at_command,
            "timezone": self.timezone_command,
            "pause": self.pause_command,
            "resume": self.resume_command,
            "digest": self.digest_command,
            "stats": self.stats_command,
            "feeds": self.feeds_command,
            "reload": self.reload_command,
            "trends": self.trends_command,
        }
        for name, handler in commands.items():
            application.add_handler(CommandHandler(name, self._guard(handler, admin=name in ADMIN_COMMANDS)))
        application.add_handler(CallbackQueryHandler(self._guard(self.button_callback)))
        # After the commands: plain text (a link or a pasted article) in a private chat.
        articles = filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE
        application.add_handler(MessageHandler(articles, self._guard(self.article_message)))
        application.add_error_handler(self.error_handler)

    # -- plumbing ------------------------------------------------------------------------------------------

    def _guard(self, handler: Handler, admin: bool = False) -> Handler:
        async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            user = update.effective_user
            user_id = user.id if user else None
            if not self.s.allowed(user_id):
                await _reply(update, "Sorry, this bot is private.")
                return
            if user_id is not None and self.s.over_limit(user_id):
                if update.callback_query:
                    await update.callback_query.answer("Too many requests; try again in a minute.")
                else:
                    await _reply(update, "Too many commands in a minute; please wait a little.")
                return
            if admin and user_id not in self.s.admins:
                await _reply(update, "That command is for the bot's administrators.")
                return
            await handler(update, context)

        return guarded

    async def error_handler(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Command failed", exc_info=context.error)
        if isinstance(update, Update):
            await _reply(update, "Something went wrong on our side; the error has been logged.")

    async def _chat(self, update: Update) -> ChatSettings:
        chat = update.effective_chat
        assert chat is not None  # command and button updates always carry a chat
        title = chat.title or chat.full_name or chat.username or ""
        return await _thread(
            self.s.store.ensure_chat, str(chat.id), chat.type, title, self.s.clock(), self.s.default_timezone
        )

    def _resolve(self, query: str) -> tuple[Rule | None, list[Rule]]:
        """An exact id, name or alias resolves; anything else gets up to three suggestions to tap."""
        rules = [r for r in self.s.watchlist().rules if not r.id.startswith(TRACK_PREFIX)]
        wanted = " ".join(words(query))
        for rule in rules:
            labels = (rule.id.replace("-", " "), rule.name, *rule.aliases)
            if wanted in {" ".join(words(label)) for label in labels}:
                return rule, []
        return None, [rule for rule, _ in find_rules(query, rules)]

    # -- commands ------------------------------------------------------------------------------------------

    async def help_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Explain what the bot does and how to use it."""
        chat = await self._chat(update)
        text = HELP.format(digest_at=chat.digest_at, timezone=html.escape(chat.timezone))
        user = update.effective_user
        if user is not None and user.id in self.s.admins:
            text += ADMIN_HELP
        await _reply(update, text)

    async def topics_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """List what can be followed, with a follow/unfollow button for each."""
        chat = await self._chat(update)
        followed = {s.rule for s in await _thread(self.s.store.subscriptions, chat.chat)}
        watchlist = self.s.watchlist()
        lines = ["<b>People</b>"] + [
            f"• {html.escape(r.name)}: <code>{r.id}</code>" for r in watchlist.people
        ]
        lines += ["", "<b>Topics</b>"]
        lines += [
            f"• {html.escape(r.name)}: <code>{r.id}</code>"
            for r in watchlist.topics
            if not r.id.startswith(TRACK_PREFIX)
        ]
        lines += ["", "Tap to follow (➕) or unfollow (✅):"]
        await _reply(update, "\n".join(lines), _keyboard(watchlist, followed))

    async def follow_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Follow a person or topic by id or (fuzzy) name."""
        chat = await self._chat(update)
        query = " ".join(context.args or [])
        if not query:
            await _reply(
                update, "Follow whom or what? For example: /follow starmer. /topics lists everything."
            )
            return
        rule, suggestions = self._resolve(query)
        if rule is None:
            await self._suggest(update, query, suggestions)
            return
        await _reply(update, await self._follow(chat, rule))

    async def _follow(self, chat: ChatSettings, rule: Rule) -> str:
        added = await _thread(self.s.store.subscribe, Subscription(chat.chat, rule.id, Mode.BOTH.value))
        if not added:
            return f"You already follow <b>{html.escape(rule.name)}</b>. /list shows how it is delivered."
        return (
            f"Following <b>{html.escape(rule.name)}</b>: new stories at once and in your daily digest at "
            f"{chat.digest_at} ({html.escape(chat.timezone)}). Change it with /mode {rule.id} digest."
        )

    async def _suggest(self, update: Update, query: str, suggestions: Sequence[Rule]) -> None:
        if not suggestions:
            await _reply(
                update,
                f"I don't know “{html.escape(query)}”. /topics lists what you can follow, "
                f"and /track {html.escape(query)} watches your own words.",
            )
            return
        buttons = [
            [InlineKeyboardButton(f"➕ {r.name}", callback_data=f"f:{r.id}")]
            for r in suggestions
            if len(f"f:{r.id}".encode()) <= 64
        ]
        names = ", ".join(f"<b>{html.escape(r.name)}</b> (<code>{r.id}</code>)" for r in suggestions)
        await _reply(update, f"Did you mean {names}? Tap to follow.", InlineKeyboardMarkup(buttons))

    async def unfollow_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop following a person or topic."""
        chat = await self._chat(update)
        query = " ".join(context.args or [])
        if not query:
            await _reply(update, "Unfollow what? /list shows what this chat follows.")
            return
        rule, suggestions = self._resolve(query)
        if rule is None:
            followed = {s.rule for s in await _thread(self.s.store.subscriptions, chat.chat)}
            await self._suggest(update, query, [r for r in suggestions if r.id in followed] or suggestions)
            return
        removed = await _thread(self.s.store.unsubscribe, chat.chat, rule.id)
        text = (
            f"Unfollowed <b>{html.escape(rule.name)}</b>."
            if removed
            else f"This chat does not follow <b>{html.escape(rule.name)}</b>."
        )
        await _reply(update, text)

    async def track_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Watch a personal phrase, matched like any rule."""
        chat = await self._chat(update)
        phrase = " ".join(context.args or []).strip()
        try:
            phrase = check_term(phrase[:100]) if phrase else ""
        except ValueError as exc:
            await _reply(update, f"I can't watch that: {html.escape(str(exc))}.")
            return
        if not phrase:
            await _reply(
                update,
                "Track which words? For example: /track return hubs (a trailing * matches any "
                "ending: /track deport*).",
            )
            return
        await _reply(update, await self._track(chat, phrase))

    async def _track(self, chat: ChatSettings, phrase: str) -> str:
        added = await _thread(
            self.s.store.subscribe, Subscription(chat.chat, tracked_id(phrase), "both", phrase)
        )
        await _thread(self.s.refresh_rules)
        if added:
            return f"Watching “{html.escape(phrase)}” from now on."
        return f"You already track “{html.escape(phrase)}”."

    async def untrack_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop watching a personal phrase."""
        chat = await self._chat(update)
        phrase = " ".join(context.args or []).strip()
        removed = bool(phrase) and await _thread(self.s.store.unsubscribe, chat.chat, tracked_id(phrase))
        if removed:
            await _thread(self.s.refresh_rules)
        await _reply(
            update,
            f"Stopped watching “{html.escape(phrase)}”."
            if removed
            else "You don't track that. /list shows your phrases.",
        )

    async def list_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show what this chat follows and how it is delivered."""
        chat = await self._chat(update)
        subscriptions = await _thread(self.s.store.subscriptions, chat.chat)
        names = {r.id: r.name for r in self.s.watchlist().rules}
        state = "⏸ paused (/resume)" if chat.paused else "active"
        head = f"Daily digest at {chat.digest_at} ({html.escape(chat.timezone)}), {state}."
        if not subscriptions:
            await _reply(update, f"This chat follows nothing yet. /topics shows what you can follow.\n{head}")
            return
        lines = [f"<b>This chat follows {len(subscriptions)}</b>"]
        for sub in subscriptions:
            label = f"“{sub.phrase}”" if sub.phrase else names.get(sub.rule, sub.rule)
            lines.append(f"• {html.escape(label)} (<code>{sub.rule}</code>): {_MODE_TEXT[sub.mode]}")
        await _reply(update, "\n".join(lines + ["", head]))

    async def mode_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Set how a followed rule is delivered: alert, digest or both."""
        chat = await self._chat(update)
        args = context.args or []
        if len(args) < 2 or args[-1].lower() not in _MODE_TEXT:
            await _reply(update, "Use /mode <i>id</i> alert|digest|both, e.g. /mode keir-starmer digest.")
            return
        mode, query = args[-1].lower(), " ".join(args[:-1])
        rule_id = query if query.startswith(TRACK_PREFIX) else None
        if rule_id is None:
            rule, suggestions = self._resolve(query)
            if rule is None:
                await self._suggest(update, query, suggestions)
                return
            rule_id = rule.id
        changed = await _thread(self.s.store.set_mode, chat.chat, rule_id, mode)
        await _reply(
            update,
            f"<code>{rule_id}</code>: {_MODE_TEXT[mode]}."
            if changed
            else f"This chat does not follow <code>{html.escape(rule_id)}</code>; /follow it first.",
        )

    async def digest_at_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Set the local time of the daily digest."""
        chat = await self._chat(update)
        try:
            at = parse_clock(" ".join(context.args or []))
        except ValueError:
            await _reply(update, "Use /digest_at HH:MM, 24-hour clock, e.g. /digest_at 07:30.")
            return
        await _thread(self.s.store.update_chat, chat.chat, digest_at=f"{at:%H:%M}")
        await _reply(update, f"Your digest will come at {at:%H:%M} ({html.escape(chat.timezone)}).")

    async def timezone_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Set this chat's timezone (IANA name; daylight saving follows)."""
        chat = await self._chat(update)
        name = " ".join(context.args or []).strip()
        try:
            check_timezone(name)
        except ValueError:
            await _reply(
                update,
                f"“{html.escape(name)}” is not a timezone I know. Use an Area/City name such as "
                "Europe/London, Europe/Berlin or America/New_York.",
            )
            return
        await _thread(self.s.store.update_chat, chat.chat, timezone=name)
        await _reply(
            update, f"Timezone set to {html.escape(name)}; your digest comes at {chat.digest_at} there."
        )

    async def pause_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop alerts and digests for this chat until /resume."""
        chat = await self._chat(update)
        await _thread(self.s.store.update_chat, chat.chat, paused=True)
        await _reply(update, "Paused: no alerts or digests until /resume. Your follows are kept.")

    async def resume_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Restart alerts and digests for this chat."""
        chat = await self._chat(update)
        await _thread(self.s.store.update_chat, chat.chat, paused=False)
        await _reply(update, "Resumed: alerts and digests are back on.")

    async def digest_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Send the digest now: what is new since this chat's last digest (or the last 24 hours)."""
        chat = await self._chat(update)
        if not await _thread(self.s.store.subscriptions, chat.chat):
            await _reply(update, "Follow something first: /topics shows what you can follow.")
            return
        if not await self.s.digest_now(chat.chat):
            await _reply(update, "Nothing new on what you follow since your last digest.")

    async def trends_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Send a chart of the daily matched stories of what this chat follows, last 14 days."""
        chat = await self._chat(update)
        if not await _thread(self.s.store.subscriptions, chat.chat):
            await _reply(update, "This chat follows nothing yet, so there are no trends to draw. /topics")
            return
        png = await self.s.trends_chart(chat.chat) if self.s.trends_chart else None
        message = update.effective_message
        if png is None or message is None:
            await _reply(update, "No trends to show yet.")
            return
        # Specs: https://core.telegram.org/bots/api#sendphoto (a photo up to 10 MB, caption up to 1,024)
        await message.reply_photo(
            png, caption="Matched stories per day, last 14 days, for what this chat follows.", do_quote=False
        )

    async def article_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Offer the people and topics a linked or pasted article names, as buttons to follow or track."""
        message = update.effective_message
        text = (message.text or "") if message else ""
        if self.s.suggest_article is None or not text.strip():
            return
        if "http" not in text and len(text.split()) < 40:
            await _reply(
                update,
                "Send me a link to an article, or paste one, and I will offer what it names to follow. "
                "Commands: /help",
            )
            return
        await self._chat(update)
        offer = await self.s.suggest_article(text[:100_000])
        if offer.error is not None:
            await _reply(update, f"Sorry, {html.escape(offer.error)}.")
            return
        buttons = [
            [InlineKeyboardButton(f"➕ {r.name[:40]}", callback_data=f"f:{r.id}")]
            for r in offer.rules
            if len(f"f:{r.id}".encode()) <= 64
        ]
        buttons += [
            [InlineKeyboardButton(f"🔎 track “{p[:40]}”", callback_data=f"k:{p}")]
            for p in offer.phrases
            if len(f"k:{p}".encode()) <= 64  # Bot API: callback_data is 1-64 bytes
        ]
        if not buttons:
            await _reply(update, "I found nothing in it that I could offer to follow.")
            return
        lines = []
        if offer.rules:
            lines.append(
                "This article names " + ", ".join(f"<b>{html.escape(r.name)}</b>" for r in offer.rules) + "."
            )
        if offer.phrases:
            lines.append(
                "New to the watchlist: " + ", ".join(f"“{html.escape(p)}”" for p in offer.phrases) + "."
            )
        lines.append("Tap to follow (➕) or to track the words (🔎).")
        await _reply(update, "\n".join(lines), InlineKeyboardMarkup(buttons))

    async def stats_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await _reply(update, self.s.stats())

    async def feeds_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await _reply(update, self.s.feeds())

    async def reload_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await _reply(update, await self.s.reload())

    # -- buttons -------------------------------------------------------------------------------------------

    async def button_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Follow (f:), toggle from the /topics keyboard (t:), or track a phrase offered for an article (k:)."""
        query = update.callback_query
        assert query is not None
        chat = await self._chat(update)
        kind, _, rule_id = (query.data or "").partition(":")
        if kind == "k":
            try:
                phrase = check_term(rule_id)
            except ValueError:
                await query.answer("That button is out of date.")
                return
            await query.answer(f"Tracking “{phrase}”")
            await query.edit_message_text(await self._track(chat, phrase), parse_mode=ParseMode.HTML)
            return
        rule = next((r for r in self.s.watchlist().rules if r.id == rule_id), None)
        if rule is None or kind not in ("f", "t"):
            await query.answer("That button is out of date; try /topics again.")
            return
        followed = {s.rule for s in await _thread(self.s.store.subscriptions, chat.chat)}
        if kind == "t" and rule.id in followed:
            await _thread(self.s.store.unsubscribe, chat.chat, rule.id)
            await query.answer(f"Unfollowed {rule.name}")
            followed.discard(rule.id)
        else:
            await _thread(self.s.store.subscribe, Subscription(chat.chat, rule.id, Mode.BOTH.value))
            await query.answer(f"Following {rule.name}")
            followed.add(rule.id)
        if kind == "t":
            await query.edit_message_reply_markup(_keyboard(self.s.watchlist(), followed))
        else:
            await query.edit_message_text(
                f"Following <b>{html.escape(rule.name)}</b>.", parse_mode=ParseMode.HTML
            )


ADMIN_COMMANDS = frozenset({"stats", "feeds", "reload"})
_MODE_TEXT = {"alert": "alerts only", "digest": "daily digest only", "both": "alerts and daily digest"}


def _keyboard(watchlist: Watchlist, followed: set[str]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(f"{'✅' if r.id in followed else '➕'} {r.name[:30]}", callback_data=f"t:{r.id}")
        for r in watchlist.rules
        if not r.id.startswith(TRACK_PREFIX) and len(f"t:{r.id}".encode()) <= 64
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


async def _reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    message = update.effective_message
    if message is None:
        return
    # Specs: https://core.telegram.org/bots/api#sendmessage (4,096 characters at most)
    await message.reply_text(
        text[:4096],
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        do_quote=False,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


async def _thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await asyncio.to_thread(function, *args, **kwargs)


def build_application(
    token: str, base_url: str | None, services: BotServices
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB Application: long-polling for commands, flood control shared with outgoing messages."""
    api = base_url or "https://api.telegram.org/bot"
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(api)
        .base_file_url(api.removesuffix("/bot") + "/file/bot")
        .rate_limiter(AIORateLimiter(max_retries=2))
        .build()
    )
    Commands(services).install(application)
    return application
