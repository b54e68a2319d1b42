"""Canonical URLs: one address per article, whatever tracking, host or AMP variant a feed links to."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "at_", "mc_", "pk_", "hsa_", "oly_", "vero_", "_hs")
_TRACKING_KEYS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "ocid",
        "cmpid",
        "cmp",
        "ito",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "smid",
        "smtyp",
        "rss",
        "rssfeed",
        "feed",
        "src",
        "ref",
        "ref_src",
        "referrer",
        "share",
        "mbid",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "_ga",
        "s_cid",
        "s_kwcid",
        "xtor",
        "ncid",
        "cid",
        "sr_share",
        "CMP",
        "int_source",
        "icid",
    }
)
_MOBILE_HOST = re.compile(r"^(?:www|m|amp|mobile)\d*\.")


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered in _TRACKING_KEYS or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Return a canonical form: https, bare host, no `/amp`, no tracking parameters, no fragment.

    Not a URL normaliser for fetching: only a key for telling that two links name one article.
    """
    url = url.strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    while _MOBILE_HOST.match(host) and host.count(".") >= 2:
        host = _MOBILE_HOST.sub("", host, count=1)
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    path = re.sub(r"(?:/amp|\.amp)(?=/?$)", "", path)
    path = path.rstrip("/") or "/"
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    )
    return urlunsplit(("https", netloc, path, query, ""))


_REDIRECT_PARAMS = ("url", "u", "q", "target")


def resolve_redirect(url: str) -> str:
    """Return the article a known redirector points to when the link itself carries it, else ''.

    Google News (`news.google.com/...?url=`), Google (`google.com/url?q=`) and similar wrappers put the
    target in a query parameter; links that hide it (Google News' encoded `/rss/articles/...`) stay as given.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if not host.endswith(("news.google.com", "google.com", "bing.com", "feedproxy.google.com")):
        return ""
    for key, value in parse_qsl(parts.query):
        if key in _REDIRECT_PARAMS and value.startswith(("http://", "https://")):
            return value
    return ""


def clean_url(url: str) -> str:
    """Return the URL as given but without tracking parameters and fragment (for display)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    if parts.scheme not in ("http", "https") or not parts.query:
        return url
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
