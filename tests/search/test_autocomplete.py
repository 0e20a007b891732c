"""Autocomplete: catalogue terms and k-anonymous past queries, prefixes at word starts, Chinese,
incremental updates and the sorted array against a brute-force scan."""

from __future__ import annotations

import random
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from shopsage.search.autocomplete import Autocomplete, normalize_phrase
from shopsage.text.analyzers import make_analyzer


def test_a_query_is_suggested_only_once_k_distinct_shoppers_searched_it() -> None:
    ac = Autocomplete(min_shoppers=3)
    ac.set_item("a", "Cordless drill", "Bosch", ("Tools", "Drills"))
    for _ in range(50):  # one shopper, however often, never leaks their query
        ac.add_search("drill for my flat at 12 Baker Street", "shopper-1")
    ac.add_search("drill for my flat at 12 baker street", "shopper-2")
    assert ac.shoppers("drill for my flat at 12 Baker Street") == 2
    assert "drill for my flat at 12 baker street" not in ac.complete("dri", 20)
    ac.add_search("Drill  for my flat at 12 baker street", "shopper-3")  # the third distinct shopper
    assert ac.complete("dri", 20)[0] == "drill for my flat at 12 baker street"
    ac.min_shoppers = 4  # k raised (index settings): the query is private again
    assert "drill for my flat at 12 baker street" not in ac.complete("dri", 20)


def test_scrubbed_queries_are_never_suggested() -> None:
    ac = Autocomplete(min_shoppers=2)
    for who in "abc":
        ac.add_search("call me at [phone]", who)
        ac.add_search("[email] garden hose", who)
    assert ac.complete("call") == [] and ac.complete("garden") == []


def test_prefixes_match_word_starts_phrase_starts_first() -> None:
    ac = Autocomplete()
    ac.set_item("a", "Cordless Drill Driver", "DeWalt", ("Tools", "Power Drills"))
    ac.set_item("b", "Drill bits, 10 pieces", "Bosch", ("Tools",))
    got = ac.complete("dri", 10)
    outer = [s for s in got if s.startswith("dri")]
    assert got[:len(outer)] == outer and "cordless drill" in got and "power drills" in got
    assert all(any(w.startswith("dri") for w in s.split()) for s in got)
    assert ac.complete("rill") == []  # not at a word start
    assert ac.complete("drill ")[0].startswith("drill ")  # a trailing space asks for the next word
    ac.remove_item("a")
    assert "cordless drill" not in ac.complete("dri", 10)
    ac.set_item("b", "Hammer", None)  # an update replaces what the item counted
    assert ac.complete("dri", 10) == []


def test_chinese_prefixes_use_the_analyzer_words() -> None:
    ac = Autocomplete(analyzer=make_analyzer("chinese"))
    ac.set_item("a", "联想笔记本电脑", "联想", ("电脑",))
    assert "电脑" in ac.complete("电")
    assert "联想笔记本电脑" in ac.complete("笔记本")


def test_past_queries_outrank_catalogue_terms_by_frequency_and_count_at_once() -> None:
    ac = Autocomplete(min_shoppers=2, rebuild_after=3)
    ac.set_item("a", "Garden hose", None)
    ac.build()
    for i in range(4):  # new phrases after the build: found before and after the background rebuild
        ac.add_search(f"garden tool {i}", "x")
        ac.add_search(f"garden tool {i}", "y")
    ac.add_search("garden tool 3", "z")
    got = ac.suggest("gard", 3)
    assert got[0].text == "garden tool 3" and got[0].source == "query" and len(got) == 3


_WORDS = ["drill", "driver", "drip", "hose", "home", "garden", "gard", "glove", "saw", "sawhorse"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4), min_size=1, max_size=25),
       st.text(alphabet="dgrhsaoiwe ", min_size=1, max_size=5), st.integers(0, 1000))
def test_the_prefix_index_equals_a_brute_force_scan(titles: list[list[str]], prefix: str, seed: int) -> None:
    ac = Autocomplete(rebuild_after=5)
    rng = random.Random(seed)
    for i, words in enumerate(titles):
        ac.set_item(str(i), " ".join(words), None)
        if rng.random() < 0.2:
            ac.build()
    p = normalize_phrase(prefix)
    if not p:
        return
    p = p + " " if prefix.endswith(" ") else p
    n = 5
    weights = ac.to_json()
    cands = {t: w[0] for t, w in weights.items() if w[0] > 0 and
             any(t[m:].startswith(p) for m in [0] + [i + 1 for i, c in enumerate(t) if c == " "])}
    ranked = sorted(cands, key=lambda t: (not t.startswith(p), -cands[t], len(t), t))
    want = [t for t in ranked if t != p.strip()] or ranked
    assert ac.complete(prefix, n) == want[:n]


def test_suggesting_stays_fast_on_a_large_catalogue() -> None:
    rng = random.Random(0)
    ac = Autocomplete()
    for i in range(3000):
        ac.set_item(str(i), " ".join("".join(rng.choices(string.ascii_lowercase[:8], k=rng.randint(3, 7)))
                                     for _ in range(5)), None)
    ac.build()
    import time
    t0 = time.perf_counter()
    for c in "abcdefgh":
        ac.suggest(c, 8)
    assert (time.perf_counter() - t0) / 8 < 0.05  # one-letter prefixes cover thousands of phrases


def test_phrases_waiting_for_a_rebuild_cost_little() -> None:
    rng = random.Random(1)
    ac = Autocomplete(min_shoppers=2, rebuild_after=10_000)
    for i in range(2000):
        ac.set_item(str(i), " ".join(rng.choice(["drill", "hose", "saw", "glove", "set"]) for _ in range(4)), None)
    ac.build()
    for i in range(5000):  # new phrases, under rebuild_after: they wait in the pending list
        ac.add_search(f"{rng.choice('abcdefgh')}{i} query", "x")
        ac.add_search(f"{rng.choice('abcdefgh')}{i} query", "y")
    import time
    t0 = time.perf_counter()
    for c in "abcdefgh" * 5:
        assert len(ac.suggest(c, 8)) == 8
    assert (time.perf_counter() - t0) / 40 < 0.01
