"""Where a person may be sent after signing in: a path on the desk itself, and nowhere else.

The check reads the address as the browser will (WHATWG URL parsing), not as it was typed: the browser
strips leading and trailing controls and spaces, drops every tab and newline, and reads a backslash as a
slash. Judged before that clean-up, `/\\t/evil.example/` looks like a path and becomes `//evil.example/`,
another site, once the browser has tidied it: an open redirect that lends the desk's name to a phishing link.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for

_TAB_AND_NEWLINES = str.maketrans("", "", "\t\n\r")
_EDGES = "".join(chr(c) for c in range(0x21))  # C0 controls and the space


def local_path(target: str | None) -> str | None:
    """The address as the browser would read it, when that is a path on this site; otherwise None."""
    if not target:
        return None
    cleaned = target.strip(_EDGES).translate(_TAB_AND_NEWLINES).replace("\\", "/")
    # Any control left would reach the Location header (a newline there is a 500, or a header injection).
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in cleaned):
        return None
    if not cleaned.startswith("/") or cleaned.startswith("//"):
        return None
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return None
    return cleaned


def after_sign_in(target: str | None) -> str:
    """The page to go to once signed in: the one asked for when it is the desk's own, else the dashboard."""
    return local_path(target) or url_for("main.dashboard")
