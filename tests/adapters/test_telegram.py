"""The Telegram sender against a real Bot API emulator on loopback (telegram-test-api + compat layer)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.logs import RedactingFilter
from bot.model import OutgoingMessage
from bot.outbox import flush_outbox
from bot.senders import SendOutcome
from bot.telegram_sender import TelegramSender
from storage import open_store
from tests.emulator.tg_emulator import HERE, Emulator

pytestmark = pytest.mark.emulator
TOKEN = "123456:TEST-secret-token"

if shutil.which("node") is None or not (HERE / "node_modules").is_dir():
    pytest.skip(
        "the emulator needs node and `npm ci` in tests/emulator (.ci/run does both)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(env={"TG_EMU_STORE_TIMEOUT": "600"}) as emu:
        yield emu


@pytest.fixture(autouse=True)
def reset(emulator: Emulator) -> None:
    emulator.reset()


def send(emulator: Emulator, message: OutgoingMessage) -> SendOutcome:
    async def go() -> SendOutcome:
        sender = TelegramSender(TOKEN, emulator.bot_base_url)
        await sender.start()
        try:
            return await sender.send(message)
        finally:
            await sender.stop()

    return asyncio.run(go())


def test_sends_html_with_previews_off(emulator: Emulator) -> None:
    outcome = send(
        emulator, OutgoingMessage("k", "-1001234", "<b>Digest</b> &amp; more", "Digest & more", True)
    )
    assert outcome == SendOutcome(True)
    [sent] = emulator.user(TOKEN, chat_id=-1001234, chat_type="supergroup").wait_bot_messages(1)
    assert sent["message"]["text"] == "<b>Digest</b> &amp; more"
    assert sent["message"]["parse_mode"] == "HTML"
    assert '"is_disabled":true' in str(sent["message"]["link_preview_options"]).replace(
        " ", ""
    ).lower() or sent["message"]["link_preview_options"].get("is_disabled") in (True, "true")


def test_flood_control_waits_and_retries(emulator: Emulator) -> None:
    emulator.fail("sendMessage", 429, retry_after=1, times=1)
    assert send(emulator, OutgoingMessage("k", "42", "after a wait")).ok
    [sent] = emulator.user(TOKEN, chat_id=42).wait_bot_messages(1)
    assert sent["message"]["text"] == "after a wait"


def test_blocked_bot_means_the_chat_is_gone(emulator: Emulator) -> None:
    emulator.fail("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    outcome = send(emulator, OutgoingMessage("k", "42", "hello"))
    assert not outcome.ok and outcome.chat_gone and outcome.retry_after is None


def test_html_rejected_by_telegram_is_resent_as_plain_text(emulator: Emulator) -> None:
    emulator.fail("sendMessage", 400, description="Bad Request: can't parse entities: unsupported start tag")
    assert send(emulator, OutgoingMessage("k", "42", "<b>A &amp; B</b>", "A & B")).ok
    [sent] = emulator.user(TOKEN, chat_id=42).wait_bot_messages(1)
    assert sent["message"]["text"] == "A & B" and not sent["message"].get("parse_mode")


def test_outbox_through_telegram_records_outcomes_and_never_logs_the_token(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/db.sqlite")
    now = datetime(2023, 11, 15, 8, 0, tzinfo=UTC)
    store.enqueue([OutgoingMessage("a", "42", "first"), OutgoingMessage("b", "43", "second")], now)
    emulator.fail("sendMessage", 403, description="Forbidden: bot was kicked", chat_id=43)
    caplog.handler.addFilter(RedactingFilter([TOKEN]))
    caplog.set_level(logging.DEBUG)

    async def go() -> None:
        sender = TelegramSender(TOKEN, emulator.bot_base_url)
        await sender.start()
        try:
            report = await flush_outbox(store, sender, lambda: now)
            assert (report.sent, report.failed) == (1, 1)
        finally:
            await sender.stop()

    asyncio.run(go())
    assert store.pending(now) == [] and store.stats().outbox_failed == 1
    assert TOKEN not in caplog.text and "TEST-secret" not in caplog.text


def test_chat_not_found_is_not_retried(emulator: Emulator) -> None:
    emulator.fail("sendMessage", 400, description="Bad Request: chat not found")
    outcome = send(emulator, OutgoingMessage("k", "-100999", "hello"))
    assert not outcome.ok and outcome.chat_gone and outcome.retry_after is None


def test_a_chat_that_blocked_the_bot_is_deactivated(emulator: Emulator, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/db.sqlite")
    now = datetime(2023, 11, 15, 8, 0, tzinfo=UTC)
    store.ensure_chat("44", "private", "Ann", now, "Europe/London")
    store.enqueue([OutgoingMessage("a", "44", "first")], now)
    emulator.fail("sendMessage", 403, description="Forbidden: bot was blocked by the user")

    async def go() -> None:
        sender = TelegramSender(TOKEN, emulator.bot_base_url)
        await sender.start()
        try:
            await flush_outbox(store, sender, lambda: now)
        finally:
            await sender.stop()

    asyncio.run(go())
    assert store.active_chats() == []
