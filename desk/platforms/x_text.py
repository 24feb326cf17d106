"""X's weighted length, counted the way X counts it (twitter-text v3 configuration).

- The text is NFC-normalised first.
- Each code point weighs 200 (two characters), except those in 0-4351, 8192-8205, 8208-8223 and
  8242-8247, which weigh 100 (one character): 280 Latin letters fit, but only 140 CJK characters.
- Every URL counts as 23 characters, however long (X wraps it in a t.co link), with or without
  http(s)://, as long as the domain ends in a real top-level domain.
- Every emoji counts as 2 characters, however many code points make it: ZWJ sequences (a family),
  skin tones, flags, keycaps. Emoji sequences are found with the `emoji` library (current Unicode);
  twitter-text's own list leaves out (c) and (R), which therefore count as one character, as X does.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import emoji
from publicsuffixlist import PublicSuffixList

MAX_WEIGHTED_LENGTH = 280
SCALE = 100
DEFAULT_WEIGHT = 200
URL_LENGTH = 23
LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
# twitter-text counts a text as invalid when it holds these (BOM, non-characters, bidi overrides).
INVALID_CHARS = re.compile("[\ufffe\ufeff\uffff\u202a-\u202e]")

# Characters that may not come right before a URL (twitter-text's validUrlPrecedingChars).
_BEFORE = r"(?<![A-Za-z0-9@\uff20$#\uff03])"
_LABEL = r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?)"  # letters and digits of any script; hyphens and _ inside
# Emoji, symbols and ideographic space end a URL, as they do on X.
_PATH_CHARS = r"[^\s<>\"\u3000\u2000-\u206f\u2190-\u2bff\U0001F000-\U0001FAFF]"
# A path ends on a letter, digit, or one of = _ # / + - (and never on sentence punctuation).
_PATH = rf"(?:/{_PATH_CHARS}*?)?(?:\?{_PATH_CHARS}*?)?(?:#{_PATH_CHARS}*?)?"
_URL_WITH_PROTOCOL = re.compile(
    rf"{_BEFORE}https?://(?:[^\s/?#@]+@)?"
    rf"(?P<host>(?:{_LABEL}\.)+{_LABEL}|\d{{1,3}}(?:\.\d{{1,3}}){{3}}|\[[0-9A-Fa-f:.]+\])"
    rf"(?::\d{{1,5}})?(?P<rest>{_PATH})(?=[.,:;!?'\")\]]*(?:\s|$))",
    re.IGNORECASE)
_ASCII_LABEL = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
_URL_WITHOUT_PROTOCOL = re.compile(
    rf"(?<![A-Za-z0-9@\uff20$#\uff03.\-_/])(?P<host>(?:{_ASCII_LABEL}\.)+[A-Za-z]{{2,63}})"
    rf"(?::\d{{1,5}})?(?P<rest>{_PATH})(?=[.,:;!?'\")\]]*(?:\s|$))")


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList(accept_unknown=False, only_icann=True)


def _real_tld(host: str) -> bool:
    tld = host.rsplit(".", 1)[-1].lower()
    return _public_suffixes().publicsuffix("x." + tld) is not None


def _end(text: str, start: int, end: int) -> int:
    """Take in closing parentheses that balance one opened inside the URL (Foo_(bar)), and no others."""
    while end < len(text) and text[end] == ")" and text.count("(", start, end) > text.count(")", start, end):
        end += 1
    return end


def find_urls(text: str) -> list[tuple[int, int]]:
    """Start and end (code-point offsets into the NFC text) of every URL X would wrap."""
    spans: list[tuple[int, int]] = []
    for m in _URL_WITH_PROTOCOL.finditer(text):
        if m.group("host").startswith("[") or _real_tld(m.group("host")) or m.group("host")[0].isdigit():
            spans.append((m.start(), _end(text, m.start(), m.end())))
    for m in _URL_WITHOUT_PROTOCOL.finditer(text):
        if any(start <= m.start() < end for start, end in spans):
            continue
        host = m.group("host")
        if not _real_tld(host):
            continue
        labels = host.split(".")
        # "police.uk" alone is not a link; "met.police.uk", "police.uk/news" and "example.com" are.
        if len(labels) == 2 and len(labels[1]) == 2 and not m.group("rest") and host.lower() != "t.co":
            continue
        spans.append((m.start(), _end(text, m.start(), m.end())))
    return sorted(spans)


def _emoji_spans(text: str) -> dict[int, int]:
    spans = {}
    for found in emoji.emoji_list(text):
        start, end = found["match_start"], found["match_end"]
        if end - start == 1 and _weight(ord(text[start])) == SCALE:
            continue  # (c) and (R) on their own: one ordinary character for X
        spans[start] = end
    return spans


def _weight(code_point: int) -> int:
    for low, high in LIGHT_RANGES:
        if low <= code_point <= high:
            return SCALE
    return DEFAULT_WEIGHT


@dataclass(frozen=True)
class XLength:
    weighted: int
    valid: bool
    has_invalid_characters: bool
    urls: int
    emoji: int

    @property
    def over_by(self) -> int:
        return max(0, self.weighted - MAX_WEIGHTED_LENGTH)


def weighted_length(text: str) -> XLength:
    """X's count for a text, and whether X would accept it (non-empty, at most 280, no invalid characters)."""
    normalized = unicodedata.normalize("NFC", text or "")
    urls = dict(find_urls(normalized))
    emojis = _emoji_spans(normalized)
    total = offset = 0
    invalid = False
    while offset < len(normalized):
        if offset in urls:
            total += URL_LENGTH * SCALE
            offset = urls[offset]
        elif offset in emojis:
            total += DEFAULT_WEIGHT
            offset = emojis[offset]
        else:
            char = normalized[offset]
            invalid = invalid or bool(INVALID_CHARS.match(char))
            total += _weight(ord(char))
            offset += 1
    weighted = total // SCALE
    valid = bool(normalized.strip()) and not invalid and weighted <= MAX_WEIGHTED_LENGTH
    return XLength(weighted=weighted, valid=valid, has_invalid_characters=invalid, urls=len(urls), emoji=len(emojis))
