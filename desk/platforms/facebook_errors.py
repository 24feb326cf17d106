"""Graph API error replies turned into the desk's PlatformError, in a press officer's words.

Graph errors come as `{"error": {"message", "type", "code", "error_subcode", "error_user_msg", "fbtrace_id"}}`,
usually with HTTP 400 whatever the cause, so the class depends on the code, not the status:
- 190 (any subcode: 458 app removed, 459 checkpoint, 460 password changed, 463 expired, 464 unconfirmed,
  467 invalid) and 102: the Page must be reconnected -> auth;
- 10 and 200-299: a permission is missing or the administrator's role on the Page changed -> auth;
- 4, 17, 32, 613, 341, 80001: throttling -> rate_limited, the wait taken from X-Business-Use-Case-Usage
  (`estimated_time_to_regain_access`, minutes), else Retry-After, else RATE_LIMIT_WAIT;
- 1 and 2: Facebook's own trouble -> transient; but on the request that publishes, ambiguous: Facebook is
  known to answer these after the post went out, so the worker looks for it before trying again;
- 368 policy block, 506 duplicate, 100 invalid parameter, 1609005 link, 324 bad image -> permanent;
- video upload subcodes (Video API error reference): 1363030 timeout, 1363019/1363033/1363037 broken
  upload and code 6000 -> transient; 1363022/1363023 size, 1363020/1363031 not a video -> permanent;
  1363042 no permission -> auth.
Messages never carry a token or a URL; Facebook's own words are quoted, shortened, where they help.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable

import requests

from .base import AMBIGUOUS, AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError
from .http import generic_error, json_body, retry_after_seconds

LABEL = "Facebook"
RATE_LIMIT_WAIT = 900.0  # seconds, when Facebook gives no hint (its windows are rolling hours)
RECONNECT = " Nothing is lost: its posts wait until then."
EXPIRED = "The Facebook Page's authorisation has expired: an administrator must reconnect it."
AUTH_SUBCODES = {
    458: "The desk's app was removed from the Facebook account that connected this Page, so Facebook no longer "
         "accepts its authorisation: an administrator must reconnect the Page.",
    459: "Facebook has locked the account that connected this Page until its owner logs in at facebook.com and "
         "completes a security check; then an administrator must reconnect the Page.",
    460: "The password of the Facebook account that connected this Page was changed, which ended the Page's "
         "authorisation: an administrator must reconnect it.",
    463: EXPIRED,
    464: "The Facebook account that connected this Page is not confirmed: its owner must confirm it on "
         "facebook.com, then an administrator must reconnect the Page.",
    467: "The Facebook Page's authorisation is no longer valid (the account that connected it logged out or "
         "removed the desk's access): an administrator must reconnect it.",
}
INVALID = AUTH_SUBCODES[467]
PERMISSION = ("Facebook says the desk is not allowed to do this on the Page (a permission was removed, or the "
              "role on the Page of the person who connected it changed): an administrator must reconnect the Page "
              "and keep every permission the desk asks for.")
THROTTLED = {4: "the desk's Facebook app has made too many calls", 17: "the Facebook account has made too many calls",
             32: "this Page has made too many calls", 613: "too many calls were made in a short time",
             341: "the desk's Facebook app has reached its limit", 80001: "this Page has made too many calls"}
VIDEO_RETRY = {6000, 1363019, 1363030, 1363033, 1363037}
VIDEO_REFUSED = {
    1363022: "The video is too small for Facebook (under 1 KB): attach the real file.",
    1363023: "The video is too large for Facebook: shorten it or export it smaller.",
    1363020: "Facebook received no video: attach the file again.",
    1363031: "Facebook says the file is not a video it can read: export it as MP4 (H.264 video, AAC sound).",
}


def graph_fault(response: requests.Response) -> dict:
    """The `error` object of a Graph reply ({} when the reply has none)."""
    error = json_body(response).get("error")
    return error if isinstance(error, dict) else {}


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def said(error: dict) -> str:
    """Facebook's own words, for the person to read: the user-facing ones first."""
    words = str(error.get("error_user_msg") or error.get("message") or "").strip()
    return f" Facebook says: \u201c{words[:200]}\u201d" if words else ""


def regain_wait(headers, now: Callable[[], float] = time.time) -> float | None:
    """Seconds until Facebook lets the desk call again, from the usage headers or Retry-After."""
    waits = []
    try:
        usage = json.loads(headers.get("X-Business-Use-Case-Usage") or "{}")
    except ValueError:
        usage = {}
    for entries in (usage.values() if isinstance(usage, dict) else []):
        for entry in entries if isinstance(entries, list) else []:
            minutes = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
            if isinstance(minutes, (int, float)) and minutes > 0:
                waits.append(minutes * 60.0)
    if waits:
        return max(waits)
    return retry_after_seconds(headers, now)


def graph_error(response: requests.Response, *, publishing: bool = False,
                now: Callable[[], float] = time.time) -> PlatformError:
    """The class, code and words for a Graph error reply (see the module docstring)."""
    error, status = graph_fault(response), response.status_code
    code, sub = _int(error.get("code")), _int(error.get("error_subcode"))
    tag = f"{code}/{sub}" if code is not None and sub else (str(code) if code is not None else str(status))
    if code == 190 or code == 102:
        return PlatformError(AUTH, AUTH_SUBCODES.get(sub, INVALID) + RECONNECT, code=tag)
    if sub == 1363042:
        return PlatformError(AUTH, "Facebook says the desk may not upload videos to this Page (the publish_video "
                             "permission is missing?): an administrator must reconnect the Page and allow it."
                             + RECONNECT, code=tag)
    if code == 10 or (code is not None and 200 <= code <= 299):
        return PlatformError(AUTH, PERMISSION + RECONNECT, code=tag)
    if code in THROTTLED or status == 429:
        wait = regain_wait(response.headers, now)
        wait = RATE_LIMIT_WAIT if wait is None else wait
        return PlatformError(RATE_LIMITED,
                             f"Facebook asks the desk to slow down: {THROTTLED.get(code, 'too many calls')}. "
                             f"Nothing was lost: the desk will try again in about {max(1, round(wait / 60))} "
                             "minute(s).", code=tag, retry_after=wait)
    if sub in VIDEO_RETRY or code == 6000:
        return PlatformError(TRANSIENT, "Facebook did not receive the whole video (the upload broke off or timed "
                             "out). Nothing was posted; the desk will try again by itself.", code=tag)
    if sub in VIDEO_REFUSED:
        return PlatformError(PERMANENT, VIDEO_REFUSED[sub] + " Nothing was posted.", code=tag)
    if code in (1, 2) or (status >= 500 and not error):
        if publishing and (code in (1, 2) or status in (500, 502, 504)):
            return PlatformError(AMBIGUOUS, "Facebook answered with an error of its own after receiving the post, "
                                 "so it may or may not be on the Page. The desk will check the Page before trying "
                                 "again, so nothing goes out twice.", code=tag)
        return PlatformError(TRANSIENT, "Facebook had a temporary problem of its own. The desk will try again by "
                             "itself.", code=tag)
    if code == 506:
        return PlatformError(PERMANENT, "Facebook refuses a post identical to a recent one from this Page. Nothing "
                             "was posted: change the wording and submit it again.", code=tag)
    if code == 368:
        return PlatformError(PERMANENT, "Facebook has temporarily blocked this Page from posting because it judged "
                             "something to break its rules. Nothing was posted, and the desk will not retry by "
                             "itself: an administrator should check the Page's notifications on Facebook (Page "
                             "quality / Support Inbox), then submit the post again." + said(error), code=tag)
    if code == 1609005:
        return PlatformError(PERMANENT, "Facebook could not read the page the link points to. Nothing was posted: "
                             "check the link opens in a browser, then submit it again.", code=tag)
    if code == 324:
        return PlatformError(PERMANENT, "Facebook could not read one of the photos. Nothing was posted: attach it "
                             "again as a JPEG or PNG." + said(error), code=tag)
    if code == 100:
        return PlatformError(PERMANENT, "Facebook refused part of the request as invalid. Nothing was posted; check "
                             "the text, link and media, then submit it again." + said(error), code=tag)
    if error:
        return PlatformError(PERMANENT, f"Facebook refused the request (error {tag}).{said(error)} Nothing was "
                             "posted; check the post, or tell the desk's administrator.", code=tag)
    return generic_error(response, LABEL, now=now)


def is_gone(exc: PlatformError) -> bool:
    """Whether the error says the object does not exist (deleted already, or never was)."""
    return exc.code in ("100/33", "404")
