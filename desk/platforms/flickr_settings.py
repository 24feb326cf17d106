"""Flickr's endpoints and application credentials, read from DESK_FLICKR_* variables.

The defaults are Flickr's own addresses (as flickrapi uses them); each can point elsewhere, so that tests
and a force's own proxy run the real client code against another server. Without DESK_FLICKR_API_KEY and
DESK_FLICKR_API_SECRET Flickr is "not configured": the desk says what to set instead of failing.

Where the variables come from, as for every platform (see platform_settings): the desk's ready-made
platform settings when they carry Flickr's, else settings.extra["platform_env"] (tests), else the process
environment.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .platform_settings import AppCredentials, _float, _int

# Flickr's OAuth 1.0a permission levels: read < write < delete. Retracting a post deletes the photo,
# and a token granted only "write" cannot do that, so the desk always asks for "delete".
PERMS = "delete"


@dataclass(frozen=True)
class FlickrSettings(AppCredentials):
    oauth_base: str = "https://www.flickr.com/services/oauth"   # /request_token, /authorize, /access_token
    upload_url: str = "https://up.flickr.com/services/upload/"
    rest_url: str = "https://api.flickr.com/services/rest/"
    web_base: str = "https://www.flickr.com"                    # the photo pages: /photos/<nsid>/<id>/
    api_key: str = field(default="", repr=False)
    api_secret: str = field(default="", repr=False)
    upload_block_bytes: int = 256 * 1024       # how much of a photo is read into memory at a time
    find_window_days: float = 30.0             # how far back reconciliation looks for a lost upload
    find_max_pages: int = 5                    # of 100 photos each

    label = "Flickr"
    where_to_get = ("the key and secret of an app registered in Flickr's App Garden, "
                    "https://www.flickr.com/services/apps/create/, with this desk's address as its callback")

    def required(self) -> tuple[tuple[str, str], ...]:
        return (("DESK_FLICKR_API_KEY", self.api_key), ("DESK_FLICKR_API_SECRET", self.api_secret))

    def oauth_url(self, step: str) -> str:
        return f"{self.oauth_base}/{step}"


def flickr_settings(env: Mapping[str, str]) -> FlickrSettings:
    d = FlickrSettings
    return FlickrSettings(
        oauth_base=(env.get("DESK_FLICKR_OAUTH_BASE") or d.oauth_base).rstrip("/"),
        upload_url=env.get("DESK_FLICKR_UPLOAD_URL") or d.upload_url,
        rest_url=env.get("DESK_FLICKR_REST_URL") or d.rest_url,
        web_base=(env.get("DESK_FLICKR_WEB_BASE") or d.web_base).rstrip("/"),
        api_key=(env.get("DESK_FLICKR_API_KEY") or "").strip(),
        api_secret=(env.get("DESK_FLICKR_API_SECRET") or "").strip(),
        upload_block_bytes=_int(env, "DESK_FLICKR_UPLOAD_BLOCK_BYTES", d.upload_block_bytes),
        find_window_days=_float(env, "DESK_FLICKR_FIND_WINDOW_DAYS", d.find_window_days),
        find_max_pages=_int(env, "DESK_FLICKR_FIND_MAX_PAGES", d.find_max_pages),
    )


def flickr_settings_for(settings) -> FlickrSettings:
    """Flickr's settings that go with the desk's Settings object (see the module docstring)."""
    ready = getattr(getattr(settings, "platforms", None), "flickr", None)
    if isinstance(ready, FlickrSettings):
        return ready
    extra = getattr(settings, "extra", None) or {}
    if isinstance(extra.get("platform_env"), Mapping):
        return flickr_settings(extra["platform_env"])
    return flickr_settings(os.environ)
