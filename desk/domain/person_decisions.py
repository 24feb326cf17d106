"""What a person may decide about a post the worker cannot settle by itself, and how a pasted link is read.

Two kinds wait for a person. An `unknown` target: the worker lost track of a call and the platform could
not say whether the post exists (error code 'needs-person'), or the question has stayed open for a few
minutes; a person looks at the account and says "it was not published: send it" or "it was published:
here is the link". A `late` target: held while its channel could not publish, and by the time the
channel came back its moment was long past (desk.lateness); a person sends it now or does not send it.

Plain Python: the services load the rows and the last attempt, these functions decide.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from . import lateness
from . import workflow as wf
from .errors import ValidationFailed

NEEDS_PERSON = "needs-person"  # the error code the worker leaves when the platform cannot answer
UNKNOWN_SETTLES_WITHIN = timedelta(minutes=5)  # the worker's own checks normally settle it by then

UNKNOWN, LATE = "unknown", "late"
KIND_LABELS = {UNKNOWN: "Outcome unknown", LATE: "Too late to go by itself"}

# Where each platform's posts live: a pasted link elsewhere is a mistake (the desk's own page, say).
PLATFORM_HOSTS = {
    "x": ("x.com", "twitter.com"),
    "facebook": ("facebook.com", "fb.com", "fb.watch"),
    "youtube": ("youtube.com", "youtu.be"),
    "flickr": ("flickr.com", "flic.kr"),
}
_ID_PATTERNS = {
    "x": [r"/status(?:es)?/(\d+)"],
    "facebook": [r"/posts/([\w.-]+)", r"/videos/(\d+)", r"/photos/[^/]+/(\d+)", r"/permalink/(\d+)"],
    "youtube": [r"/shorts/([\w-]{6,})", r"/live/([\w-]{6,})", r"/embed/([\w-]{6,})"],
    "flickr": [r"/photos/[^/]+/(\d+)"],
}


def kind_of(status: str, held_reason: str | None) -> str | None:
    """Which person's decision this target waits for, if any."""
    if status == wf.T_UNKNOWN:
        return UNKNOWN
    if status == wf.T_HELD and lateness.awaits_person(held_reason):
        return LATE
    return None


def unknown_decidable(error_code: str | None, unknown_since: datetime | None, now: datetime) -> bool:
    """Offer the decision at once when the platform cannot answer; otherwise once the worker has had
    a few minutes to ask it (a person deciding while the worker asks could send it twice)."""
    if error_code == NEEDS_PERSON:
        return True
    return unknown_since is None or now - unknown_since >= UNKNOWN_SETTLES_WITHIN


def offered(status: str, held_reason: str | None, error_code: str | None, unknown_since: datetime | None,
            now: datetime) -> str | None:
    """The kind of decision to offer now: UNKNOWN, LATE, or None."""
    kind = kind_of(status, held_reason)
    if kind == UNKNOWN and not unknown_decidable(error_code, unknown_since, now):
        return None
    return kind


def _host_matches(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == h or host.endswith("." + h) for h in allowed)


def read_published_link(url: str | None, platform: str) -> tuple[str, str | None]:
    """Check a link a person pasted to the published post; return it and the platform's id in it (or None).

    Any http(s) address is accepted for the training channel (its posts live in the desk itself).
    """
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(
            "Paste the full link to the published post, starting with https://.",
            field_errors={"url": ["Paste the full link to the post, starting with https://."]})
    if len(url) > 2000:
        raise ValidationFailed("That link is too long to be a post's address: copy it again from the platform.",
                               field_errors={"url": ["Too long to be a post's address."]})
    allowed = PLATFORM_HOSTS.get(platform)
    host = parts.hostname.lower()
    if allowed and not _host_matches(host, allowed):
        raise ValidationFailed(
            f"That link is on {host}, not on {allowed[0]}: open the post on the platform and copy its address.",
            field_errors={"url": [f"Not a link on {' or '.join(allowed)}."]})
    return url, remote_id_from(parts, platform)


def remote_id_from(parts, platform: str) -> str | None:
    """The platform's id of the post, where its link carries one."""
    query = parse_qs(parts.query)
    if platform == "training":
        return parts.fragment or None
    if platform == "youtube":
        if parts.hostname.lower().endswith("youtu.be"):
            return parts.path.strip("/").split("/")[0] or None
        if query.get("v"):
            return query["v"][0]
    if platform == "facebook":
        for key in ("story_fbid", "fbid", "v"):
            if query.get(key):
                return query[key][0]
    for pattern in _ID_PATTERNS.get(platform, ()):
        found = re.search(pattern, parts.path)
        if found:
            return found.group(1)
    return None
