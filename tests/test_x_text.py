"""X's weighted length: twitter-text v3's conformance cases and the edge cases a press office meets."""
from __future__ import annotations

import pytest

from desk.platforms import Content
from desk.platforms.x import XPublisher
from desk.platforms.x_text import find_urls, weighted_length

FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"  # man, woman, girl, boy joined by ZWJ
ENGLAND = "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"  # tag sequence flag
UK = "\U0001F1EC\U0001F1E7"
THUMB_MEDIUM = "\U0001F44D\U0001F3FD"
FIREFIGHTER_MEDIUM = "\U0001F9D1\U0001F3FD\u200d\U0001F692"


@pytest.mark.parametrize("text,expected", [
    # from twitter-text's conformance suite (WeightedTweetsWithDiscountedEmojiCounterTest and urls)
    ("Hi http://test.co", 26),
    ("http://test.co", 23),
    ("285 chars-" + "xxxxxxxxxx-" * 25, 285),
    ("https://www.twitter.com/aloha " * 10, 240),
    ("H\U0001F431\u263a" + FAMILY, 7),
    ("\U0001F637\U0001F47E\U0001F621\U0001F525\U0001F4A9", 10),
    ("\U0001F64B\U0001F3FD\U0001F468\u200d\U0001F3A4", 4),
    ("1\u20e3", 2),
    ("Unicode 10.0 emoji: \U0001F92A; \U0001F9D5; \U0001F9D5\U0001F3FE; " + ENGLAND, 34),
    ("Unicode 9.0 emoji: \U0001F920; \U0001F483; \U0001F483\U0001F3FE", 29),
    ("randomurl" * 7 + "s.com", 68),  # a 64-character label: not a domain, so not a link
    ("example.com", 23),
    ("foo.co.jp", 23),
    ("Test https://test.com test https://test.com test.com test", 86),
    # weights by code point range
    ("A" * 280, 280),
    ("\u65e5" * 140, 280),  # CJK weighs 2
    ("\u00e9" * 280, 280),  # Latin-1 weighs 1
    ("\u2014" * 10, 10),  # em dash: General Punctuation 8208-8223 weighs 1
    ("\u2026" * 10, 20),  # ellipsis (8230) is outside the light ranges
    ("\U00010000\U0010ffff", 4),
    # NFC: e + combining acute is one character
    ("e\u0301" * 280, 280),
    # emoji sequences count 2 whatever their length
    (FAMILY, 2), (UK, 2), (ENGLAND, 2), (THUMB_MEDIUM, 2), (FIREFIGHTER_MEDIUM, 2), ("1\ufe0f\u20e3", 2),
    ("\u00a9 Met Police", 12),  # (c) alone is not one of twitter-text's emoji: one character
    # links: 23 each, however long, with or without a scheme
    ("Read https://www.met.police.uk/news/2026/june/very-long-article-name-about-road-closures", 5 + 23),
    ("Details: met.police.uk.", 9 + 23 + 1),
    ("see https://en.wikipedia.org/wiki/Foo_(bar) now", 4 + 23 + 4),
    ("(see example.com)", 1 + 4 + 23 + 1),
    ("write to press@met.police.uk", 28),  # an address is not a link
    ("police.uk", 9),  # a bare two-part domain under a country code is not a link
    ("police.uk/news", 23),
    ("report.pdf and file.txt", 23),  # not real top-level domains
])
def test_weighted_length(text, expected):
    assert weighted_length(text).weighted == expected


def test_280_fits_and_281_does_not():
    assert weighted_length("a" * 280).valid
    over = weighted_length("a" * 281)
    assert not over.valid and over.over_by == 1


def test_140_cjk_fit_and_141_do_not():
    assert weighted_length("\u8b66" * 140).valid
    assert weighted_length("\u8b66" * 141).weighted == 282
    assert not weighted_length("\u8b66" * 141).valid


def test_a_link_counts_23_so_257_letters_and_a_link_fit():
    text = "a" * 256 + " https://www.met.police.uk/" + "x" * 200
    assert weighted_length(text).weighted == 280 and weighted_length(text).valid
    assert not weighted_length("a" + text).valid


def test_140_emoji_fit_whatever_their_length():
    assert weighted_length(FAMILY * 140).weighted == 280
    assert not weighted_length(FAMILY * 141).valid


def test_empty_and_invalid_characters():
    assert not weighted_length("   ").valid
    bom = weighted_length("Road closed\ufeff")
    assert bom.has_invalid_characters and not bom.valid


def test_urls_found_at_their_offsets():
    assert find_urls("go to https://x.com/a, then met.police.uk.") == [(6, 21), (28, 41)]


def _problems(text, link=None):
    return {p.field: p.message for p in XPublisher.validate(Content(text=text, link=link))}


def test_validation_says_how_much_to_cut():
    assert _problems("a" * 280) == {}
    message = _problems("a" * 281)["text"]
    assert "this text counts 281" in message and "Shorten it by 1" in message
    assert "counts 282" in _problems("\u8b66" * 141)["text"]


def test_validation_counts_the_link_that_goes_at_the_end():
    assert _problems("a" * 256, link="https://www.met.police.uk/appeal") == {}  # 256 + space + 23
    assert "Shorten it by 1" in _problems("a" * 257, link="https://www.met.police.uk/appeal")["text"]
    assert _problems("a" * 256 + " https://www.met.police.uk/appeal", link="https://www.met.police.uk/appeal") == {}


def test_validation_refuses_empty_and_bad_links():
    assert "empty" in _problems("  ")["text"]
    assert "http" in _problems("hello", link="www.met.police.uk")["link"]
