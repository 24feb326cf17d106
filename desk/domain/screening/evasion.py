"""A fast, conservative pre-check for the offensive-language rule: could the library find anything?

glin-profanity looks at several views of a post (as typed, with leetspeak and look-alike letters
undone, with repeated letters squeezed, with separators and masks removed) and costs milliseconds
a post. Almost every post is plain English with no word from its list, so this check answers
"nothing here" in microseconds and the library runs only when it says "maybe". It must never say
"nothing" where the library would find something: it reads every view more loosely than the
library does (any leet letter, any masked letter, every join and split at a separator), and
tests/test_screening.py holds it to that on a table of evasions.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from itertools import groupby

from glin_profanity.utils.leetspeak import AMBIGUOUS_AS_L, MODERATE_SUBSTITUTIONS

_MASKS = "*#@$%_?!"          # glin-profanity's default mask characters: any letter may hide there
_SEPARATORS = ".,/|_-"       # glin-profanity's default separators: "f.u.c.k", "sh-it"
_END = ""                    # the trie's end-of-word key (no character is empty)

# Each character, as the letters it may stand for; None: any letter (a mask).
_CANDIDATES: dict[str, tuple[str, ...] | None] = {}
for _ch, _letter in MODERATE_SUBSTITUTIONS.items():
    _CANDIDATES[_ch] = (_ch, _letter) + ((AMBIGUOUS_AS_L[_ch],) if _ch in AMBIGUOUS_AS_L else ())
for _ch in _MASKS:
    _CANDIDATES[_ch] = None
# Non-ASCII signs the library reads as letters (€ as e, § as s, ...), written as those letters.
_LEET_SIGNS = {ord(k): v for k, v in MODERATE_SUBSTITUTIONS.items() if not k.isascii()}

_MARKUP = re.compile(r"&#?\w+;|</?[a-z]")
_SINGLE = r"[a-z0-9@$!#*%?|+(<{\[&]"
_SPACED = re.compile(rf"(?<![a-z0-9]){_SINGLE}(?:[\s.,/|_-]+{_SINGLE}){{2,}}(?![a-z0-9])")
_HARD_BREAK = re.compile(r"[^a-z0-9" + re.escape("".join(_CANDIDATES) + _SEPARATORS) + "]+")
_NO_SEPARATORS = str.maketrans("", "", _SEPARATORS)
_SPLIT = re.compile("[" + re.escape(_SEPARATORS) + "]+")
_TOKEN = re.compile(r"[a-z0-9@$!+#|*]+")
_LEET_I = str.maketrans({k: v for k, v in MODERATE_SUBSTITUTIONS.items() if k.isascii()})
_LEET_L = str.maketrans({**{k: v for k, v in MODERATE_SUBSTITUTIONS.items() if k.isascii()},
                         **AMBIGUOUS_AS_L})
# A number, a road or a postcode district ("455", "A55", "B5", "A4232"): the rule never reports
# these, though the library reads them as leetspeak ("ass", "bs").
NUMBERISH = re.compile(r"\d+|[a-z]?\d{1,4}[a-z]?", re.I)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_RUNS = re.compile(r"(.)\1+")
_EDGES = "\"'()[]{}<>.,;:!?"


def _squeeze(word: str) -> str:
    return _RUNS.sub(r"\1", word)


def fold(text: str) -> str | None:
    """The post in ASCII, for the pre-check; None when it holds letters of another script
    (possible look-alikes), which only the library can judge."""
    folded = unicodedata.normalize("NFKD", text).translate(_LEET_SIGNS)
    if folded.isascii():
        return folded
    table = {}
    for ch in set(_NON_ASCII.findall(folded)):
        kind = unicodedata.category(ch)
        if kind[0] in "LN":
            return None
        # Accents split off and zero-width joiners go; other punctuation may be read as a
        # separator, currency and spaces as a space, other symbols (emoji) as a mask.
        table[ord(ch)] = (None if kind in ("Mn", "Me", "Cf") else "-" if kind[0] == "P"
                          else " " if kind in ("Sc", "Zs") else "*")
    return folded.translate(table)


class Gate:
    """Built once from the library's word list, less the words the desk ignores."""

    def __init__(self, words: Iterable[str]):
        self.plain: set[str] = set()
        self.trie: dict = {}
        self.phrases: dict[str, list[tuple[str, ...]]] = {}
        for word in {w.lower() for w in words}:
            if not word.isascii():
                continue                      # emoji and other scripts: fold() sends those on
            parts = word.split()
            if len(parts) > 1:
                # As written and with stretched letters squeezed, as the library's views have them.
                for form in {tuple(parts), tuple(_squeeze(p) for p in parts)}:
                    self.phrases.setdefault(form[0], []).append(form)
            else:
                self._add(word)

    def _add(self, word: str) -> None:
        joined = word.translate(_NO_SEPARATORS)
        if joined.isalpha():
            self.plain.add(joined)
        node = self.trie
        for ch in joined:
            node = node.setdefault(ch, {})
        node[_END] = True

    def might_offend(self, text: str) -> bool:
        if not text.isascii():
            text = fold(text)
            if text is None:
                return True
        low = text.lower()
        if _MARKUP.search(low) or _SPACED.search(low):
            return True
        if any(map(self.chunk, low.split())):
            return True
        return self._phrase(_TOKEN.findall(low))

    def _phrase(self, tokens: list[str]) -> bool:
        for i, token in enumerate(tokens):
            for phrase in self._phrases_from(token):
                if len(phrase) <= len(tokens) - i and all(
                        word in self._forms(tokens[i + k]) for k, word in enumerate(phrase[1:], 1)):
                    return True
        return False

    @lru_cache(maxsize=1 << 16)
    def _forms(self, token: str) -> frozenset[str]:
        # As typed, leet undone either way, squeezed: a token matches a phrase's word in any of
        # these, looser than any one of the library's views, so nothing it finds is missed.
        leet_i = token.translate(_LEET_I)
        return frozenset((token, leet_i, token.translate(_LEET_L), _squeeze(leet_i)))

    @lru_cache(maxsize=1 << 16)
    def _phrases_from(self, token: str) -> tuple[tuple[str, ...], ...]:
        return tuple(p for form in self._forms(token) for p in self.phrases.get(form, ()))

    @lru_cache(maxsize=1 << 16)
    def chunk(self, chunk: str) -> bool:
        """Could this whitespace-free piece of the (lower-cased) post be, or hold, a listed word?"""
        if chunk.isalpha():
            return self._plain(chunk)
        if NUMBERISH.fullmatch(chunk.strip(_EDGES)):
            return False
        for piece in _HARD_BREAK.split(chunk):
            # As typed ("_" is also a mask), joined at separators, and split at them.
            variants = {piece, piece.translate(_NO_SEPARATORS), *_SPLIT.split(piece)}
            for v in variants:
                if v and (self._plain(v) if v.isalpha() else
                          not NUMBERISH.fullmatch(v) and self._walk(v)):
                    return True
        return False

    def _plain(self, word: str) -> bool:
        if word in self.plain:
            return True
        # Stretched letters ("fuuuck", "niiigger"): each run may stand for fewer letters.
        return _RUNS.search(word) is not None and self._walk(word)

    def _walk(self, piece: str) -> bool:
        """Does a listed word fill the piece, each character read as any letter it may stand for,
        a run of one character as any number of letters up to its length (squeezed or as typed),
        with signs allowed at either end?"""
        runs = [(ch, len(list(group))) for ch, group in groupby(piece)]
        n = len(runs)
        starts = next((i for i, (ch, _) in enumerate(runs) if ch.isalpha()), n - 1) + 1
        if starts > 16:
            return True     # a long string of signs: too many readings to try, the library decides
        signs_from = [True] * (n + 1)       # signs_from[i]: runs[i:] hold no letter
        for i in range(n - 1, -1, -1):
            signs_from[i] = signs_from[i + 1] and not runs[i][0].isalpha()
        # A word may start after any signs before the first letter (they may be leet or masks).
        stack, seen = [(i, self.trie, 0) for i in range(starts)], set()
        while stack:
            i, node, used = stack.pop()
            key = (i, id(node), used)
            if key in seen:
                continue
            seen.add(key)
            if used == 0 and node.get(_END) and signs_from[i]:
                return True
            if i == n:
                continue
            ch, count = runs[i]
            if used:
                stack.append((i + 1, node, 0))
            if used < count:
                letters = _CANDIDATES.get(ch, (ch,))
                children = node.items() if letters is None else (
                    (c, node[c]) for c in letters if c in node)
                stack.extend((i, child, used + 1) for c, child in children if c != _END)
        return False
