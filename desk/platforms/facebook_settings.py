"""Facebook's endpoints, app credentials and limits, read from DESK_FACEBOOK_* variables.

Same shape as XSettings (platform_settings.py), kept here so the Facebook adapter is one self-contained set
of modules; the lead wires it into PlatformSettings. Variables come from the same place as the other
platforms': `settings.platforms.facebook` when the desk's Settings carries it, else the mapping in
`settings.extra["platform_env"]` (tests, and the app), else the process environment.

DESK_FACEBOOK_API_VERSION is a setting because Meta retires each Graph API version about two years after
it comes out: moving to a newer one is a configuration change, not a code change. DESK_FACEBOOK_DIALOG_URL
defaults to the login dialog of that version. Videos go to DESK_FACEBOOK_VIDEO_BASE (graph-video, as the
Graph API's video upload guide says); Meta's newer Video API overview calls that host deprecated in favour
of graph.facebook.com, so if Facebook ever refuses it, set DESK_FACEBOOK_VIDEO_BASE=https://graph.facebook.com.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config import ConfigError
from .platform_settings import AppCredentials, _float

API_VERSION = "v26.0"  # the newest Graph API version when this was written (introduced 29 July 2026)
# What a Page channel needs: list the administrator's Pages, publish as them, read their posts and counts,
# and upload videos (Meta asks for publish_video on top of the Page permissions for that).
SCOPES = ("pages_show_list", "pages_manage_posts", "pages_read_engagement", "publish_video")
# Without these a Page cannot be a channel at all; publish_video only matters for videos.
REQUIRED_SCOPES = ("pages_show_list", "pages_manage_posts", "pages_read_engagement")
_VERSION = re.compile(r"v\d+\.\d+")


@dataclass(frozen=True)
class FacebookSettings(AppCredentials):
    graph_base: str = "https://graph.facebook.com"
    video_base: str = "https://graph-video.facebook.com"
    dialog_url: str = f"https://www.facebook.com/{API_VERSION}/dialog/oauth"
    web_base: str = "https://www.facebook.com"
    api_version: str = API_VERSION
    app_id: str = field(default="", repr=False)
    app_secret: str = field(default="", repr=False)
    scopes: tuple[str, ...] = SCOPES
    find_window_hours: float = 72.0   # how far back reconciliation looks for a post
    post_views_metric: str = "post_media_view"  # Meta replaced post_impressions with it in November 2025

    label = "Facebook"
    where_to_get = ("the App ID and App Secret of a Meta app of type Business with Facebook Login, from "
                    "developers.facebook.com > your app > App settings > Basic")

    def required(self) -> tuple[tuple[str, str], ...]:
        return (("DESK_FACEBOOK_APP_ID", self.app_id), ("DESK_FACEBOOK_APP_SECRET", self.app_secret))

    def graph(self, path: str) -> str:
        return f"{self.graph_base}/{self.api_version}{path}"

    def video(self, path: str) -> str:
        return f"{self.video_base}/{self.api_version}{path}"


def facebook_settings(env: Mapping[str, str]) -> FacebookSettings:
    version = (env.get("DESK_FACEBOOK_API_VERSION") or API_VERSION).strip()
    if not _VERSION.fullmatch(version):
        raise ConfigError(f"DESK_FACEBOOK_API_VERSION must look like {API_VERSION}, not {version!r}.")
    scopes = tuple(s for s in re.split(r"[\s,]+", env.get("DESK_FACEBOOK_SCOPES") or ",".join(SCOPES)) if s)
    return FacebookSettings(
        graph_base=(env.get("DESK_FACEBOOK_GRAPH_BASE") or FacebookSettings.graph_base).rstrip("/"),
        video_base=(env.get("DESK_FACEBOOK_VIDEO_BASE") or FacebookSettings.video_base).rstrip("/"),
        dialog_url=env.get("DESK_FACEBOOK_DIALOG_URL") or f"https://www.facebook.com/{version}/dialog/oauth",
        web_base=(env.get("DESK_FACEBOOK_WEB_BASE") or FacebookSettings.web_base).rstrip("/"),
        api_version=version,
        app_id=(env.get("DESK_FACEBOOK_APP_ID") or "").strip(),
        app_secret=(env.get("DESK_FACEBOOK_APP_SECRET") or "").strip(),
        scopes=scopes,
        find_window_hours=_float(env, "DESK_FACEBOOK_FIND_WINDOW_HOURS", FacebookSettings.find_window_hours),
        post_views_metric=(env.get("DESK_FACEBOOK_POST_VIEWS_METRIC") or FacebookSettings.post_views_metric).strip(),
    )


def facebook_settings_for(settings) -> FacebookSettings:
    """The Facebook settings that go with the desk's Settings object (see the module docstring)."""
    ready = getattr(getattr(settings, "platforms", None), "facebook", None)
    if isinstance(ready, FacebookSettings):
        return ready
    extra = getattr(settings, "extra", None) or {}
    env = extra.get("platform_env")
    return facebook_settings(env if isinstance(env, Mapping) else os.environ)
