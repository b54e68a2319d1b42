"""Rule files changed on disk apply without a restart; broken ones leave the old rules running."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bot import app
from bot.model import Story
from bot.senders import ConsoleSender
from bot.settings import Settings

GOOD = "people:\n  - id: keir-starmer\n    name: Keir Starmer\n    aliases: [Starmer]\n"
MORE = GOOD + "  - id: kemi-badenoch\n    name: Kemi Badenoch\n    aliases: [Badenoch]\n"
BROKEN = GOOD + "  - id: kemi-badenoch\n    nam: Kemi Badenoch\n"


def test_changed_rules_apply_and_broken_rules_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(GOOD)
    settings = Settings(rules=(rules,), db=f"sqlite:///{tmp_path}/db.sqlite", admins=frozenset({42}))
    application = app.build(settings, sender=ConsoleSender())
    seen = [app.rule_files_signature(settings)]
    story = Story(id="s", title="Badenoch speaks")
    assert not asyncio.run(app.watch_rules(application, seen))  # nothing changed
    assert application.ingestor.matcher.match(story) == []

    rules.write_text(MORE)
    os.utime(rules, ns=(1, 10**18))  # a new modification time, whatever the clock's resolution
    assert asyncio.run(app.watch_rules(application, seen))
    assert [m.rule for m in application.ingestor.matcher.match(story)] == ["kemi-badenoch"]

    rules.write_text(BROKEN)
    os.utime(rules, ns=(1, 2 * 10**18))
    assert asyncio.run(app.watch_rules(application, seen))
    assert [m.rule for m in application.ingestor.matcher.match(story)] == ["kemi-badenoch"]  # old rules stay
    [message] = application.store.pending(application.clock())
    assert message.message.chat == "42" and "rules.yaml:6: people[kemi-badenoch].nam: unknown field" in (
        message.message.plain_text
    )
