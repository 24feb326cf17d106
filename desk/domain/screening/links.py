"""Links: to a domain outside the force's allow list (a warning), or through a URL shortener,
which hides where it goes (a warning)."""
from __future__ import annotations

import re
from collections.abc import Iterator

from .personal import within
from .rules import LINK_DOMAIN, LINK_SHORTENER

Hit = tuple[str, int, int]

SHORTENERS = (
    "bit.ly", "tinyurl.com", "t.co", "ow.ly", "goo.gl", "buff.ly", "is.gd", "v.gd", "rb.gy",
    "cutt.ly", "shorturl.at", "tiny.cc", "t.ly", "s.id", "lnkd.in", "dlvr.it", "trib.al",
    "rebrand.ly", "bl.ink", "amzn.to", "shorte.st", "adf.ly", "tiny.one", "qrco.de", "surl.li",
)
_TAIL = r"[^\s<>\"'`]*"
_SHORT = "|".join(re.escape(s) for s in SHORTENERS)
# Three shapes: with a scheme or www.; a bare host on a common top-level domain written in lower
# case (so "the area.Co-operation" is not a link); a bare shortener host followed by a path.
_LINK = re.compile(
    rf"(?i:\b(?:https?://|www\.){_TAIL})"
    rf"|(?<![\w@.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:com|org|net|uk|io|info|gov|eu|ie|app)"
    rf"(?![\w-])(?:/{_TAIL})?"
    rf"|(?<![\w@.-])(?i:{_SHORT})/{_TAIL}")
_DOT_LETTER = re.compile(r"\.[A-Za-z]")  # sentences put a space after their full stops; links do not
_HOST = re.compile(r"^(?:[a-z]+://)?(?:[^@/?#]*@)?([^/:?#]+)", re.I)


def links(text: str, allowed: tuple[str, ...]) -> Iterator[Hit]:
    if not _DOT_LETTER.search(text):
        return
    for m in _LINK.finditer(text):
        url = m.group().rstrip(".,;:!?)]}'\"")
        host = _HOST.match(url).group(1).lower().rstrip(".").removeprefix("www.")
        end = m.start() + len(url)
        if within(host, SHORTENERS):
            yield LINK_SHORTENER, m.start(), end
        elif not within(host, allowed):
            yield LINK_DOMAIN, m.start(), end
