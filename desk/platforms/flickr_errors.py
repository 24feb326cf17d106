"""Flickr's error replies turned into the desk's PlatformError, in a press officer's words.

Flickr answers most failures with HTTP 200 and a body that says so: `{"stat":"fail","code":98,...}` from
the REST API, `<rsp stat="fail"><err code="98" msg="..."/></rsp>` from the upload endpoint; the OAuth
endpoints answer 401 with `oauth_problem=...`. The codes are those of Flickr's API documentation
(upload.api.html and the methods' pages). Each message says what happened and what to do; the adapter
adds what was kept (nothing posted, the photo still on Flickr). Messages never quote Flickr's body
beyond its short error text: an OAuth problem report carries the signed base string.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs

from .base import AMBIGUOUS, AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError
from .http import generic_error

LABEL = "Flickr"
EXPIRED = ("The Flickr account's authorisation has expired or lacks permission: an administrator must reconnect it "
           "(with delete permission).")
NOT_FOUND = 1  # REST: "Photo not found" (deleted, or not this account's)
AGAIN = "The desk will try again by itself."
TELL_ADMIN = "Tell the desk's administrator."

# code -> (class, what happened and what to do). Upload codes 0-14, then the codes every method shares.
CODES: dict[int, tuple[str, str]] = {
    0: (TRANSIENT, f"Flickr has switched off video uploads for a while. {AGAIN}"),
    1: (PERMANENT, "Flickr has no such photo in this account (was it deleted on Flickr?)."),
    2: (PERMANENT, f"Flickr received no photo with the upload. {TELL_ADMIN}"),
    3: (TRANSIENT, f"Flickr's upload failed on its side (\u201cgeneral upload failure\u201d). {AGAIN}"),
    4: (PERMANENT, "Flickr received an empty file (0 bytes). Attach the photo again."),
    5: (PERMANENT, "Flickr does not recognise the file as a photo (it takes JPEG, PNG and GIF). Attach the "
                   "photo again, saved as a JPEG or PNG."),
    6: (PERMANENT, "The Flickr account has reached its upload limit (a free account holds at most 1,000 photos "
                   "and videos). An administrator must make room on Flickr or upgrade the account to Flickr Pro."),
    7: (PERMANENT, "The Flickr account has reached its limit of videos. An administrator must make room on "
                   "Flickr or upgrade the account to Flickr Pro."),
    8: (PERMANENT, "The photo is larger than Flickr accepts for this account (200 MB at most). Attach a smaller "
                   "copy."),
    9: (PERMANENT, "Flickr already has this very photo in the account."),
    14: (TRANSIENT, f"Flickr is at capacity and is not taking uploads for now. {AGAIN}"),
    95: (PERMANENT, "Flickr refuses connections without encryption: the DESK_FLICKR_* addresses must start with "
                    f"https://. {TELL_ADMIN}"),
    96: (AUTH, "Flickr did not accept the desk's signature on the request: DESK_FLICKR_API_SECRET may be wrong "
               "or was changed, or the channel's stored authorisation is damaged. An administrator must check "
               "the secret and reconnect the channel."),
    97: (AUTH, "Flickr received the request without the desk's signature. An administrator must reconnect the "
               "channel; if it happens again, tell the desk's administrator."),
    98: (AUTH, EXPIRED),
    99: (AUTH, EXPIRED),
    100: (AUTH, "Flickr no longer accepts the desk's API key (DESK_FLICKR_API_KEY): it is wrong, or was revoked "
                "or has expired in Flickr's App Garden. An administrator must check it and reconnect the channel."),
    105: (TRANSIENT, f"Flickr is temporarily unavailable. {AGAIN}"),
    106: (TRANSIENT, f"Flickr could not save the change (a temporary problem on its side). {AGAIN}"),
    111: (PERMANENT, f"Flickr does not know the answer format the desk asked for. {TELL_ADMIN}"),
    112: (PERMANENT, f"Flickr does not know the method the desk called. {TELL_ADMIN}"),
    114: (PERMANENT, f"Flickr could not read the desk's request. {TELL_ADMIN}"),
    115: (PERMANENT, f"Flickr could not read the desk's request. {TELL_ADMIN}"),
    116: (PERMANENT, "Flickr refuses a link in the title, description or tags as one used for abuse on Flickr. "
                    "Remove or change the link, then submit it again."),
}

# What was kept, by what the desk was doing, for each class: the middle of every message.
KEPT = {
    "upload": {AUTH: "Nothing was posted, and nothing is lost: the post waits until then.",
               AMBIGUOUS: "", RATE_LIMITED: "", "*": "Nothing was posted."},
    "delete": {"*": "The photo is still on Flickr."},
    "read": {"*": ""},
    "connect": {"*": "Nothing was connected."},
}


def _kept(action: str, error_class: str) -> str:
    table = KEPT.get(action, KEPT["read"])
    return table.get(error_class, table["*"])


def flickr_error(code, message: str = "", *, action: str) -> PlatformError:
    """The PlatformError for Flickr's error `code` (with its short `message`) met while doing `action`."""
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = -1
    error_class, words = CODES.get(number, (None, None))
    if error_class is None:
        said = f" Flickr says: \u201c{str(message)[:200]}\u201d" if message else ""
        error_class, words = PERMANENT, f"Flickr refused the request (error {number}).{said} {TELL_ADMIN}"
    kept = _kept(action, error_class)
    return PlatformError(error_class, _join(words, kept) if kept else words, code=str(number))


def _join(words: str, kept: str) -> str:
    """what happened [what was kept] what to do: the kept part goes after the first sentence."""
    first, dot, rest = words.partition(". ")
    if not dot:
        return f"{words} {kept}"
    return f"{first}. {kept} {rest}".strip()


def http_failure(response, *, action: str, writes: bool, now: Callable[[], float] = time.time) -> PlatformError:
    """An answer that is not Flickr's own error body: an HTML error page, a gateway's 5xx, a 429."""
    status = response.status_code
    if writes and status in (500, 502, 504):
        # the gateway may have given up after Flickr stored the photo: reconcile, never upload blindly again
        return PlatformError(AMBIGUOUS, f"Flickr answered with an error of its own (error {status}) after "
                             "receiving the photo, so it may or may not be on Flickr. The desk will check Flickr "
                             "before trying again, so nothing goes out twice.", code=str(status))
    error = generic_error(response, LABEL, now=now)
    kept = _kept(action, error.error_class)
    if not kept:
        return error
    return PlatformError(error.error_class, _join(error.message, kept), code=error.code,
                         retry_after=error.retry_after)


def unreadable(*, action: str, writes: bool) -> PlatformError:
    """A 200 answer the desk cannot read (not Flickr's JSON or XML)."""
    if writes:
        return PlatformError(AMBIGUOUS, "Flickr's answer could not be read, so the desk cannot tell whether the "
                             "photo was stored. The desk will check Flickr before trying again, so nothing goes "
                             "out twice.", code="unreadable")
    return PlatformError(TRANSIENT, f"Flickr's answer could not be read. {AGAIN}", code="unreadable")


def oauth_problem(exc, *, step: str, callback_url: str = "") -> PlatformError:
    """A refused OAuth step (requests-oauthlib's TokenRequestDenied / TokenMissing) while connecting."""
    status = getattr(exc, "status_code", None) or 0
    response = getattr(exc, "response", None)
    body = response.text if response is not None and len(response.text) < 4000 else ""
    problem = (parse_qs(body).get("oauth_problem") or [""])[0]
    if status >= 500 or status == 429:
        return PlatformError(TRANSIENT, f"Flickr had a problem of its own (error {status}) while connecting. "
                             "Nothing was connected: try again in a few minutes.", code=str(status))
    if problem.startswith("consumer_key"):
        return PlatformError(PERMANENT, "Flickr does not know the desk's API key: check DESK_FLICKR_API_KEY against "
                             "the app in Flickr's App Garden. Nothing was connected.", code=problem)
    if problem == "signature_invalid" and step == "request_token":
        return PlatformError(PERMANENT, "Flickr refused the desk's signature: check DESK_FLICKR_API_SECRET against "
                             "the app in Flickr's App Garden. Nothing was connected.", code=problem)
    if problem == "timestamp_refused":
        return PlatformError(PERMANENT, "Flickr refused the request because this server's clock is wrong: set "
                             "the clock right (NTP), then connect again. Nothing was connected.", code=problem)
    if step == "request_token":
        where = f", and that the app's callback in the App Garden allows {callback_url}" if callback_url else ""
        return PlatformError(PERMANENT, "Flickr refused to start the connection"
                             f"{f' ({problem})' if problem else ''}. Check DESK_FLICKR_API_KEY and "
                             f"DESK_FLICKR_API_SECRET{where}. Nothing was connected.",
                             code=problem or str(status or "request-token"))
    return PlatformError(PERMANENT, "Flickr did not accept the authorisation (it may have expired or been used "
                         "already). Nothing was connected: start the connection again.",
                         code=problem or str(status or "access-token"))
