"""Each platform's endpoints and application credentials, read from DESK_<PLATFORM>_* variables.

Every endpoint is configurable so that tests, and a force's own proxy, can point the real client code
elsewhere. A platform whose application credentials are not set is "not configured": the desk shows it
as such, with the names of the variables to set, rather than failing.

Where the variables come from: `settings.platforms` when the desk's Settings carries them, else the
mapping in `settings.extra["platform_env"]` (tests), else the process environment.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError

X_SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
X_AUTH_MODES = ("oauth1", "oauth2")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}.") from None
    if value < 0:
        raise ConfigError(f"{name} cannot be negative ({raw!r}).")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum} ({raw!r}).")
    return value


class AppCredentials:
    """What every platform's settings say about its application credentials: which variables are still
    to set, and the one message that tells an administrator where to get them."""

    label = ""
    where_to_get = ""  # in words: what to register, and where

    def required(self) -> tuple[tuple[str, str], ...]:
        """(variable, value) pairs the platform cannot connect without."""
        raise NotImplementedError

    @property
    def missing(self) -> list[str]:
        return [name for name, value in self.required() if not value]

    @property
    def configured(self) -> bool:
        return not self.missing

    @property
    def not_configured_message(self) -> str:
        if self.configured:
            return ""
        return (f"{self.label} is not configured: set " + " and ".join(self.missing) + f" ({self.where_to_get}), "
                "then restart the desk.")


@dataclass(frozen=True)
class XSettings(AppCredentials):
    api_base: str = "https://api.x.com"
    authorize_url: str = "https://x.com/i/oauth2/authorize"
    web_base: str = "https://x.com"
    auth_mode: str = "oauth1"
    consumer_key: str = field(default="", repr=False)
    consumer_secret: str = field(default="", repr=False)
    client_id: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    scopes: tuple[str, ...] = X_SCOPES
    upload_chunk_bytes: int = 4 * 1024 * 1024
    media_poll_max_wait: float = 30.0  # seconds between two status checks, at most
    media_processing_timeout: float = 600.0

    label = "X"
    where_to_get = "the app's API key and secret from the X developer portal, OAuth 1.0a with read and write permission"

    def required(self) -> tuple[tuple[str, str], ...]:
        if self.auth_mode == "oauth2":
            return (("DESK_X_CLIENT_ID", self.client_id),)
        return (("DESK_X_CONSUMER_KEY", self.consumer_key), ("DESK_X_CONSUMER_SECRET", self.consumer_secret))

    @property
    def not_configured_message(self) -> str:
        if self.configured:
            return ""
        if self.auth_mode == "oauth2":
            return ("X is not configured for OAuth 2.0: set DESK_X_CLIENT_ID (and DESK_X_CLIENT_SECRET for a "
                    "confidential client) from the X developer portal, then restart the desk.")
        return (super().not_configured_message + " Or set DESK_X_AUTH=oauth2 with DESK_X_CLIENT_ID to "
                "connect with OAuth 2.0.")


def x_settings(env: Mapping[str, str]) -> XSettings:
    mode = (env.get("DESK_X_AUTH") or "").strip().lower()
    if not mode:
        # OAuth 1.0a user context is the default; OAuth 2.0 when only its client id is given.
        mode = "oauth2" if env.get("DESK_X_CLIENT_ID") and not env.get("DESK_X_CONSUMER_KEY") else "oauth1"
    if mode not in X_AUTH_MODES:
        raise ConfigError(f"DESK_X_AUTH must be 'oauth1' or 'oauth2', not {mode!r}.")
    scopes = tuple((env.get("DESK_X_SCOPES") or " ".join(X_SCOPES)).split())
    return XSettings(
        api_base=(env.get("DESK_X_API_BASE") or XSettings.api_base).rstrip("/"),
        authorize_url=env.get("DESK_X_AUTHORIZE_URL") or XSettings.authorize_url,
        web_base=(env.get("DESK_X_WEB_BASE") or XSettings.web_base).rstrip("/"),
        auth_mode=mode,
        consumer_key=env.get("DESK_X_CONSUMER_KEY", ""),
        consumer_secret=env.get("DESK_X_CONSUMER_SECRET", ""),
        client_id=env.get("DESK_X_CLIENT_ID", ""),
        client_secret=env.get("DESK_X_CLIENT_SECRET", ""),
        scopes=scopes,
        upload_chunk_bytes=_int(env, "DESK_X_UPLOAD_CHUNK_BYTES", XSettings.upload_chunk_bytes),
        media_poll_max_wait=_float(env, "DESK_X_MEDIA_POLL_MAX_WAIT", XSettings.media_poll_max_wait),
        media_processing_timeout=_float(env, "DESK_X_MEDIA_PROCESSING_TIMEOUT", XSettings.media_processing_timeout),
    )


# Each of these platforms reads its own settings in `<name>_settings.py`, with a `<name>_settings(env)` reader.
OTHER_PLATFORMS = ("facebook", "youtube", "flickr")


@dataclass(frozen=True)
class PlatformSettings:
    x: XSettings
    facebook: Any = None  # FacebookSettings, YouTubeSettings, FlickrSettings: None where not installed
    youtube: Any = None
    flickr: Any = None

    def not_configured(self) -> dict[str, str]:
        """Platform -> what to set, for every platform that is not configured."""
        every = (("x", self.x),) + tuple((name, getattr(self, name)) for name in OTHER_PLATFORMS)
        return {name: s.not_configured_message for name, s in every if s is not None and not s.configured}


def _other_settings(env: Mapping[str, str]) -> dict[str, Any]:
    found = {}
    for name in OTHER_PLATFORMS:
        module_name = f"{__package__}.{name}_settings"
        try:  # imported here, not at the top: those modules import this one's helpers
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        found[name] = getattr(module, f"{name}_settings")(env)
    return found


def platform_settings(env: Mapping[str, str] | None = None) -> PlatformSettings:
    env = os.environ if env is None else env
    return PlatformSettings(x=x_settings(env), **_other_settings(env))


def for_settings(settings) -> PlatformSettings:
    """The platform settings that go with the desk's Settings object (see the module docstring)."""
    ready = getattr(settings, "platforms", None)
    if isinstance(ready, PlatformSettings):
        return ready
    extra = getattr(settings, "extra", None) or {}
    if isinstance(extra.get("platform_env"), Mapping):
        return platform_settings(extra["platform_env"])
    return platform_settings()
