"""`newsbot db upgrade|current` against SQLite and PostgreSQL, and database passwords kept out of every message."""

from __future__ import annotations

import logging
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.errors import StorageError
from bot.model import FeedState, Field, Match, OutgoingMessage, RuleKind, Story, Subscription
from storage import StoredStory, open_store
from storage.migrations import head_revision
from tests.cli.test_cli import run

LATEST = head_revision()
T0 = datetime(2025, 5, 15, 8, 0, tzinfo=UTC)
WRONG = "hunter2-Not-The-Password"


def test_db_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(["db", "--help"])
    assert exit_.value.code == 0 and "usage: newsbot db" in capsys.readouterr().out


def test_upgrade_migrates_an_empty_database_once_and_current_reports_it(db_url: str) -> None:
    shown = make_url(db_url).render_as_string(hide_password=True)
    assert run(["db", "current", "--db", db_url]) == (
        0,
        f"{shown}: schema revision none (an empty database); the latest is {LATEST}: run `newsbot db upgrade` "
        "(or any command that opens the database).\n",
        "",
    )
    assert run(["db", "upgrade", "--db", db_url]) == (
        0,
        f"{shown}: schema upgraded from nothing to {LATEST}.\n",
        "",
    )
    assert (
        run(["db", "upgrade", "--db", db_url])[1]
        == f"{shown}: schema already at the latest revision, {LATEST}.\n"
    )
    assert run(["db", "current"], environ={"NEWSBOT_DB": db_url}) == (
        0,
        f"{shown}: schema revision {LATEST} (the latest).\n",
        "",
    )
    with closing(open_store(db_url)) as store:  # the service finds it current and works
        assert store.stats().stories == 0


def test_upgrade_from_an_older_revision(db_url: str) -> None:
    from storage.engine import make_engine
    from storage.migrations import migrate

    engine = make_engine(db_url)
    migrate(engine, "0002")
    engine.dispose()
    code, out, _ = run(["db", "upgrade", "--db", db_url])
    assert code == 0 and out.endswith(f": schema upgraded from 0002 to {LATEST}.\n")


def test_a_database_upgraded_by_a_newer_newsbot_is_refused_clearly(db_url: str) -> None:
    with closing(open_store(db_url)) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    code, out, err = run(["db", "upgrade", "--db", db_url])
    assert code == 1 and out == ""
    assert "schema is at revision 9999, which this newsbot does not know" in err and "upgrade newsbot" in err
    with pytest.raises(StorageError, match="does not know"):
        open_store(db_url)


@pytest.mark.postgres
def test_postgres_passwords_never_appear_in_errors_or_logs(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    real = make_url(postgres_url)
    assert real.password
    attempts = {
        "wrong password": real.set(password=WRONG),
        "unknown database": real.set(database="no_such_db"),
        "unknown user": real.set(username="nobody_here", password=WRONG),
        "bad option": real.update_query_dict({"sslmode": "bogus"}),
    }
    for why, url in attempts.items():
        shown = url.render_as_string(hide_password=False)
        with pytest.raises(StorageError) as caught:
            open_store(shown)
        for command in (["db", "upgrade"], ["db", "current"]):
            code, out, err = run([*command, "--db", shown])
            assert code == 1 and out == "" and err.startswith("newsbot: storage: unable to"), why
            assert WRONG not in err and str(real.password) not in err, why
        message = str(caught.value)
        assert message.startswith("storage: unable to open the database"), why
        assert WRONG not in message and str(real.password) not in message, why
    assert all(
        WRONG not in r.getMessage() and str(real.password) not in r.getMessage() for r in caplog.records
    )


@pytest.mark.postgres
def test_errors_after_connecting_hide_the_password(postgres_url: str) -> None:
    password = str(make_url(postgres_url).password)
    with closing(open_store(postgres_url)) as store:
        admin = create_engine(postgres_url)
        with admin.begin() as conn:
            conn.execute(text("DROP TABLE stories CASCADE"))
        admin.dispose()
        with pytest.raises(StorageError) as caught:
            store.stats()
    assert 'relation "stories" does not exist' in str(caught.value)
    assert password not in str(caught.value) and "***" in str(caught.value)


def test_copy_moves_everything_into_an_empty_database(tmp_path: Path, db_url: str) -> None:
    source = f"sqlite:///{tmp_path}/old.db"
    stories = [
        Story(
            id=f"s{k}",
            title=f"Story {k}",
            url=f"https://x.test/{k}",
            canonical_url=f"https://x.test/{k}",
            published=T0,
        )
        for k in range(3)
    ]
    match = Match("keir-starmer", RuleKind.PERSON, "Keir Starmer", Field.TITLE, "Keir Starmer", 100.0, 0, 12)
    feed = FeedState("https://x.test/rss", "X", etag='"e1"', last_success=T0, items_seen=3, next_poll=T0)
    with closing(open_store(source)) as old:
        old.record_fetch(feed)
        old.save_stories([StoredStory(s, "s0", (match,)) for s in stories], T0)
        old.enqueue([OutgoingMessage(f"m{k}", "@c", f"message {k}") for k in range(3)], T0)
        old.mark_sent(old.claim(T0, timedelta(minutes=2), limit=1)[0].id, T0)
        old.ensure_chat("42", "private", "Ann", T0, "Europe/London")
        old.subscribe(Subscription("42", "keir-starmer", "alert", None))
        old.record_digest("@c", T0, [])
        before = old.stats()
    code, out, err = run(["db", "copy", "--from", source, "--db", db_url])
    assert (code, err) == (0, "") and "3 stories, " in out and "3 matches" in out and "1 subscriptions" in out
    with closing(open_store(db_url)) as new:
        assert new.stats() == before
        assert new.unseen(stories) == []  # never alerted again after the move
        assert new.feed_state(feed.url) == feed and new.last_digest("@c") == T0
        assert new.subscriptions("42") == [Subscription("42", "keir-starmer", "alert", None)]
        assert [s.matches for s in new.digest_stories(T0, T0 + timedelta(hours=1))] == [(match,)] * 3
        assert new.enqueue([OutgoingMessage("m3", "@c", "after the move")], T0) == 1  # ids continue
        assert [q.message.key for q in new.pending(T0)] == ["m1", "m2", "m3"]
    code, out, err = run(["db", "copy", "--from", source, "--db", db_url])
    assert code == 1 and out == "" and "already holds data" in err


def test_copy_needs_a_source() -> None:
    code, _, err = run(["db", "copy", "--db", "sqlite://"])
    assert code == 1 and "db copy needs --from URL" in err
