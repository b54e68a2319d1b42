"""Deliver outbox messages to Telegram with python-telegram-bot. One of two telegram importers.

Imported only where a bot token is set (`bot.app` builds the sender there), so console-mode processes
never load python-telegram-bot and httpx.
"""

from __future__ import annotations

import logging
import os
import warnings
from datetime import timedelta
from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ExtBot

from bot.model import OutgoingMessage
from bot.senders import SendOutcome

log = logging.getLogger(__name__)

TelegramUnavailable = TelegramError  # what the composition root catches when the Bot API cannot be reached


class TelegramSender:
    """Send through the Bot API with flood control (AIORateLimiter) and Telegram's error semantics."""

    name = "telegram"

    def __init__(self, token: str, base_url: str | None = None, bot: ExtBot[Any] | None = None) -> None:
        # PTB 22.2+ warns on every flood-control error until `retry_after` is a timedelta; opt in as its
        # deprecation notice asks, so AIORateLimiter reads it without warnings.
        os.environ.setdefault("PTB_TIMEDELTA", "1")
        # Telegram allows ~30 messages/s overall and 20/min per group; the limiter queues to stay under them.
        api = base_url or "https://api.telegram.org/bot"
        self.bot = bot or ExtBot(
            token,
            base_url=api,
            base_file_url=api.removesuffix("/bot") + "/file/bot",
            rate_limiter=AIORateLimiter(max_retries=2),
        )
        self._ready = False

    async def start(self) -> None:
        """Connect (getMe); if Telegram cannot be reached, say so and try again at the next send."""
        try:
            await self.bot.initialize()
            self._ready = True
        except TelegramError as exc:
            log.error(
                "Unable to reach the Telegram Bot API; messages wait in the outbox",
                extra={"error": _reason(exc)},
            )

    async def stop(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        # Specs: https://core.telegram.org/bots/api#sendmessage
        if not self._ready:
            try:
                await self.bot.initialize()
                self._ready = True
            except TelegramError as exc:
                return SendOutcome(
                    False, retry_after=30.0, error=f"telegram: unable to reach the Bot API ({_reason(exc)})"
                )
        try:
            if message.photo is not None:
                await self._send_photo(message)
            else:
                await self._send(message.chat, message.text, ParseMode.HTML, message.disable_preview)
        except BadRequest as exc:
            if "can't parse entities" in exc.message.lower() and message.plain_text:
                log.warning("Telegram rejected HTML; resending as plain text", extra={"chat": message.chat})
                return await self._send_plain(message)
            gone = "chat not found" in exc.message.lower()
            return SendOutcome(False, error=f"telegram: {exc.message}", chat_gone=gone)
        except TelegramError as exc:
            return _outcome(exc)
        return SendOutcome(True)

    async def _send_plain(self, message: OutgoingMessage) -> SendOutcome:
        try:
            await self._send(message.chat, message.plain_text, None, message.disable_preview)
        except TelegramError as exc:
            return _outcome(exc)
        return SendOutcome(True)

    async def _send_photo(self, message: OutgoingMessage) -> None:
        # Specs: https://core.telegram.org/bots/api#sendphoto (caption: 0-1024 characters)
        chat_id: int | str = int(message.chat) if message.chat.lstrip("-").isdigit() else message.chat
        await self.bot.send_photo(
            chat_id, message.photo or b"", caption=message.text[:1024], parse_mode=ParseMode.HTML
        )

    async def _send(self, chat: str, text: str, mode: ParseMode | None, no_preview: bool) -> None:
        chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
        await self.bot.send_message(
            chat_id, text, parse_mode=mode, link_preview_options=LinkPreviewOptions(is_disabled=no_preview)
        )


def _reason(exc: TelegramError) -> str:
    return exc.message.splitlines()[0][:200] if exc.message else type(exc).__name__


def _outcome(exc: TelegramError) -> SendOutcome:
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta; take either
            warnings.simplefilter("ignore")
            delay = exc.retry_after
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        return SendOutcome(False, retry_after=seconds, error="telegram: flood control")
    if isinstance(exc, Forbidden):
        return SendOutcome(False, error=f"telegram: forbidden ({exc.message})", chat_gone=True)
    if isinstance(exc, InvalidToken):
        return SendOutcome(False, error="telegram: the bot token was rejected")
    if isinstance(exc, TimedOut | NetworkError):
        return SendOutcome(False, retry_after=0.0, error=f"telegram: network error ({exc.message})")
    return SendOutcome(False, error=f"telegram: {exc.message}")
