"""The streaming clusterer: same item, near-identical coverage, and genuinely different stories kept apart."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from bot.dedup import EVIDENCE, TOKEN_CACHE, ClusterIndex, DedupConfig, Embed, Model, rolling_page
from bot.meaning import embedder
from bot.model import Story
from bot.urls import canonical_url

T0 = datetime(2023, 11, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["meaning", "words alone"])
def embed(request: pytest.FixtureRequest) -> Embed | None:
    """Each behaviour holds for the service's index (with text embeddings) and for the fallback without."""
    if request.param == "words alone":
        return None
    found = embedder()
    assert found is not None
    return found


def story(
    sid: str, title: str, summary: str = "", url: str = "", minutes: int = 0, source: str = ""
) -> Story:
    return Story(
        id=sid,
        title=title,
        summary=summary,
        url=url,
        canonical_url=canonical_url(url),
        source=source,
        published=T0 + timedelta(minutes=minutes),
    )


def assign_all(index: ClusterIndex, stories: list[Story]) -> list[str]:
    return [index.assign(s, s.published or T0).cluster_id for s in stories]


def test_same_canonical_url_joins_whatever_the_title(embed: Embed | None) -> None:
    stories = [
        story("a", "Court rules Rwanda plan unlawful", url="https://www.bbc.co.uk/news/uk-1?at_medium=RSS"),
        story("b", "Rwanda: what the ruling means", url="https://bbc.co.uk/news/uk-1#top", minutes=30),
    ]
    assert assign_all(ClusterIndex(embed=embed), stories) == ["a", "a"]


def test_near_identical_headlines_from_two_outlets_join(embed: Embed | None) -> None:
    stories = [
        story("a", "Robert Jenrick resigns as immigration minister over Rwanda legislation"),
        story("b", "Robert Jenrick resigns as immigration minister over Rwanda bill", minutes=20),
    ]
    assert assign_all(ClusterIndex(embed=embed), stories) == ["a", "a"]


def test_reworded_headline_over_the_same_wire_text_joins(embed: Embed | None) -> None:
    wire = (
        "The UK Supreme Court has ruled that the government's plan to send asylum seekers to Rwanda is "
        "unlawful, upholding an earlier Court of Appeal decision."
    )
    stories = [
        story("a", "UK Supreme Court rules Rwanda asylum plan unlawful", wire),
        story(
            "b",
            "Supreme Court rules Rwanda asylum plan is unlawful in blow to Sunak",
            wire + " Read more.",
            minutes=45,
        ),
    ]
    assert assign_all(ClusterIndex(embed=embed), stories) == ["a", "a"]


def test_two_stories_about_one_person_on_one_day_stay_apart(embed: Embed | None) -> None:
    stories = [
        story(
            "a",
            "Starmer faces Labour revolt over Gaza ceasefire vote",
            "Shadow ministers quit the front bench.",
        ),
        story(
            "b",
            "Starmer sets out plan to halve knife crime",
            "Labour leader pledges more police.",
            minutes=60,
        ),
    ]
    assert assign_all(ClusterIndex(embed=embed), stories) == ["a", "b"]


@pytest.mark.parametrize(
    ("title", "url"),
    [
        ("Rwanda ruling latest updates: Supreme Court to decide on deportation policy", ""),
        ("Boris Johnson says he is ‘deeply sorry’ for pain and suffering – UK politics live", ""),
        ("ICELAND VOLCANO LIVE: Nation declares state of emergency", ""),
        ("Ukraine assassinates 'traitor' ex-MP in Russia - follow live", ""),
        ("GOP debate live updates: 4 candidates take the stage", ""),
        ("Politics latest news: Cameron's return shows Tories are united", ""),
        ("Wednesday briefing: Inside the Home Office's new Rwanda plan", ""),
        ("The Papers: 'Jenrick quits in revolt' and Johnson 'sorry'", ""),
        (
            "2 Americans kidnapped in Mexico found dead",
            "https://edition.cnn.com/americas/live-news/mexico-03-07-23",
        ),
        (
            "Zelensky vows to hold Bakhmut",
            "https://www.nytimes.com/live/2023/03/07/world/russia-ukraine-news",
        ),
    ],
)
def test_live_blogs_and_newsletters_are_rolling_pages(title: str, url: str) -> None:
    assert rolling_page(title, url)


@pytest.mark.parametrize(
    "title",
    [
        "Live Nation sued over ticket prices",
        "Families who live near the volcano told to leave",
        "White House press briefing: Biden aides defend Gaza policy",
        "Sunak delivers his latest blow to Rwanda critics",
        "Supreme Court rules Rwanda plan unlawful",
        "Post-Brexit Britain is a worse place to live",
        "Taylor Swift: Live in Paris review",
        "Health officials cancel Thursday briefing amid row",
        "NHS app go-live delayed again",
    ],
)
def test_ordinary_headlines_are_not_rolling_pages(title: str) -> None:
    assert not rolling_page(title, "https://www.bbc.co.uk/news/uk-politics-67422906")
    assert not rolling_page(title, "https://www.bbc.co.uk/food/olive-oil-prices-deliver-record")


@pytest.mark.parametrize(
    "url",
    [
        "https://www.reuters.com/legal/live-nation-sued-over-ticket-prices-2024-05-23/",
        "https://www.dailymail.co.uk/tvshowbiz/article-12753401/Live-Amy-T-J-ratings.html",
        "https://www.aljazeera.com/news/2023/11/15/live-on-tiktok-cousin-speaks",
    ],
)
def test_an_address_starting_a_word_with_live_is_no_live_page(url: str) -> None:
    assert not rolling_page("Ticket prices under scrutiny", url)


@pytest.mark.parametrize(
    "title",
    [
        "Tuesday evening news briefing: Braverman's bombshell resignation letter",
        "Up First briefing: Gaza hospital raid; Biden meets Xi",
        "Ukraine live briefing: Zelensky cancels address to US senators",
        "Live news: Italy quits China's Belt and Road Initiative",
        "Rwanda bill vote: Sunak faces Tory rebels - latest updates",
        "The Latest: Iceland declares emergency as magma spreads",
    ],
)
def test_more_newsletters_and_live_pages_are_rolling_pages(title: str) -> None:
    assert rolling_page(title, "https://example.org/news/2023/11/15/story")


def test_a_live_blog_is_a_development_of_its_own(embed: Embed | None) -> None:
    """A live blog leading on a development neither joins its reports nor takes them in; the blog's own
    updates (a new headline at the same address) fold together."""
    ruling = "The Supreme Court has ruled the government's Rwanda asylum plan unlawful."
    stories = [
        story("report", "Supreme Court rules Rwanda asylum plan unlawful", ruling, source="BBC"),
        story(
            "blog",
            "Supreme Court rules Rwanda asylum plan unlawful – UK politics live",
            ruling,
            url="https://www.theguardian.com/politics/live/2023/nov/15/rwanda-ruling-live",
            source="Guardian",
            minutes=10,
        ),
        story(
            "blog-update",
            "Sunak to set out emergency Rwanda law after ruling – UK politics live",
            "Rishi Sunak will respond to the Supreme Court ruling on the Rwanda asylum plan this afternoon.",
            url="https://www.theguardian.com/politics/live/2023/nov/15/rwanda-ruling-live",
            source="Guardian",
            minutes=60,
        ),
        story(
            "other-report",
            "Supreme Court rules Rwanda asylum plan is unlawful",
            ruling,
            source="ITV",
            minutes=90,
        ),
    ]
    assert assign_all(ClusterIndex(embed=embed), stories) == ["report", "blog", "blog", "report"]


def test_live_pages_fold_only_as_one_page_never_by_likeness(embed: Embed | None) -> None:
    """Two outlets' live blogs on one ruling stay apart, as do one outlet's blogs on two matches; one outlet's
    entries of one live page under the same headline fold (CNN posts each update at an address of its own)."""
    page = "https://edition.cnn.com/americas/live-news/mexico-kidnapping-03-07-23/"
    stories = [
        story(
            "g", "Supreme Court Rwanda ruling – live", "Follow the ruling as it happens.", source="Guardian"
        ),
        story(
            "b",
            "Supreme Court Rwanda ruling - live",
            "Follow the ruling as it happens.",
            source="BBC",
            minutes=5,
        ),
        story(
            "e",
            "Everton vs Newcastle live: Score and updates from the Premier League",
            "Follow the Premier League match at Goodison Park.",
            source="Telegraph",
            minutes=10,
        ),
        story(
            "t",
            "Tottenham vs West Ham live: Score and updates from the Premier League",
            "Follow the Premier League match at Tottenham Hotspur Stadium.",
            source="Telegraph",
            minutes=15,
        ),
        story("c1", "2 Americans kidnapped in Mexico found dead", url=page + "h_1", source="CNN", minutes=20),
        story("c2", "2 Americans kidnapped in Mexico found dead", url=page + "h_2", source="CNN", minutes=25),
    ]
    assert assign_all(ClusterIndex(embed=embed), stories) == ["g", "b", "e", "t", "c1", "c1"]


def test_copies_outside_the_window_stay_apart(embed: Embed | None) -> None:
    index = ClusterIndex(DedupConfig(window=timedelta(hours=48)), embed=embed)
    stories = [
        story("a", "Robert Jenrick resigns as immigration minister"),
        story("b", "Robert Jenrick resigns as immigration minister", minutes=60 * 72),
    ]
    assert assign_all(index, stories) == ["a", "b"]


def test_restore_rebuilds_the_index_after_a_restart(embed: Embed | None) -> None:
    first = story("a", "Robert Jenrick resigns as immigration minister over Rwanda legislation")
    index = ClusterIndex(embed=embed)
    index.restore(first, "a", T0)
    later = story("b", "Robert Jenrick resigns as immigration minister over Rwanda bill", minutes=5)
    assert index.assign(later, T0).cluster_id == "a"


def test_expire_forgets_old_stories(embed: Embed | None) -> None:
    index = ClusterIndex(DedupConfig(window=timedelta(hours=1)), embed=embed)
    index.assign(story("a", "Robert Jenrick resigns as immigration minister"), T0)
    assert index.expire(T0 + timedelta(hours=2)) == 1 and len(index) == 0


def test_every_candidate_is_scored_on_the_named_evidence(embed: Embed | None) -> None:
    seen: list[tuple[str, str, tuple[float, ...]]] = []
    index = ClusterIndex(embed=embed, observe=lambda a, b, evidence: seen.append((a, b, evidence)))
    assign_all(
        index,
        [
            story("a", "Iceland warns of volcanic eruption as earthquakes shake Grindavik", minutes=0),
            story("b", "Grindavik evacuated as Iceland braces for volcanic eruption", minutes=30),
        ],
    )
    assert [(a, b) for a, b, _ in seen] == [("b", "a")]
    assert len(seen[0][2]) == len(EVIDENCE)
    evidence = dict(zip(EVIDENCE, seen[0][2], strict=True))
    assert 0 < evidence["overlap"] <= 1 and evidence["hours_apart"] == 0.5
    assert evidence["cluster_similarity"] > 0
    # Two reports of one eruption warning mean much the same; without an embedder the evidence is 0.
    assert evidence["meaning"] > 0.5 if embed is not None else evidence["meaning"] == 0


def test_a_model_with_the_wrong_number_of_weights_is_refused() -> None:
    with pytest.raises(ValueError, match="weights"):
        ClusterIndex(DedupConfig(lexical_model=Model((1.0, 2.0), 0.0, 0.5)))


def test_a_cluster_lives_while_any_member_is_in_the_window(embed: Embed | None) -> None:
    index = ClusterIndex(DedupConfig(window=timedelta(hours=48)), embed=embed)
    title = "Robert Jenrick resigns as immigration minister over Rwanda legislation"
    first = story("a", title)
    second = story("b", f"{title}: what we know", minutes=60 * 40)
    third = story("c", f"{title}: what we know", minutes=60 * 80)
    assert assign_all(index, [first, second]) == ["a", "a"]
    assert index.expire(T0 + timedelta(hours=60)) == 1
    assert index.assign(third, T0 + timedelta(hours=80)).cluster_id == "a"


@pytest.mark.parametrize(
    ("old", "kept", "max_postings"),
    [(6, 1, 2), (2, 3, 3)],
    ids=["most of a long posting expires", "a long posting shrinks to a readable one"],
)
def test_expired_stories_leave_the_postings_so_a_crowded_word_finds_copies_again(
    old: int, kept: int, max_postings: int
) -> None:
    # A word held by more than `max_postings` stored stories is no evidence; once the older stories
    # expire, the word is held by few enough again and finds the copy.
    animals = ["marmot", "otter", "badger", "weasel", "ferret", "stoat"]
    stories = [story(f"o{i}", f"zorblax quintessa {animals[i]}", minutes=i) for i in range(old)]
    stories += [story(f"k{i}", "zorblax quintessa", minutes=49 * 60 + i) for i in range(kept)]
    copy = story("n", "quintessa zorblax", minutes=50 * 60)
    config = DedupConfig(window=timedelta(hours=48), max_postings=max_postings)

    crowded = ClusterIndex(config)
    assign_all(crowded, stories)
    assert assign_all(crowded, [copy]) == ["n"]

    index = ClusterIndex(config)
    assign_all(index, stories)
    assert index.expire(T0 + timedelta(hours=50)) == old
    assert index.sizes()["posting entries"] == 2 * kept  # "zorblax" and "quintessa" of the kept stories
    assert assign_all(index, [copy]) == ["k0"]


def test_nothing_of_a_story_stays_indexed_once_it_expires() -> None:
    index = ClusterIndex(DedupConfig(window=timedelta(hours=1), max_postings=2))
    url = "https://example.org/{}".format
    assign_all(
        index,
        [
            story(f"s{i}", f"Ministers debate the budget plan, part {i}", url=url(i), minutes=i)
            for i in range(9)
        ],
    )
    assert index.sizes()["urls"] == 9
    index.expire(T0 + timedelta(hours=3))
    sizes = index.sizes()
    assert [sizes[k] for k in ("stories", "clusters", "urls", "blocking words", "posting entries")] == [0] * 5
    # The URL is forgotten with its story: a later story at that address starts its own cluster.
    late = story("late", "An unrelated headline", url=url(0), minutes=180)
    assert index.assign(late, T0 + timedelta(hours=3)).cluster_id == "late"


def test_the_token_cache_stays_bounded_and_evicted_tokens_analyse_the_same() -> None:
    pair = [
        story("a", "Iceland warns of volcanic eruption as earthquakes shake Grindavik", minutes=0),
        story("b", "Grindavik evacuated as Iceland braces for volcanic eruption", minutes=30),
    ]
    before = assign_all(ClusterIndex(), pair)
    flood = ClusterIndex()
    for i in range(TOKEN_CACHE // 50 + 20):  # 50 distinct tokens a story: more than the cache holds
        words = [f"zq{i}x{j}" for j in range(50)]
        flood.assign(story(f"f{i}", " ".join(words[:10]), " ".join(words[10:]), minutes=i), T0)
    assert flood.sizes()["cached tokens"] == TOKEN_CACHE
    assert assign_all(ClusterIndex(), pair) == before == ["a", "a"]


WIRE = (
    "The Home Office said on Tuesday that 1,200 foreign criminals had been deported in the last quarter, the "
    "highest number since records began, as ministers pressed ahead with plans for return hubs abroad."
)


def test_a_syndicated_copy_joins_its_cluster_without_being_stored_again(embed: Embed | None) -> None:
    index = ClusterIndex(embed=embed)
    stories = [
        story("a", "Deportations of foreign criminals hit record high", WIRE, url="https://one.example/a"),
        story(
            "b", "Record number of foreign offenders removed", WIRE, url="https://two.example/b", minutes=20
        ),
        story(
            "c", "Foreign criminals: deportations at record", WIRE, url="https://three.example/c", minutes=40
        ),
    ]
    assignments = [index.assign(s, s.published or T0) for s in stories]
    assert [a.cluster_id for a in assignments] == ["a", "a", "a"]
    assert [a.reason for a in assignments[1:]] == ["summary", "summary"]
    # One story stands for its copies; their URLs still lead to it.
    assert index.sizes()["stories"] == 1 and index.sizes()["urls"] == 3
    again = story("d", "An unrelated headline", url="https://two.example/b", minutes=60)
    assert index.assign(again, T0 + timedelta(hours=1)).cluster_id == "a"


def test_a_story_under_the_same_headline_is_stored_unless_its_summary_is_a_copy_too(
    embed: Embed | None,
) -> None:
    index = ClusterIndex(embed=embed)
    title = "Deportations of foreign criminals hit record high"
    own = (
        "Campaigners said many of those removed had lived in Britain since childhood, and lawyers warned that "
        "appeals under Article 3 of the European Convention on Human Rights were being rushed."
    )
    stories = [
        story("a", title, WIRE),
        story("b", title, WIRE, minutes=10),  # the wire story again
        story("c", title, own, minutes=20),  # the same news, written up anew
    ]
    assert [(a.cluster_id, a.reason) for a in (index.assign(s, s.published or T0) for s in stories)] == [
        ("a", "new"),
        ("a", "title"),
        ("a", "title"),
    ]
    assert index.sizes()["stories"] == 2


def test_a_late_copy_keeps_its_original_in_the_window(embed: Embed | None) -> None:
    index = ClusterIndex(DedupConfig(window=timedelta(hours=48)), embed=embed)
    first = story("a", "Deportations of foreign criminals hit record high", WIRE)
    copy = story("b", "Record number of foreign offenders removed", WIRE, minutes=40 * 60)
    late = story("c", "Foreign criminals: deportations at record", WIRE, minutes=80 * 60)
    assert assign_all(index, [first, copy]) == ["a", "a"]
    assert index.expire(T0 + timedelta(hours=60)) == 0  # the copy, 20 hours old, would still be stored
    assert index.assign(late, T0 + timedelta(hours=80)).cluster_id == "a"
    assert index.expire(T0 + timedelta(hours=130)) == 1


def test_a_restart_stores_copies_as_the_running_index_did(embed: Embed | None) -> None:
    original = story(
        "a", "Deportations of foreign criminals hit record high", WIRE, url="https://one.example/a"
    )
    copy = story(
        "b", "Record number of foreign offenders removed", WIRE, url="https://two.example/b", minutes=20
    )
    # A story the running index put in the copy's cluster by other evidence stays stored.
    other = story("c", "Home Office deportation figures", "Figures show removals rose.", minutes=30)
    index = ClusterIndex(embed=embed)
    for s in (original, copy, other):
        index.restore(s, "a", T0 + timedelta(hours=1))
    assert index.sizes()["stories"] == 2 and index.sizes()["urls"] == 2
    later = story("d", "Foreign criminals: deportations at record", WIRE, minutes=60)
    assert index.assign(later, T0 + timedelta(hours=1)).cluster_id == "a"


def test_a_cluster_that_took_copies_is_forgotten_once_its_stories_expire(embed: Embed | None) -> None:
    index = ClusterIndex(DedupConfig(window=timedelta(hours=1)), embed=embed)
    stories = [
        story("a", "Deportations of foreign criminals hit record high", WIRE, url="https://one.example/a"),
        story("b", "Record number of foreign offenders removed", WIRE, minutes=10),  # a copy
        story("c", "Deportations of foreign criminals hit record high", WIRE, url="https://one.example/a"),
        story("d", "Home Office deportation figures", "Removals rose, the Home Office said.", minutes=20),
    ]
    assert assign_all(index, stories) == ["a", "a", "a", "d"]
    index.expire(T0 + timedelta(hours=3))
    sizes = index.sizes()
    assert [sizes[k] for k in ("stories", "clusters", "urls", "posting entries")] == [0] * 4


def test_a_restart_only_counts_the_words_of_stories_from_before_the_window(embed: Embed | None) -> None:
    index = ClusterIndex(DedupConfig(window=timedelta(hours=48)), embed=embed)
    now = T0 + timedelta(hours=72)
    index.restore(story("old", "Deportations of foreign criminals hit record high", WIRE), "old", now)
    assert index.sizes()["stories"] == 0 and index.sizes()["clusters"] == 0
    assert index.sizes()["document frequencies"] > 0
    copy = story("new", "Record number of foreign offenders removed", WIRE, minutes=72 * 60)
    assert index.assign(copy, now).cluster_id == "new"


class _ThreeDims:
    """An embedder whose vectors are 6 bytes long: not a whole number of 32-bit units."""

    def __call__(self, words: list[str], /) -> bytes | None:
        return struct.pack("<3e", 0.6, 0.0, 0.8) if words else None

    def similarity(self, a: bytes, b: bytes | memoryview, /) -> float:
        return float(
            sum(x * y for x, y in zip(struct.unpack("<3e", a), struct.unpack("<3e", b), strict=True))
        )


def test_a_stored_story_reads_back_whatever_the_length_of_its_vector() -> None:
    seen: list[tuple[float, ...]] = []
    index = ClusterIndex(embed=_ThreeDims(), observe=lambda a, b, evidence: seen.append(evidence))
    assign_all(
        index,
        [
            story("a", "Iceland warns of volcanic eruption as earthquakes shake Grindavik", minutes=0),
            story("b", "Grindavik evacuated as Iceland braces for volcanic eruption", minutes=30),
        ],
    )
    evidence = dict(zip(EVIDENCE, seen[0], strict=True))
    assert evidence["meaning"] == pytest.approx(1.0, abs=1e-3) and evidence["overlap"] > 0


def test_a_cluster_takes_stories_by_likeness_only_for_its_span(embed: Embed | None) -> None:
    """A running story's later days start clusters of their own; a copy still joins whenever it comes."""
    first = "Israeli tanks surround Gaza's al-Shifa hospital as doctors say patients are trapped"
    summary = (
        "Doctors at Gaza's largest hospital say Israeli tanks surround al-Shifa and patients are trapped."
    )
    reworded = "Doctors say Israeli armour rings al-Shifa, Gaza’s biggest hospital, and patients cannot leave"
    stories = [
        story("a", first, summary, url="https://a.test/1"),
        story(
            "b",
            reworded,
            "Gaza's al-Shifa hospital is surrounded by Israeli tanks, doctors say.",
            minutes=60 * 7,
        ),
        story("c", "Al-Shifa: the siege so far", url="https://a.test/1", minutes=60 * 8),
    ]
    assert (
        assign_all(ClusterIndex(DedupConfig(max_span=timedelta(hours=30)), embed=embed), stories) == ["a"] * 3
    )
    assert assign_all(ClusterIndex(DedupConfig(max_span=timedelta(hours=6)), embed=embed), stories) == [
        "a",
        "b",
        "a",
    ]


def test_words_are_stemmed_by_snowballs_c_build_with_the_pure_python_stems() -> None:
    """PyStemmer (a dependency) is what snowballstemmer hands out, and it stems the labelled stories' words
    as the pure-Python fallback does: which one is installed never changes a cluster."""
    import json
    from pathlib import Path

    import Stemmer
    from snowballstemmer.english_stemmer import EnglishStemmer

    from bot import dedup
    from bot.normalize import WORD, fold, prepare

    assert isinstance(dedup._STEMMER, Stemmer.Stemmer)
    path = Path(__file__).parents[1] / "data" / "dedup" / "stories.jsonl"
    words = sorted(
        {
            fold(w)
            for line in path.read_text().splitlines()
            for w in WORD.findall(prepare(" ".join(map(str, json.loads(line).values()))))
        }
    )
    assert len(words) > 5_000
    assert dedup._STEMMER.stemWords(words) == list(map(EnglishStemmer().stemWord, words))


def test_a_centroid_counts_each_key_of_its_stories() -> None:
    """Whether a story's keys are counted in place (the centroid holds them all) or merged in (it lacks some),
    the centroid holds each key once with the number of its stories that had it; and its dot product with
    a story's weights is the sum over their shared keys, read by a merge (a story about the centroid's size)
    or a search per key (a much smaller story)."""
    import random
    from collections import Counter

    from bot._dedupcore import Doc
    from bot.dedup import _word_id

    rng = random.Random(5)
    vocabulary = [_word_id(f"centroidword{i}") for i in range(10_000)]
    core = ClusterIndex()._core

    def doc(keys: list[int]) -> Doc:
        """A story whose summary has these keys, one token each."""
        return core.doc("s", [], [((), (k,), (k,), ()) for k in keys], "", None, False, "")

    start = rng.sample(vocabulary, 600)
    core.add(doc(start), "s0", "c", None, 0.0)
    expected = Counter(start)
    assert core.cluster("c").counts_by_key() == expected
    for i in range(300):
        keys = rng.sample(sorted(expected), 20) if i % 3 else rng.sample(vocabulary, 20)
        core.add(doc(keys), f"s{i + 1}", "c", None, 0.0)
        expected.update(keys)
        assert core.cluster("c").counts_by_key() == expected
    assert len(expected) > 2_000
    for size in (100, 3_000):
        story = doc(rng.sample(vocabulary, size))
        weights = story.weights_by_key()
        assert core.cluster("c").dot_with(story) == pytest.approx(
            sum(w**2 * expected[k] for k, w in weights.items())
        )


def test_the_core_refuses_input_it_would_read_unchecked() -> None:
    """The native core reads tokens, word ids and a story's arrays without bounds checks, so what it is handed
    is checked up front: each refusal is a clear error, never a crash, and the index stays usable."""
    from bot.dedup import _WORDS, _word_id

    index = ClusterIndex()
    core, word = index._core, _word_id("zorblax")
    token = ((), (word,), (word,), ())
    with pytest.raises(ValueError, match="never given out"):
        core.doc("s", [], [((), (len(_WORDS) + 5,), (len(_WORDS) + 5,), ())], "", None, False, "")
    with pytest.raises(OverflowError):
        core.doc("s", [], [((), (-1,), (-1,), ())], "", None, False, "")
    for bad in [((), (word,)), ((), [word], (word,), ()), "abcd"]:
        with pytest.raises(TypeError):
            core.doc("s", [], [token, bad], "", None, False, "")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="core that built it"):
        ClusterIndex()._core.add(core.doc("s", [], [token], "", None, False, ""), "s", "s", None, 0.0)
    with pytest.raises(ValueError, match="only be counted"):
        core.add(core.doc("s", [], [token], "", None, False, "", weigh=False), "s", "s", None, 0.0)
    from bot._dedupcore import Core

    with pytest.raises(ValueError, match="one list"):
        Core([], 1.0, 90.0, 0.6, 30, 0.15, 0.2, 0.15, 8, 1.0, (0.0,) * 12, 0.0, 0.5, None)
    assert index.sizes()["stories"] == 0
    assert assign_all(
        index, [story("a", "Zorblax quintessa marmot"), story("b", "Zorblax quintessa marmot")]
    ) == [
        "a",
        "a",
    ]
