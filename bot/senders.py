"""Deliver outbox messages: the `Sender` protocol, and the console sender used when no token is set.

A sender never raises for a message's own failure; it returns a `SendOutcome` saying whether to retry
(and when) or to give up, so the outbox can record it and carry on. The Telegram sender is in
`bot.telegram_sender`, so that a process without a token never imports python-telegram-bot and httpx.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Protocol, TextIO

from bot.model import OutgoingMessage


@dataclass(frozen=True, slots=True)
class SendOutcome:
    ok: bool
    retry_after: float | None = None  # seconds; None with ok=False means give up
    error: str = ""
    chat_gone: bool = False


class Sender(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: OutgoingMessage) -> SendOutcome: ...


class ConsoleSender:
    """Print messages as plain text; the default when no bot token is configured."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        rule = "─" * 60
        photo = f"[chart: a {len(message.photo):,}-byte PNG]\n" if message.photo else ""
        self.stream.write(f"{rule}\nto {message.chat}\n{photo}{message.plain_text or message.text}\n")
        self.stream.flush()
        return SendOutcome(True)
