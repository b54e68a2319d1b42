"""Settings: one validated object built from flags and environment, passed down explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError
from bot.watchlist import check_timezone, parse_duration, parse_span

# Environment variable -> setting. Names from DESIGN.md, plus NEWSBOT_* for the rest.
ENVIRONMENT = {
    "NEWSBOT_RULES": "rules",
    "NEWSBOT_DB": "db",
    "TELEGRAM_BOT_TOKEN": "telegram_token",
    "NEWSBOT_TELEGRAM_BASE_URL": "telegram_base_url",
    "NEWSBOT_POLL_EVERY": "poll_every",
    "NEWSBOT_CONCURRENCY": "concurrency",
    "NEWSBOT_PER_HOST": "per_host",
    "NEWSBOT_DEDUP_WINDOW": "dedup_window",
    "NEWSBOT_DEDUP_MEANING": "dedup_meaning",
    "NEWSBOT_DEDUP_FOLD": "dedup_fold",
    "NEWSBOT_RETENTION": "retention",
    "NEWSBOT_TIMEZONE": "timezone",
    "NEWSBOT_MAX_FEED_BYTES": "max_feed_bytes",
    "NEWSBOT_LOG_LEVEL": "log_level",
    "NEWSBOT_ADMINS": "admins",
    "NEWSBOT_ALLOWED_USERS": "allowed_users",
    "NEWSBOT_COMMANDS_PER_MINUTE": "commands_per_minute",
    "NEWSBOT_POLL_MIN": "poll_min",
    "NEWSBOT_POLL_MAX": "poll_max",
    "NEWSBOT_ROLE": "role",
    "NEWSBOT_POLL_LEASE": "poll_lease",
    "NEWSBOT_METRICS_PORT": "metrics_port",
    "NEWSBOT_METRICS_HOST": "metrics_host",
}
ROLES = ("all", "poller", "sender")


class Settings(BaseModel):
    """Everything newsbot can be told; defaults run on a fresh machine with no setup."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Path, ...] = (Path("rules"),)
    db: str = "sqlite:///data/newsbot.db"
    telegram_token: SecretStr | None = None
    telegram_base_url: str | None = None
    poll_every: timedelta = timedelta(minutes=15)  # a feed's first interval; then it adapts
    poll_min: timedelta = timedelta(minutes=2)  # adaptive intervals stay within these bounds
    poll_max: timedelta = timedelta(hours=2)
    poll_lease: timedelta = timedelta(minutes=10)  # a dead poller's feeds go to another after this
    concurrency: int = Field(default=20, ge=1, le=500)
    per_host: int = Field(default=4, ge=1, le=500)  # requests to one host at a time
    dedup_window: timedelta = timedelta(hours=48)
    dedup_meaning: bool = True  # weigh text embeddings when folding coverage (off: words alone)
    # What one entry holds: a development with its reactions and analysis ("event"), or one development.
    dedup_fold: Literal["event", "development"] = "event"
    retention: timedelta = timedelta(days=30)
    timezone: str = "Europe/London"
    max_feed_bytes: int = Field(default=10_000_000, ge=10_000)
    log_level: str = "INFO"
    admins: frozenset[int] = frozenset()  # Telegram user ids allowed /stats, /reload, /feeds
    allowed_users: frozenset[int] | None = None  # if set, only these users may use the bot
    commands_per_minute: int = Field(default=20, ge=1, le=1000)
    role: Literal["all", "poller", "sender"] = "all"  # what `newsbot run` does: everything, or one half
    metrics_port: int | None = Field(default=9464, ge=0, le=65535)  # /metrics and /healthz; None: off
    metrics_host: str = "127.0.0.1"

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "off", "none", "no", "false"):
            return None
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Settings:
        if self.poll_lease < timedelta(seconds=2):
            raise ValueError(f"NEWSBOT_POLL_LEASE ({self.poll_lease}) must be at least 2s")
        if self.poll_min > self.poll_max:
            raise ValueError(
                f"NEWSBOT_POLL_MIN ({self.poll_min}) is longer than NEWSBOT_POLL_MAX ({self.poll_max})"
            )
        return self

    @field_validator("admins", "allowed_users", mode="before")
    @classmethod
    def _user_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            bad = [p for p in parts if not p.lstrip("-").isdigit()]
            if bad:
                raise ValueError(f"expected numeric Telegram user ids separated by commas, got {bad[0]!r}")
            return frozenset(int(p) for p in parts)
        return value

    @field_validator("rules", mode="before")
    @classmethod
    def _rules(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(Path(p) for p in value.split(os.pathsep) if p)
        return value

    @field_validator("poll_every", "poll_min", "poll_max", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        if isinstance(value, timedelta):
            return value
        return parse_duration(int(value) if isinstance(value, str) and value.isdigit() else value)

    @field_validator("dedup_window", "retention", "poll_lease", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_span(value) if not value.isdigit() else timedelta(seconds=int(value))
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("telegram_token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> Any:
        return value or None

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {value!r}")
        return level

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Build settings from an environment mapping, then flags (`overrides`, None meaning not given)."""
        values: dict[str, Any] = {
            field: environ[name] for name, field in ENVIRONMENT.items() if environ.get(name)
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            names = {field: name for name, field in ENVIRONMENT.items()}
            problems = []
            for error in exc.errors():
                if not error["loc"]:  # a check across settings
                    problems.append(f"settings: {str(error['msg']).removeprefix('Value error, ')}")
                    continue
                field = str(error["loc"][0])
                shown = "<hidden>" if field == "telegram_token" else repr(error.get("input"))
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(f"setting {names.get(field, field)} has value {shown}: {message}")
            raise ConfigError("\n".join(problems)) from None

    @property
    def telegram_api_url(self) -> str | None:
        """The Bot API base URL in python-telegram-bot's form (the token is appended to it)."""
        if not self.telegram_base_url:
            return None
        base = self.telegram_base_url.rstrip("/")
        return base if base.endswith("/bot") else f"{base}/bot"
