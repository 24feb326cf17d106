"""Google's error replies (the YouTube Data API's and the OAuth token endpoint's) in a press officer's words.

The API answers `{"error": {"code", "message", "errors": [{"domain", "reason", "message"}], "status"}}`;
the reason decides the class. The token endpoint answers `{"error": "invalid_grant", ...}` (RFC 6749).
YouTube's daily quota is reset at midnight Pacific time, so a quota refusal waits until then.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .base import AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError
from .http import generic_error, json_body, retry_after_seconds

LABEL = "YouTube"
EXPIRED = ("The YouTube channel's authorisation has expired or was revoked: an administrator must reconnect it. "
           "Nothing is lost: its videos wait until then.")
PACIFIC = ZoneInfo("America/Los_Angeles")
_NOT_POSTED = "Nothing was published"

_AUTH = {
    "youtubeSignupRequired": "The Google account connected to this channel has no YouTube channel (any more): create "
                             "or restore the channel on YouTube, then an administrator must reconnect it.",
    "insufficientPermissions": "The desk's authorisation for this YouTube channel does not cover managing its "
                               "videos (a box left unticked on Google's consent page?): an administrator must "
                               "reconnect it and allow everything the desk asks for.",
    "authenticatedUserAccountClosed": "The YouTube account behind this channel is closed: an administrator must "
                                      "reconnect the channel with a working account.",
    "authenticatedUserAccountSuspended": "YouTube has suspended the account behind this channel: an administrator "
                                         "must resolve it with YouTube, then reconnect the channel.",
    "accountDelegationForbidden": "The connected Google account may not act for this YouTube channel (any more): "
                                  "an administrator must reconnect it with an account that manages the channel.",
    "authenticatedUserNotChannel": "The connected Google account is not a YouTube channel: an administrator must "
                                   "reconnect it and pick the channel (brand account) on Google's page.",
}
_REFUSED = {
    "invalidTitle": "YouTube refused the video's title: it must have 1 to 100 characters and no < or >. Correct "
                    "the title and submit the post again.",
    "invalidDescription": "YouTube refused the video's description: it may hold at most 5000 bytes and no < or >. "
                          "Shorten or correct it and submit the post again.",
    "invalidTags": "YouTube refused the video's tags: together they may hold at most 500 characters (a comma "
                   "between tags counts, and a tag with a space counts 2 more). Remove some and submit again.",
    "invalidCategoryId": "YouTube refused the video's category: the desk's administrator must set "
                         "DESK_YOUTUBE_CATEGORY_ID to a category YouTube offers (25 is News & Politics).",
    "forbiddenPrivacySetting": "YouTube refused the privacy chosen for this video. Choose another (private is "
                               "always allowed) and submit the post again.",
    "forbiddenLicenseSetting": "YouTube refused the licence set for this video: tell the desk's administrator.",
    "forbidden": "YouTube does not let this channel do that (a video of another channel, or a channel with "
                 "restrictions on it?). Check the channel in YouTube Studio, or tell the desk's administrator.",
    "mediaBodyRequired": "YouTube received no video. Attach the video again and submit the post again.",
    "invalidFilename": "YouTube refused the video's file name. Rename the file and attach it again.",
    "invalidVideoMetadata": "YouTube refused the video's details (title and category are required). Check them "
                            "and submit the post again.",
    "accessNotConfigured": "YouTube refuses the desk's application: the YouTube Data API is not switched on in its "
                           "Google Cloud project. Tell the desk's administrator.",
}
_QUOTA = {"quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg"}
_RATE = {"rateLimitExceeded", "userRateLimitExceeded", "uploadRateLimitExceeded", "RESOURCE_EXHAUSTED"}
_TRANSIENT = {"backendError", "internalError", "serviceUnavailable", "transientError"}


def seconds_to_quota_reset(now: float) -> float:
    """Seconds until the next midnight in California, when Google resets the daily quota."""
    local = datetime.fromtimestamp(now, PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    return max(60.0, midnight.timestamp() - now)


def reason_of(body: dict) -> tuple[str, str]:
    """(reason, YouTube's own message) from a Google error body; ("", "") when it has none."""
    error = body.get("error")
    if not isinstance(error, dict):
        return "", ""
    errors = error.get("errors") if isinstance(error.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    reason = str(first.get("reason") or "")
    for detail in error.get("details") or []:  # newer replies say it in an ErrorInfo too
        info = str(detail.get("reason") or "") if isinstance(detail, dict) else ""
        if info == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
            reason = "insufficientPermissions"
        elif info == "SERVICE_DISABLED":
            reason = "accessNotConfigured"
    if not reason and error.get("status") == "RESOURCE_EXHAUSTED":
        reason = "RESOURCE_EXHAUSTED"
    return reason, str(error.get("message") or first.get("message") or "")[:200]


def youtube_error(response, now: Callable[[], float] = time.time) -> PlatformError:
    """The YouTube Data API's error reply turned into the desk's error."""
    status = response.status_code
    reason, said = reason_of(json_body(response))
    code = reason or str(status)
    if reason in _AUTH:
        return PlatformError(AUTH, _AUTH[reason], code=reason)
    if status == 401:
        return PlatformError(AUTH, EXPIRED, code=code)
    if reason in _QUOTA:
        wait = seconds_to_quota_reset(now())
        return PlatformError(RATE_LIMITED, "The desk has used up its daily YouTube allowance (API quota). Nothing "
                             f"was lost: YouTube renews it at midnight Pacific time, in about {_hours(wait)}, and the "
                             "desk will try again then. If it cannot wait, publish it by hand in YouTube Studio.",
                             code=reason, retry_after=wait)
    if reason == "uploadLimitExceeded":
        return PlatformError(RATE_LIMITED, "This YouTube channel has reached the number of videos YouTube lets it "
                             "upload in a day. Nothing was lost: the desk will try again in 24 hours. If it cannot "
                             "wait, ask YouTube support or publish from another channel.", code=reason,
                             retry_after=24 * 3600.0)
    if reason in _RATE or status == 429:
        wait = retry_after_seconds(response.headers, now) or 60.0
        return PlatformError(RATE_LIMITED, "YouTube asks the desk to slow down (too many requests). Nothing was "
                             f"lost: the desk will try again in about {max(1, round(wait / 60))} minute(s).",
                             code=code, retry_after=wait)
    if reason in _TRANSIENT or status >= 500:
        return PlatformError(TRANSIENT, f"YouTube had a problem of its own (error {status}). The desk will try again "
                             "by itself.", code=code)
    if reason in _REFUSED:
        return PlatformError(PERMANENT, _REFUSED[reason] + f" ({_NOT_POSTED}.)", code=reason)
    if status == 404:
        return PlatformError(PERMANENT, "YouTube no longer has this video (deleted in YouTube Studio?).",
                             code=reason or "notFound")
    if 400 <= status < 500:
        quoted = f" YouTube says: \u201c{said}\u201d" if said else ""
        return PlatformError(PERMANENT, f"YouTube refused the request (error {status}).{quoted} {_NOT_POSTED}; "
                             "check the video and its details, or tell the desk's administrator.", code=code)
    return generic_error(response, LABEL, code=code, now=now)


def token_error(error: str, status: int | None, retry_after: float | None = None) -> PlatformError:
    """An error from Google's token endpoint (code exchange or refresh)."""
    if error == "invalid_grant":
        return PlatformError(AUTH, EXPIRED, code="invalid_grant")
    if error in ("invalid_client", "unauthorized_client"):
        return PlatformError(AUTH, "Google refuses the desk's OAuth client: the desk's administrator must check "
                             "DESK_GOOGLE_CLIENT_ID and DESK_GOOGLE_CLIENT_SECRET in the Google Cloud console. "
                             "Nothing is lost: the channel's videos wait until then.", code=error)
    if status == 429 or error == "rate_limit_exceeded":
        return PlatformError(RATE_LIMITED, "Google asks the desk to slow down (too many sign-in requests). The desk "
                             "will try again by itself.", code=error or "429", retry_after=retry_after or 60.0)
    if error in ("temporarily_unavailable", "server_error", "internal_failure") or (status or 0) >= 500:
        return PlatformError(TRANSIENT, "Google's sign-in service had a problem of its own. The desk will try again "
                             "by itself.", code=error or str(status))
    return PlatformError(PERMANENT, f"Google refused the desk's sign-in request ({error or status}): tell the "
                         "desk's administrator.", code=error or str(status))


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{round(hours)} hour(s)" if hours >= 1 else f"{max(1, round(seconds / 60))} minute(s)"
