"""YouTube's endpoints and the Google OAuth client, read from DESK_GOOGLE_* and DESK_YOUTUBE_* variables.

Every endpoint is configurable, so that tests and a force's own proxy can point the real client code
elsewhere. YouTube is "not configured" until the Google OAuth client's id and secret are set.
Where the variables come from is decided as for the other platforms (see platform_settings).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config import ConfigError
from .platform_settings import AppCredentials, _float, _int

# `youtube` (manage the account) covers upload, list and delete; `youtube.upload` alone cannot delete.
YOUTUBE_SCOPE = "https://www.googleapis.com/auth/youtube"
FORCE_SSL_SCOPE = "https://www.googleapis.com/auth/youtube.force-ssl"
DELETE_SCOPES = frozenset({YOUTUBE_SCOPE, FORCE_SSL_SCOPE})
UPLOAD_GRANULE = 256 * 1024  # every chunk but the last is a multiple of this


@dataclass(frozen=True)
class YouTubeSettings(AppCredentials):
    auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    token_url: str = "https://oauth2.googleapis.com/token"
    api_base: str = "https://www.googleapis.com"  # serves /youtube/v3 and /upload/youtube/v3
    web_base: str = "https://www.youtube.com"
    client_id: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    scopes: tuple[str, ...] = (YOUTUBE_SCOPE,)
    category_id: str = "25"  # News & Politics
    upload_chunk_bytes: int = 8 * 1024 * 1024
    upload_retries: int = 5  # interruptions survived within one attempt, each resumed where it broke off
    retry_wait: float = 2.0  # seconds before resuming, doubled each time
    find_window_hours: float = 48.0  # how far back reconciliation looks for an upload

    label = "YouTube"
    where_to_get = ("an OAuth client of type \u201cWeb application\u201d in the Google Cloud console, in a "
                    "project with the YouTube Data API v3 switched on, with the desk's callback address registered")

    def required(self) -> tuple[tuple[str, str], ...]:
        return (("DESK_GOOGLE_CLIENT_ID", self.client_id), ("DESK_GOOGLE_CLIENT_SECRET", self.client_secret))


def youtube_settings(env: Mapping[str, str]) -> YouTubeSettings:
    chunk = _int(env, "DESK_YOUTUBE_UPLOAD_CHUNK_BYTES", YouTubeSettings.upload_chunk_bytes)
    if chunk % UPLOAD_GRANULE:
        raise ConfigError(f"DESK_YOUTUBE_UPLOAD_CHUNK_BYTES must be a multiple of 262144 (256 KiB), as YouTube "
                          f"requires; {chunk} is not.")
    scopes = tuple((env.get("DESK_YOUTUBE_SCOPES") or YOUTUBE_SCOPE).split())
    if not DELETE_SCOPES & set(scopes):
        raise ConfigError("DESK_YOUTUBE_SCOPES must include " + YOUTUBE_SCOPE + " (or youtube.force-ssl): "
                          "with youtube.upload alone the desk could not delete a retracted video.")
    category = (env.get("DESK_YOUTUBE_CATEGORY_ID") or YouTubeSettings.category_id).strip()
    if not category.isdigit():
        raise ConfigError(f"DESK_YOUTUBE_CATEGORY_ID must be a YouTube category number such as 25, not {category!r}.")
    return YouTubeSettings(
        auth_url=env.get("DESK_GOOGLE_AUTH_URL") or YouTubeSettings.auth_url,
        token_url=env.get("DESK_GOOGLE_TOKEN_URL") or YouTubeSettings.token_url,
        api_base=(env.get("DESK_YOUTUBE_API_BASE") or YouTubeSettings.api_base).rstrip("/"),
        web_base=(env.get("DESK_YOUTUBE_WEB_BASE") or YouTubeSettings.web_base).rstrip("/"),
        client_id=env.get("DESK_GOOGLE_CLIENT_ID", ""),
        client_secret=env.get("DESK_GOOGLE_CLIENT_SECRET", ""),
        scopes=scopes,
        category_id=category,
        upload_chunk_bytes=chunk,
        upload_retries=_int(env, "DESK_YOUTUBE_UPLOAD_RETRIES", YouTubeSettings.upload_retries, minimum=0),
        retry_wait=_float(env, "DESK_YOUTUBE_RETRY_WAIT", YouTubeSettings.retry_wait),
        find_window_hours=_float(env, "DESK_YOUTUBE_FIND_WINDOW_HOURS", YouTubeSettings.find_window_hours),
    )


def for_settings(settings) -> YouTubeSettings:
    """YouTube's settings for the desk's Settings: ready-made on `settings.platforms` when the desk built
    them, else from `settings.extra["platform_env"]` (tests), else from the process environment."""
    ready = getattr(getattr(settings, "platforms", None), "youtube", None)
    if isinstance(ready, YouTubeSettings):
        return ready
    extra = getattr(settings, "extra", None) or {}
    env = extra.get("platform_env")
    return youtube_settings(env if isinstance(env, Mapping) else os.environ)
