"""scrub_query: generated e-mail addresses, phone and card numbers never survive; product queries pass."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsage.privacy.scrub import luhn_ok, scrub_query

WORDS = st.sampled_from(["iphone", "case", "red", "usb-c", "cable", "for", "size", "gift", "please", "水龙头",
                         "the", "256gb", "2x4", "8 ft", "rtx 3080"])
AROUND = st.lists(WORDS, max_size=3).map(" ".join)


def _with_luhn(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable: one check digit always fits")


CARDS = st.integers(13, 19).flatmap(
    lambda n: st.text("0123456789", min_size=n - 1, max_size=n - 1).map(_with_luhn))


def _grouped(digits: str, sizes: list[int], seps: list[str]) -> str:
    out, i = [], 0
    for k, size in enumerate(sizes):
        if i >= len(digits):
            break
        out.append(digits[i:i + size] + (seps[k % len(seps)] if i + size < len(digits) else ""))
        i += size
    return "".join(out) + digits[i:]


@st.composite
def card_texts(draw: st.DrawFn) -> tuple[str, str]:
    digits = draw(CARDS)
    style = draw(st.sampled_from(["plain", "4s", "4d", "odd"]))
    if style == "plain":
        return digits, digits
    if style == "odd":
        sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=8))
        return digits, _grouped(digits, sizes, [draw(st.sampled_from([" ", "-"]))])
    return digits, _grouped(digits, [4] * 5, [" " if style == "4s" else "-"])


D = st.text("0123456789", min_size=1, max_size=1)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


PHONES = st.one_of(
    st.builds(lambda cc, a, b, c, sep: f"+{cc}{sep}{a}{sep}{b}{sep}{c}", st.integers(1, 999).map(str), _digits(3),
              _digits(3), _digits(4), st.sampled_from([" ", "-", ".", ""])),
    st.builds(lambda a, b, c, sep: f"({a}) {b}{sep}{c}", _digits(3), _digits(3), _digits(4), st.sampled_from(["-", " ", "."])),
    st.builds(lambda a, b, c, sep: f"{a}{sep}{b}{sep}{c}", _digits(3), _digits(3), _digits(4), st.sampled_from(["-", " ", "."])),
    st.builds(lambda a, b: f"0{a} {b}", _digits(4), _digits(6)),  # 07700 900123
    st.builds(lambda a, b, c: f"0{a} {b} {c}", _digits(2), _digits(4), _digits(4)),  # 020 7946 0958
    _digits(10),
)


def _no_digit_run_left(text: str, digits: str) -> bool:
    return digits not in re.sub(r"[^0-9]", "", text)


@given(st.emails(), AROUND, AROUND)
def test_generated_email_addresses_never_survive(email: str, before: str, after: str) -> None:
    out = scrub_query(f"{before} {email} {after}")
    assert email not in out and "[email]" in out
    assert out.startswith(before) and out.endswith(after)


@given(card_texts(), AROUND, AROUND)
def test_generated_card_numbers_never_survive(card: tuple[str, str], before: str, after: str) -> None:
    digits, shown = card
    out = scrub_query(f"{before} {shown} {after}")
    assert "[card]" in out and _no_digit_run_left(out, digits), (shown, out)


@given(PHONES, AROUND, AROUND)
def test_generated_phone_numbers_never_survive(phone: str, before: str, after: str) -> None:
    out = scrub_query(f"{before} {phone} {after}")
    assert phone not in out and ("[phone]" in out or "[card]" in out), (phone, out)
    assert _no_digit_run_left(out, re.sub(r"[^0-9]", "", phone)[-7:])


PRODUCT_QUERIES = ["iphone 13 pro 256gb", "2x4 lumber 8 ft", "水龙头", "samsung 55 inch 4k tv 2023", "rtx 3080 12gb",
                   "1920x1080 monitor 144hz", "size 10 12 14 16", "m3 x 20mm screws", "date 2024-01-15",
                   "order 12345678", "usb-c cable 2m", "AA batteries 24 pack", "Nike Air Max 90", "0.5 mm pencil lead",
                   "iPhone 15 Pro Max 1TB", "wd 4tb hdd 7200 rpm", "ps5 console", "café crème", "1/2\" drill bit",
                   "tv @ 50% off"]


@pytest.mark.parametrize("query", PRODUCT_QUERIES)
def test_product_queries_pass_unchanged(query: str) -> None:
    assert scrub_query(query) == query


@given(st.lists(WORDS, max_size=6).map(" ".join))
def test_queries_of_product_words_pass_unchanged(query: str) -> None:
    assert scrub_query(query) == query


def test_known_numbers_and_other_scripts() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("79927398713") and not luhn_ok("4111111111111112")
    assert scrub_query("card 4111 1111 1111 1111 exp 12/27") == "card [card] exp 12/27"
    assert scrub_query("4111 1111 1111 1112") != "[card]"  # not a card (Luhn): a phone-like number at most
    assert scrub_query("call ０２０ ７９４６ ０９５８") == "call [phone]"  # full-width digits
    assert scrub_query("mail bob.smith+shop@mail.example.co.uk now") == "mail [email] now"
    assert scrub_query("john.@example.com") == "[email]"  # sloppy addresses too


def test_hostile_inputs_take_linear_time() -> None:
    for text in ("a" * 20000 + "@", "a@" + "a-" * 10000, "a." * 10000 + "@", "@".join(["a"] * 10000),
                 "1-" * 10000, "+1 " * 10000, "(12)" * 5000, "1 " * 10000):
        t0 = time.perf_counter()
        scrub_query(text)
        assert time.perf_counter() - t0 < 1.0, text[:20]
