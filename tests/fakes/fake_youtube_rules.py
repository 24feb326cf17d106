"""What the fake YouTube checks and how it says no: scopes per call, metadata rules, Google's error bodies.

Kept apart from the fake's routes so that the tests can quote the same reasons and messages.
The fake counts tags its own way (from YouTube's documented rule), not with the desk's function.
"""
from __future__ import annotations

import json

from werkzeug.wrappers import Response

GRANULE = 256 * 1024
_AUTH = "https://www.googleapis.com/auth/"
READ = {_AUTH + "youtube", _AUTH + "youtube.readonly", _AUTH + "youtube.force-ssl"}
UPLOAD = {_AUTH + "youtube", _AUTH + "youtube.upload", _AUTH + "youtube.force-ssl"}
WRITE = {_AUTH + "youtube", _AUTH + "youtube.force-ssl"}  # videos.delete: youtube.upload is not enough
CATEGORIES = {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}

# reason -> (domain, message, status name), as the YouTube Data API sends them
REASONS = {
    "authError": ("global", "Invalid Credentials", "UNAUTHENTICATED"),
    "youtubeSignupRequired": ("youtube.header", "Unauthorized", "UNAUTHENTICATED"),
    "insufficientPermissions": ("global", "Insufficient Permission", "PERMISSION_DENIED"),
    "quotaExceeded": ("youtube.quota", "The request cannot be completed because you have exceeded your "
                      "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.", "PERMISSION_DENIED"),
    "rateLimitExceeded": ("usageLimits", "Rate Limit Exceeded", "PERMISSION_DENIED"),
    "userRateLimitExceeded": ("usageLimits", "User Rate Limit Exceeded", "PERMISSION_DENIED"),
    "uploadLimitExceeded": ("youtube.video", "The user has exceeded the number of videos they may upload.",
                            "INVALID_ARGUMENT"),
    "forbidden": ("youtube.video", "The video that you are trying to delete cannot be deleted. The request might "
                  "not be properly authorized.", "PERMISSION_DENIED"),
    "forbiddenPrivacySetting": ("youtube.video", "The request attempts to set an invalid privacy setting for the "
                                "video.", "PERMISSION_DENIED"),
    "invalidTitle": ("youtube.video", "The request metadata specifies an invalid or empty video title.",
                     "INVALID_ARGUMENT"),
    "invalidDescription": ("youtube.video", "The request metadata specifies an invalid video description.",
                           "INVALID_ARGUMENT"),
    "invalidTags": ("youtube.video", "The request metadata specifies invalid video keywords.", "INVALID_ARGUMENT"),
    "invalidCategoryId": ("youtube.video", "The snippet.categoryId property specifies an invalid category ID.",
                          "INVALID_ARGUMENT"),
    "invalidFilename": ("youtube.video", "The video filename specified in the Slug header is invalid.",
                        "INVALID_ARGUMENT"),
    "videoNotFound": ("youtube.video", "The video that you are trying to delete cannot be found.", "NOT_FOUND"),
    "playlistNotFound": ("youtube.playlistItem", "The playlist identified with the request's playlistId "
                         "parameter cannot be found.", "NOT_FOUND"),
    "accessNotConfigured": ("usageLimits", "YouTube Data API v3 has not been used in project 123456 before or it "
                            "is disabled.", "PERMISSION_DENIED"),
    "backendError": ("global", "Backend Error", "UNAVAILABLE"),
    "rateLimit429": ("global", "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED"),
}


def error_body(status: int, reason: str, message: str | None = None, headers: dict | None = None) -> Response:
    domain, default, name = REASONS.get(reason, ("global", reason, "INVALID_ARGUMENT"))
    text = message or default
    error = {"code": status, "message": text, "errors": [{"message": text, "domain": domain, "reason": reason}],
             "status": name}
    if reason == "insufficientPermissions":
        error["message"] = "Request had insufficient authentication scopes."
    if reason == "rateLimit429":  # a bare 429 carries no YouTube reason, only the RPC status
        error.pop("errors")
    return Response(json.dumps({"error": error}), status=status, headers=headers or {},
                    mimetype="application/json")


def tags_length(tags: list[str]) -> int:
    """YouTube's count: the tags joined by commas, a tag with a space counted with its quotation marks."""
    return len(",".join(f'"{t}"' if " " in t else t for t in tags))


def metadata_error(metadata: dict) -> str | None:
    """The reason YouTube gives for refusing this video's metadata, or None."""
    snippet, status = metadata.get("snippet") or {}, metadata.get("status") or {}
    title, description = snippet.get("title") or "", snippet.get("description") or ""
    if not title.strip() or len(title) > 100 or "<" in title or ">" in title:
        return "invalidTitle"
    if len(description.encode("utf-8")) > 5000 or "<" in description or ">" in description:
        return "invalidDescription"
    tags = snippet.get("tags") or []
    if not isinstance(tags, list) or tags_length(tags) > 500 or any("<" in t or ">" in t for t in tags):
        return "invalidTags"
    if str(snippet.get("categoryId", "")) not in CATEGORIES:
        return "invalidCategoryId"
    if status.get("privacyStatus", "public") not in ("public", "unlisted", "private"):
        return "invalidVideoMetadata"
    return None
