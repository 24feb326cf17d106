"""Operational security: the unit's own terms and patterns (operation names, call signs,
locations under watch). Any match blocks the post."""
from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from .rules import OPSEC

Hit = tuple[str, int, int]


def _term(term: str) -> str:
    # Any run of spaces in a term matches any run in the post: "Op  Nightjar" is "Op Nightjar".
    return r"\s+".join(re.escape(word) for word in term.split())


@lru_cache(maxsize=64)
def compiled(terms: tuple[str, ...], patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    """One regex for all terms (longest first, so "Op Nightjar Two" wins over "Op Nightjar"),
    and one per pattern, all case-insensitive."""
    out = []
    if terms:
        words = sorted({t.lower() for t in terms}, key=len, reverse=True)
        # (?<!\w)/(?!\w) rather than \b, so a term that starts or ends with a symbol
        # ("#OpNightjar", "Alpha-1") still has to stand alone.
        out.append(re.compile(r"(?<!\w)(?:" + "|".join(map(_term, words)) + r")(?!\w)", re.I))
    out.extend(re.compile(p, re.I) for p in patterns)
    return tuple(out)


def opsec(text: str, regexes: tuple[re.Pattern, ...]) -> Iterator[Hit]:
    for regex in regexes:
        for m in regex.finditer(text):
            if m.end() > m.start():
                yield OPSEC, m.start(), m.end()
