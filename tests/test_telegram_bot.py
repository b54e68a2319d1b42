"""The Telegram bot end to end: a simulated user talks to the real bot through the Bot API emulator."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import app
from bot.digest import to_plain
from bot.settings import Settings
from tests.emulator.tg_emulator import HERE, Emulator, EmulatorUser
from tests.helpers.feedserver import FeedServer

pytestmark = pytest.mark.emulator
TOKEN = "123456:TEST-bot-token"

if shutil.which("node") is None or not (HERE / "node_modules").is_dir():
    pytest.skip(
        "the emulator needs node and `npm ci` in tests/emulator (.ci/run does both)", allow_module_level=True
    )

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test News</title><link>https://news.test</link>
<item><title>Keir Starmer sets out plan for return hubs in the Balkans</title>
<link>https://news.test/starmer-return-hubs</link><pubDate>Thu, 15 May 2025 06:30:00 GMT</pubDate>
<description>The prime minister said talks with several countries were under way.</description></item>
<item><title>Record small boat crossings in May, Home Office figures show</title>
<link>https://news.test/small-boats-may</link><pubDate>Thu, 15 May 2025 06:45:00 GMT</pubDate>
<description>More than 1,000 migrants crossed the Channel in small boats on one day.</description></item>
</channel></rss>"""


STARMER_ITEM = FEED[FEED.index("<item>") : FEED.index("</item>") + len("</item>")]


class Service:
    """Runs `app.run` in a thread with its own event loop, on a clock the test moves."""

    def __init__(self, application: app.App) -> None:
        self.app = application
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(app.run(self.app, self.stop))

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=30)
        self.loop.close()
        self.app.close()


@pytest.fixture
def service(tmp_path: Path, feed_server: FeedServer) -> Iterator[tuple[Service, Emulator, list[datetime]]]:
    url = feed_server.publish("tg-news.xml", FEED.replace(STARMER_ITEM, "").encode())
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("people.yaml", "topics.yaml"):
        (rules / name).write_text((Path(__file__).parent.parent / "rules" / name).read_text())
    (rules / "feeds.yaml").write_text(f"feeds:\n  - name: Test News\n    url: {url}\n")
    clock = [datetime(2025, 5, 15, 7, 0, tzinfo=UTC)]
    with Emulator(env={"TG_EMU_STORE_TIMEOUT": "600"}) as emulator:
        settings = Settings(
            rules=(rules,),
            db=f"sqlite:///{tmp_path}/bot.db",
            telegram_token=TOKEN,
            telegram_base_url=emulator.api_url,
            admins=frozenset({1}),
        )
        application = app.build(settings, clock=lambda: clock[0])
        running = Service(application)
        running.thread.start()
        # The first poll happens before any user acts, so its stories never race a test's own messages.
        _wait_for(lambda: (state := application.store.feed_state(url)) is not None and state.last_polled)
        yield running, emulator, clock
        running.close()


def reply(user: EmulatorUser, command: str, count: int = 1) -> list[dict[str, Any]]:
    user.send_command(command)
    return [m["message"] for m in user.wait_bot_messages(count, timeout=15)]


def test_a_new_user_follows_people_and_topics_and_gets_the_digest_at_local_time(
    service: tuple[Service, Emulator, list[datetime]], feed_server: FeedServer
) -> None:
    running, emulator, clock = service
    user = emulator.user(TOKEN, user_id=7, chat_id=7, first_name="Ann")

    [start] = reply(user, "/start")
    assert "watches the news" in start["text"] and "/follow" in start["text"]

    [suggestion] = reply(user, "/follow starmr")
    assert "Did you mean <b>Keir Starmer</b>" in suggestion["text"]
    assert suggestion["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "f:keir-starmer"

    [followed] = reply(user, "/follow keir-starmer")
    assert followed["text"].startswith("Following <b>Keir Starmer</b>")
    [boats] = reply(user, "/follow small boats")
    assert boats["text"].startswith("Following <b>Small boats and Channel crossings</b>")

    [bad_zone] = reply(user, "/timezone Mars/Olympus")
    assert "not a timezone I know" in bad_zone["text"]
    [zone] = reply(user, "/timezone Europe/Berlin")
    assert zone["text"].startswith("Timezone set to Europe/Berlin")
    [bad_time] = reply(user, "/digest_at 25:99")
    assert "Use /digest_at HH:MM" in bad_time["text"]
    reply(user, "/digest_at 09:30")
    [mode] = reply(user, "/mode small-boats digest")
    assert "daily digest only" in mode["text"]

    [listing] = reply(user, "/list")
    assert "Keir Starmer" in listing["text"] and "Small boats" in listing["text"]
    assert "09:30 (Europe/Berlin)" in listing["text"]

    # The feed now carries a Starmer story: Starmer is followed with alerts, small boats digest-only.
    feed_server.publish("tg-news.xml", FEED.encode())
    running.call(app.poll_all(running.app, running.app.watchlist.feeds))
    running.call(app.flush_outbox(running.app.store, running.app.sender, running.app.clock))
    alerts = [m["message"]["text"] for m in user.bot_messages()]
    assert len(alerts) == 1 and "Keir Starmer" in alerts[0] and "🔔" in alerts[0]

    clock[0] = datetime(2025, 5, 15, 7, 29, tzinfo=UTC)  # 09:29 in Berlin (CEST): not yet
    assert running.call(app.digest_tick(running.app, clock[0])) == 0
    clock[0] = datetime(2025, 5, 15, 7, 31, tzinfo=UTC)  # 09:31 in Berlin
    sent = running.call(app.digest_tick(running.app, datetime(2025, 5, 15, 7, 0, tzinfo=UTC)))
    running.call(app.flush_outbox(running.app.store, running.app.sender, running.app.clock))
    assert sent == 1
    [digest] = [m["message"] for m in user.wait_bot_messages(1)]
    assert "newsbot digest" in digest["text"] and "Record small boat crossings in May" in to_plain(
        digest["text"]
    )
    assert "Record small <b>boat crossings</b>" in digest["text"]  # the matched words in bold
    assert "15 May 08:45" in digest["text"]  # published 06:45 UTC, shown in Berlin time
    assert digest["parse_mode"] == "HTML"
    assert running.call(app.digest_tick(running.app, clock[0])) == 0  # once a day, not once a tick

    [track] = reply(user, "/track return hubs")
    assert "Watching “return hubs”" in track["text"]
    assert any(r.id == "track:return-hubs" for r in running.app.watchlist.rules)


def test_groups_admins_and_odd_commands(service: tuple[Service, Emulator, list[datetime]]) -> None:
    _, emulator, _ = service
    group = emulator.user(
        TOKEN, user_id=2, chat_id=-1001234, chat_type="supergroup", chat_title="Press office"
    )
    [followed] = reply(group, "/follow@TestNameBot farage")
    assert followed["text"].startswith("Following <b>Nigel Farage</b>")
    [denied] = reply(group, "/stats")
    assert "administrators" in denied["text"]
    [unknown] = reply(group, "/follow xyzzy plugh")
    assert "I don't know “xyzzy plugh”" in unknown["text"]
    [empty] = reply(group, "/follow")
    assert "Follow whom or what?" in empty["text"]
    [junk] = reply(group, "/track !!!")
    assert "I can't watch that" in junk["text"]

    admin = emulator.user(TOKEN, user_id=1, chat_id=1)
    [stats] = reply(admin, "/stats")
    assert "stories in" in stats["text"] and "active chats" in stats["text"]


def test_topics_keyboard_toggles_with_one_tap(service: tuple[Service, Emulator, list[datetime]]) -> None:
    running, emulator, _ = service
    user = emulator.user(TOKEN, user_id=9, chat_id=9)
    user.send_command("/topics")
    [record] = user.wait_bot_messages(1)
    buttons = [b for row in record["message"]["reply_markup"]["inline_keyboard"] for b in row]
    assert any(b["callback_data"] == "t:rwanda-scheme" for b in buttons)
    user.click(record, "t:rwanda-scheme")
    for _ in range(100):
        if running.app.store.subscriptions("9"):
            break
        threading.Event().wait(0.05)
    assert [s.rule for s in running.app.store.subscriptions("9")] == ["rwanda-scheme"]


def test_digest_now_shows_a_new_follower_the_last_day(
    service: tuple[Service, Emulator, list[datetime]],
) -> None:
    _, emulator, clock = service
    user = emulator.user(TOKEN, user_id=11, chat_id=11)
    [nothing] = reply(user, "/digest")
    assert "Follow something first" in nothing["text"]
    reply(user, "/follow small-boats")
    clock[0] = datetime(2025, 5, 15, 7, 5, tzinfo=UTC)
    user.send_command("/digest")
    [digest] = [m["message"] for m in user.wait_bot_messages(1, timeout=15)]
    assert "newsbot digest" in digest["text"] and "boat crossings" in digest["text"]
    [again] = reply(user, "/digest")
    assert "Nothing new on what you follow" in again["text"]


def _wait_for(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        threading.Event().wait(0.05)
    raise AssertionError("condition not met in 10 s")


def test_trends_and_an_article_sent_to_the_bot(
    service: tuple[Service, Emulator, list[datetime]], feed_server: FeedServer
) -> None:
    running, emulator, clock = service
    user = emulator.user(TOKEN, user_id=8, chat_id=8, first_name="Bo")

    [nothing] = reply(user, "/trends")
    assert "follows nothing yet" in nothing["text"]

    # A pasted article: the bot offers the watchlist's people and topics it names, and new phrases.
    article = (Path(__file__).parent / "data" / "seeds" / "002_eadb69334a1ca04a.txt").read_text()
    user.send_text(article)
    [record] = user.wait_bot_messages(1, timeout=30)
    offer = record["message"]
    assert "This article names" in offer["text"] and "Kemi Badenoch" in offer["text"]
    data = [row[0]["callback_data"] for row in offer["reply_markup"]["inline_keyboard"]]
    assert {"f:kemi-badenoch", "f:nigel-farage", "f:deporting-foreign-criminals"} <= set(data)
    assert all(len(d.encode()) <= 64 for d in data)
    tracks = [d for d in data if d.startswith("k:")]
    assert tracks, data

    user.click(record, "f:kemi-badenoch")
    _wait_for(lambda: "kemi-badenoch" in {s.rule for s in running.app.store.subscriptions("8")})
    user.click(record, tracks[0])
    phrase = tracks[0].removeprefix("k:")
    _wait_for(lambda: any(s.phrase == phrase for s in running.app.store.subscriptions("8")))

    # Trends: a photo (a real PNG) of what the chat follows, once the feed has brought stories.
    feed_server.publish("tg-news.xml", FEED.encode())
    running.call(app.poll_all(running.app, running.app.watchlist.feeds))
    user.send_command("/follow keir-starmer")
    user.wait_bot_messages(1)
    user.send_command("/trends")
    [photo] = [m["message"] for m in user.wait_bot_messages(1, timeout=30)]
    assert photo["photo"]["width"] >= 800 and photo["photo"]["size"] > 20_000
    assert "last 14 days" in photo["caption"]

    # Plain chat that is no article gets a hint, not an error.
    user.send_text("hello there")
    [hint] = [m["message"] for m in user.wait_bot_messages(1)]
    assert "Send me a link" in hint["text"]
