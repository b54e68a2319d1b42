"""The bot's gatekeeping: the allow-list and the per-user command rate limit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.telegram_commands import BotServices
from bot.watchlist import Watchlist
from storage import open_store


async def _zero(chat: str) -> int:
    return 0


async def _text() -> str:
    return ""


def services(tmp_path: Path, **kwargs: object) -> BotServices:
    return BotServices(
        store=open_store(f"sqlite:///{tmp_path}/db.sqlite"),
        watchlist=Watchlist,
        refresh_rules=lambda: None,
        digest_now=_zero,
        reload=_text,
        stats=str,
        feeds=str,
        clock=lambda: datetime.now(UTC),
        **kwargs,  # type: ignore[arg-type]
    )


def test_without_an_allow_list_everyone_may_use_the_bot(tmp_path: Path) -> None:
    assert services(tmp_path).allowed(12345)


def test_the_allow_list_admits_only_its_users(tmp_path: Path) -> None:
    guarded = services(tmp_path, allowed_users=frozenset({1, 2}))
    assert guarded.allowed(1) and not guarded.allowed(3) and not guarded.allowed(None)


def test_rate_limit_is_per_user(tmp_path: Path) -> None:
    limited = services(tmp_path, commands_per_minute=3)
    assert [limited.over_limit(7) for _ in range(4)] == [False, False, False, True]
    assert not limited.over_limit(8)
