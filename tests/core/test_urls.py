"""Canonical URLs and redirect resolution."""

from __future__ import annotations

import pytest

from bot.urls import canonical_url, resolve_redirect


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://www.bbc.co.uk/news/uk-1?at_medium=RSS&at_campaign=KARANGA", "https://bbc.co.uk/news/uk-1"),
        (
            "https://amp.theguardian.com/politics/2023/nov/15/rwanda/amp",
            "https://theguardian.com/politics/2023/nov/15/rwanda",
        ),
        ("https://m.example.com/a/?utm_source=x&id=3&fbclid=z&gclid=q", "https://example.com/a?id=3"),
        ("https://example.com/a?b=2&a=1#section", "https://example.com/a?a=1&b=2"),
        ("https://EXAMPLE.com:443/A", "https://example.com/A"),
        ("https://www.msn.com/en-gb/news/x?ocid=BingNews", "https://msn.com/en-gb/news/x"),
        ("not a url", "not a url"),
        ("", ""),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_resolve_redirect() -> None:
    assert resolve_redirect("https://news.google.com/news/url?url=https://www.bbc.co.uk/news/x&ct=ga") == (
        "https://www.bbc.co.uk/news/x"
    )
    assert resolve_redirect("https://news.google.com/rss/articles/CBMiabc?oc=5") == ""
    assert resolve_redirect("https://www.bbc.co.uk/news/x?url=https://evil.test") == ""
