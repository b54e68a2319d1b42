"""Digest building and rendering: one line per cluster, grouped, escaped, split at 4,096 characters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.digest import (
    TELEGRAM_LIMIT,
    build_items,
    build_sections,
    render_digest,
    render_digest_text,
    to_plain,
)
from bot.model import DigestStory, Field, Match, RuleKind

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2023, 11, 15, 10, 0, tzinfo=UTC)


def ds(
    sid: str, cluster: str, source: str, minutes: int = 0, rule: str = "rwanda", title: str = ""
) -> DigestStory:
    title = title or f"Story {sid}"
    return DigestStory(
        sid,
        title,
        f"https://x.test/{sid}",
        source,
        T0 + timedelta(minutes=minutes),
        cluster,
        (Match(rule, RuleKind.TOPIC, "Rwanda", Field.TITLE, "Rwanda", 100.0),),
    )


def test_a_cluster_appears_once_headed_by_its_earliest_story_with_other_outlets() -> None:
    items = build_items(
        [ds("b", "a", "Guardian", 5), ds("a", "a", "BBC", 0), ds("c", "a", "Sky", 9), ds("d", "a", "BBC", 12)]
    )
    assert len(items) == 1
    assert items[0].head.id == "a" and items[0].also == ("Guardian", "Sky")


def test_sections_follow_the_channel_order_and_list_each_cluster_once() -> None:
    items = build_items([ds("a", "a", "BBC", rule="starmer"), ds("b", "b", "BBC", rule="rwanda")])
    sections = build_sections(items, [("rwanda", "Rwanda scheme"), ("starmer", "Keir Starmer")])
    assert [(s.rule_id, len(s.items)) for s in sections] == [("rwanda", 1), ("starmer", 1)]
    assert build_sections(items, [("other", "Other")]) == []


def test_html_escapes_feed_text_and_bolds_the_matched_words() -> None:
    story = DigestStory(
        "a",
        "Rwanda <script>alert(1)</script> & more",
        "https://x.test/a?b=1&c=2",
        "BBC <News>",
        T0,
        "a",
        (Match("rwanda", RuleKind.TOPIC, "Rwanda", Field.TITLE, "Rwanda", 100.0, 0, 6),),
    )
    [message] = render_digest(
        build_sections(build_items([story]), [("rwanda", "Rwanda & co")]), LONDON, "Digest"
    )
    assert "<script>" not in message and "&lt;script&gt;" in message
    assert "<b>Rwanda</b> &lt;script&gt;" in message
    assert 'href="https://x.test/a?b=1&amp;c=2"' in message
    assert "BBC &lt;News&gt;" in message and "<b>Rwanda &amp; co</b>" in message
    assert re.sub(r"</?(b|i|a)( [^>]*)?>", "", message).count("<") == 0


def test_long_digests_split_at_item_boundaries_under_the_limit() -> None:
    stories = [
        ds(f"s{i}", f"s{i}", "Outlet", i, title="A fairly long headline about the Rwanda scheme " * 3)
        for i in range(120)
    ]
    messages = render_digest(build_sections(build_items(stories), [("rwanda", "Rwanda")]), LONDON, "Digest")
    assert len(messages) > 1
    assert all(len(m) <= TELEGRAM_LIMIT for m in messages)
    assert sum(m.count("• ") for m in messages) == 120
    assert messages[1].startswith("<b>Rwanda</b> (120) (cont.)")


def test_no_stories_no_digest() -> None:
    assert render_digest([], LONDON, "Digest") == []
    assert render_digest_text([], LONDON, "Digest") == ""


def test_local_time_follows_the_timezone_and_dst() -> None:
    summer = DigestStory(
        "a",
        "Rwanda",
        "https://x.test/a",
        "BBC",
        datetime(2024, 7, 1, 7, 30, tzinfo=UTC),
        "a",
        (Match("rwanda", RuleKind.TOPIC, "Rwanda", Field.TITLE, "Rwanda", 100.0),),
    )
    text = render_digest_text(build_sections(build_items([summer]), [("rwanda", "Rwanda")]), LONDON, "Digest")
    assert "01 Jul 08:30" in text


def test_plain_text_fallback_has_no_tags() -> None:
    assert to_plain('<b>A &amp; B</b> <a href="x">link</a>') == "A & B link"


def test_a_cluster_is_headed_by_what_most_outlets_reported_not_the_morning_preview() -> None:
    titles = [
        ("a", "Judgment day for Rishi Sunak as Supreme Court rules on Rwanda plan", 0),
        ("b", "Supreme Court rules Rwanda deportation plan unlawful", 60),
        ("c", "UK Supreme Court rules Rwanda plan unlawful in blow to Sunak", 70),
        ("d", "Rwanda plan unlawful, Supreme Court rules", 75),
        ("e", "Sunak vows emergency law after Rwanda ruling", 300),
    ]
    items = build_items(
        [ds(sid, "a", f"Outlet {sid}", minutes, title=title) for sid, title, minutes in titles]
    )
    assert items[0].head.id in {"b", "c", "d"}
    assert "Outlet a" in items[0].also and items[0].head.source not in items[0].also


def test_a_reaction_folded_into_a_cluster_is_listed_under_its_head() -> None:
    """A cluster folds one event: a story under a headline of its own (a reaction, a follow-up) is listed under
    the head, while a headline in the head's words is only counted among the outlets."""
    ruling = "Supreme Court rules Rwanda deportation plan unlawful"
    stories = [
        ds("a", "c", "BBC", 0, title=ruling),
        ds("b", "c", "Sky", 5, title="Rwanda deportation plan unlawful, Supreme Court rules"),
        ds("c", "c", "Guardian", 20, title="Sunak vows emergency legislation to revive Rwanda scheme"),
        ds("d", "c", "FT", 30, title="Sunak promises emergency law to save Rwanda scheme"),
        ds("e", "c", "Telegraph", 40, title="Labour: Tories wasted £140m on failed Rwanda gimmick"),
        ds("f", "c", "Times", 50, title="Refugees relieved as judges block UK deal with Kigali"),
    ]
    [item] = build_items(stories)
    assert item.head.id == "a"
    assert [s.id for s in item.related] == ["c", "e"]  # "d" says what "c" said; at most two
    text = render_digest_text(build_sections([item], [("rwanda", "Rwanda")]), LONDON, "Digest")
    assert "↳ Sunak vows emergency legislation to revive Rwanda scheme (Guardian)" in text
    assert "Rwanda deportation plan unlawful, Supreme Court rules" not in text
    [message] = render_digest(build_sections([item], [("rwanda", "Rwanda")]), LONDON, "Digest")
    assert (
        '↳ <a href="https://x.test/e">Labour: Tories wasted £140m on failed Rwanda gimmick</a> · <i>Telegraph</i>'
        in message
    )


def test_a_cluster_of_one_story_lists_nothing_under_it() -> None:
    [item] = build_items([ds("a", "a", "BBC", title="Supreme Court rules Rwanda deportation plan unlawful")])
    assert item.related == ()


def test_other_headlines_are_escaped_clipped_and_dropped_before_an_entry_outgrows_a_message() -> None:
    head = ds("a", "c", "BBC", 0, title="Supreme Court rules Rwanda deportation plan unlawful")
    hostile = ds(
        "b", "c", "<Sky & Co>", 5, title="<b>Tories</b> & Labour trade blows " + "over the ruling " * 30
    )
    [item] = build_items([head, hostile])
    [message] = render_digest(build_sections([item], [("rwanda", "Rwanda")]), LONDON, "Digest")
    assert "&lt;b&gt;Tories&lt;/b&gt; &amp; Labour" in message and "<i>&lt;Sky &amp; Co&gt;</i>" in message
    assert "<b>Tories" not in message
    shown = message.split("↳ ", 1)[1]
    assert len(to_plain(shown).split(" · ")[0]) == 160  # clipped, with its ellipsis
    long_url = DigestStory(
        "c", "Rwanda: what next for the scheme", "https://x.test/" + "x" * 4000, "FT", T0, "c", ()
    )
    [item] = build_items([head, long_url])
    [message] = render_digest(build_sections([item], [("rwanda", "Rwanda")]), LONDON, "Digest")
    assert (
        "↳" not in message
        and len(message) <= TELEGRAM_LIMIT
        and message.count("<a ") == message.count("</a>")
    )


def test_a_headline_of_no_words_lists_nothing_under_it() -> None:
    [item] = build_items(
        [ds("a", "c", "BBC", 0, title="!!!"), ds("b", "c", "Sky", 5, title="Rwanda plan unlawful")]
    )
    assert item.related == ()
