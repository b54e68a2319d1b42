"""Python side of the tg-emulator harness (stdlib only).

- ``Emulator``: starts ``node start.js`` (telegram-test-api + compat layer) on a
  free loopback port, waits for its ``ready`` line, stops it by PID.
- ``EmulatorUser``: acts as a Telegram user through the emulator's *client*
  HTTP API (POST /sendMessage, /sendCommand, /sendCallback, /getUpdates,
  /getUpdatesHistory), and reads what the bot sent.

The bot under test talks to the emulator with the ordinary Bot API, e.g. for
python-telegram-bot: ``.base_url(emu.bot_base_url)`` (= ``http://127.0.0.1:PORT/bot``;
PTB appends the token, giving ``/bot<TOKEN>/<method>``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, payload: dict, timeout: float = 10) -> dict:
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:  # emulator answered with an error status
        raise RuntimeError(f"{url} -> HTTP {e.code}: {e.read()[:500]!r}") from None


class Emulator:
    """Runs ``node start.js`` on 127.0.0.1. Use as a context manager."""

    def __init__(
        self,
        port: int | None = None,
        harness_dir: str | os.PathLike | None = None,
        compat: bool = True,
        startup_timeout: float = 20.0,
        env: dict | None = None,
    ):
        self.port = port or free_port()
        self.harness_dir = Path(harness_dir or os.environ.get("TG_EMU_DIR") or HERE)
        self.compat = compat
        self.startup_timeout = startup_timeout
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bot_base_url(self) -> str:
        """Value for PTB's ``base_url``: PTB appends the token, then ``/<method>``."""
        return f"{self.api_url}/bot"

    @property
    def bot_base_file_url(self) -> str:
        return f"{self.api_url}/file/bot"  # the emulator serves no files (no getFile)

    def start(self) -> Emulator:
        env = dict(
            os.environ,
            TG_EMU_PORT=str(self.port),
            TG_EMU_HOST="127.0.0.1",
            TG_EMU_COMPAT="1" if self.compat else "0",
            **self.extra_env,
        )
        if os.environ.get("TG_EMU_NODE_PATH"):  # node_modules installed elsewhere
            env["NODE_PATH"] = os.environ["TG_EMU_NODE_PATH"]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            ["node", str(self.harness_dir / "start.js")],
            cwd=self.harness_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()  # blocks until "ready ..." or exit
        if not line.startswith("ready"):
            self.proc.wait(timeout=5)
            raise RuntimeError(f"emulator did not start: {line!r} {self.proc.stderr.read()[-2000:]}")
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc:
            for f in (self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- test-control endpoints of the compat layer ----
    def fail(
        self,
        method: str,
        error_code: int = 429,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        chat_id=None,
    ) -> dict:
        """Make the next ``times`` calls of Bot API ``method`` answer with a Telegram error."""
        body = {"method": method, "error_code": error_code, "times": times}
        if retry_after is not None:
            body["retry_after"] = retry_after
        if description:
            body["description"] = description
        if chat_id is not None:
            body["chat_id"] = chat_id
        return _post(f"{self.api_url}/_emu/fail", body)

    def clear_faults(self) -> None:
        _post(f"{self.api_url}/_emu/clear_faults", {})

    def reset(self) -> None:
        """Drop queued faults, all stored messages/updates and webhooks."""
        _post(f"{self.api_url}/_emu/reset", {})

    def user(self, token: str, **kw) -> EmulatorUser:
        return EmulatorUser(self.api_url, token, **kw)


class EmulatorUser:
    """A simulated user (in a private chat by default, or a group/channel chat)."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        user_id: int = 1,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Test",
        username: str = "testuser",
        chat_title: str | None = None,
    ):
        self.api_url = api_url
        self.token = token
        self.user_id = user_id
        self.chat_id = chat_id if chat_id is not None else user_id
        self.chat_type = chat_type
        self.first_name = first_name
        self.username = username
        self.chat_title = chat_title

    def _from(self) -> dict:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name, "username": self.username}

    def _chat(self) -> dict:
        chat = {"id": self.chat_id, "type": self.chat_type}
        if self.chat_type == "private":
            chat.update(first_name=self.first_name, username=self.username)
        else:
            chat["title"] = self.chat_title or f"Chat {self.chat_id}"
        return chat

    def _message(self, text: str) -> dict:
        # message_id is assigned by the emulator; botToken routes it to the bot.
        return {
            "botToken": self.token,
            "from": self._from(),
            "chat": self._chat(),
            "date": int(time.time()),
            "text": text,
        }

    def send_text(self, text: str) -> None:
        """Plain text (no entities): PTB's CommandHandler would NOT see a command here."""
        _post(f"{self.api_url}/sendMessage", self._message(text))

    def send_command(self, text: str) -> None:
        """'/cmd args' or '/cmd@BotName args' with a bot_command entity, as real clients send."""
        assert text.startswith("/"), text
        cmd = text.split(" ", 1)[0]
        msg = self._message(text)
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(cmd)}]
        _post(f"{self.api_url}/sendCommand", msg)

    def click(self, bot_message: dict, data: str) -> None:
        """Press an inline button (callback_data=data) on a message the bot sent."""
        m = bot_message["message"]
        message = {
            "message_id": bot_message["messageId"],
            "date": int(bot_message["time"] // 1000),
            "chat": self._chat(),
            "text": m.get("text", ""),
            "from": {"id": 666, "is_bot": True, "first_name": "Test Bot"},
        }
        _post(
            f"{self.api_url}/sendCallback",
            {
                "botToken": self.token,
                "from": self._from(),
                "message": message,
                "data": data,
                "chat_instance": str(self.chat_id),
                "date": int(time.time()),
            },
        )

    def bot_messages(self) -> list[dict]:
        """Unread messages the bot sent to this chat (marks them read). Each item is the
        emulator's record: {'messageId', 'time' (ms), 'message': <sendMessage params as sent>}"""
        return _post(f"{self.api_url}/getUpdates", {"token": self.token, "chatId": self.chat_id})["result"]

    def wait_bot_messages(self, count: int = 1, timeout: float = 10.0) -> list[dict]:
        got: list[dict] = []
        deadline = time.monotonic() + timeout
        while True:
            got += self.bot_messages()
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} bot message(s) in chat {self.chat_id}, got {got!r}")
            time.sleep(0.05)

    def history(self) -> list[dict]:
        """All stored user and bot messages for this bot token (reflects edits)."""
        return _post(f"{self.api_url}/getUpdatesHistory", {"token": self.token})["result"]
