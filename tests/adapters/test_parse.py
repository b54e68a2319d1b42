"""The feedparser adapter on real feeds: ids, plain text, UTC times, outlets, malformed documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.parse import html_to_text, parse_feed
from tests.conftest import DATA

FEEDS = DATA / "feeds"


def parse(name: str, url: str = "https://feeds.test/rss") -> object:
    return parse_feed((FEEDS / name).read_bytes(), {}, url)


def test_real_bbc_feed() -> None:
    result = parse_feed((FEEDS / "bbc.xml").read_bytes(), {}, "https://feeds.bbci.co.uk/news/rss.xml")
    assert result.error is None and len(result.stories) == 16
    story = result.stories[0]
    assert story.title == "Firm in data scandal 'made election boasts'"
    assert story.id == "https://www.bbc.co.uk/news/uk-politics-43532916"
    assert story.canonical_url == "https://bbc.co.uk/news/uk-politics-43532916"
    assert story.published == datetime(2018, 3, 25, 11, 52, 46, tzinfo=UTC)
    assert story.source == "BBC News - News front page"


def test_feed_name_overrides_the_channel_title() -> None:
    result = parse_feed((FEEDS / "bbc.xml").read_bytes(), {}, "https://x.test", "BBC")
    assert {s.source for s in result.stories} == {"BBC"}


def test_html_is_stripped_and_entities_decoded() -> None:
    result = parse_feed((FEEDS / "guardian.rss").read_bytes(), {}, "https://x.test")
    for story in result.stories:
        assert "<" not in story.summary and "&amp;" not in story.summary and "&nbsp;" not in story.summary


@pytest.mark.parametrize(
    "name",
    [
        "fp-sanitize-entry_title_script.xml",
        "fp-sanitize-item_description_script.xml",
        "fp-sanitize-item_description_script_cdata.xml",
    ],
)
def test_scripts_never_survive_into_text(name: str) -> None:
    result = parse_feed((FEEDS / name).read_bytes(), {}, "https://x.test")
    for story in result.stories:
        assert story.title == "safe description" or story.summary == "safe description"
        assert (
            "<script" not in story.title + story.summary
            and "location.href" not in story.title + story.summary
        )


def test_malformed_feed_with_entries_is_used_with_a_warning() -> None:
    result = parse_feed((FEEDS / "itunes-keywords-array.rss").read_bytes(), {}, "https://x.test")
    assert (
        len(result.stories) == 1
        and result.warning
        and result.warning.startswith("malformed feed, used anyway")
    )


@pytest.mark.parametrize("name", ["unrecognized.rss", "fp-illformed-rss_empty_document.xml"])
def test_a_document_without_entries_is_an_error(name: str) -> None:
    result = parse_feed((FEEDS / name).read_bytes(), {}, "https://x.test")
    assert result.stories == () and result.error and result.error.startswith("parse:")


def test_non_utf8_feed() -> None:
    result = parse_feed((FEEDS / "uolNoticias.rss").read_bytes(), {}, "https://x.test")
    assert len(result.stories) == 15 and any("ç" in s.title or "ã" in s.title for s in result.stories)


def test_entries_without_guid_or_link_get_stable_ids() -> None:
    body = b"""<rss version="2.0"><channel><title>T</title>
      <item><title>Only a title</title><pubDate>Wed, 15 Nov 2023 10:00:00 GMT</pubDate></item>
      <item><title>Another</title></item></channel></rss>"""
    first = parse_feed(body, {}, "https://x.test/a")
    again = parse_feed(body, {}, "https://x.test/a")
    assert [s.id for s in first.stories] == [s.id for s in again.stories]
    assert len({s.id for s in first.stories}) == 2 and all(s.id.startswith("sha1:") for s in first.stories)


def test_short_guids_are_scoped_to_the_feed() -> None:
    body = b'<rss version="2.0"><channel><item><title>A</title><guid isPermaLink="false">42</guid></item></channel></rss>'
    assert (
        parse_feed(body, {}, "https://one.test/rss").stories[0].id
        != parse_feed(body, {}, "https://two.test/rss").stories[0].id
    )


def test_binary_junk_is_an_error_not_a_crash() -> None:
    result = parse_feed(bytes(range(256)) * 100, {}, "https://x.test")
    assert result.error is not None and result.stories == ()


def test_html_to_text_handles_truncated_markup() -> None:
    assert html_to_text('<p>Rwanda ruling <a href="https://www.theguar') == "Rwanda ruling"
    assert html_to_text("<p>A</p><p>B &amp; C</p><script>x()</script>") == "A B & C"


def _entity_feed(doctype: str, title: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{doctype}]><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><description>d</description></item></channel></rss>"
    ).encode()


def test_an_entity_bomb_is_not_expanded() -> None:
    lol = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    result = parse_feed(_entity_feed(lol, "a &lol9; b"), {}, "https://feeds.test/rss")
    assert result.error is None and len(result.stories[0].title) < 100  # not a billion "lol"s


def test_external_entities_are_never_read() -> None:
    xxe = '<!ENTITY xxe SYSTEM "file:///etc/passwd">'
    result = parse_feed(_entity_feed(xxe, "leak &xxe;"), {}, "https://feeds.test/rss")
    assert all("root:" not in s.title + s.summary for s in result.stories)


def test_a_huge_entity_repeated_is_clipped() -> None:
    huge = '<!ENTITY a "' + "x" * 100_000 + '">'
    result = parse_feed(_entity_feed(huge, "&a;" * 2_000), {}, "https://feeds.test/rss")
    assert result.error is None and len(result.stories[0].title) <= 1_000


def test_a_utf8_bom_and_a_wrong_declared_encoding_still_parse() -> None:
    body = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Zoë’s café — ‘news’</title></item></channel></rss>"
    )
    result = parse_feed(b"\xef\xbb\xbf" + body.encode(), {}, "https://feeds.test/rss")
    assert [s.title for s in result.stories] == ["Zoë’s café — ‘news’"]
