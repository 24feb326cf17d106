"""Settings read from DESK_* environment variables (and a .env file when present)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .domain.audit_anchors import parse_server, parse_sink
from .domain.lateness import DEFAULT_LATE_AFTER_MINUTES
from .domain.media_types import DEFAULT_MAX_IMAGE_PIXELS, PILLOW_MAX_IMAGE_PIXELS
from .domain.sign_in_sessions import DEFAULT_IDLE_MINUTES, DEFAULT_MAX_HOURS

# Below a megapixel the limit would refuse every phone's photos: a mistake, not a policy.
MIN_IMAGE_PIXELS_SETTING = 1_000_000

DEV_SECRET = "dev-only-not-secret"
# A key signs or seals what an attacker would like to forge; 32 characters of token_urlsafe carry 192 bits.
MIN_KEY_LENGTH = 32
MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class ConfigError(RuntimeError):
    """The desk cannot start with the settings it was given."""


def require_long_key(env: dict, name: str, minimum: int = MIN_KEY_LENGTH) -> str:
    """The key in `name` ("" when unset); in production, refused when shorter than `minimum` (spaces around
    it not counted). The message gives the lengths, never the key, since it ends up in logs."""
    key = env.get(name) or ""
    length = len(key.strip())
    if key and length < minimum and env.get("DESK_ENV", "development") == "production":
        raise ConfigError(f"{name} has {length} characters; in production it needs at least {minimum}, "
                          f"or it can be guessed. Make a new one with {MAKE_A_KEY}.")
    return key


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None


@dataclass
class Settings:
    database_url: str
    secret_key: str
    timezone: str = "Europe/London"
    env: str = "development"
    media_dir: str = ""
    worker_tick_seconds: int = 2
    worker_batch_size: int = 20
    max_attempts: int = 5
    retry_base_seconds: int = 30
    lease_seconds: int = 120
    # Platform calls one worker process makes at once (its thread pool).
    worker_pool_size: int = 8
    # How often a worker says it is alive and extends the leases of the calls it has in flight;
    # None: a quarter of the lease, so a live worker renews three times before its lease could run out.
    worker_heartbeat_seconds: int | None = None
    # How late is too late by default: a held post released later than this waits for a person.
    late_after_minutes: int = DEFAULT_LATE_AFTER_MINUTES
    # The most pixels a photo may have (all frames of an animation together); larger ones are refused
    # before they are decoded, since decoding costs about 4 bytes a pixel.
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    # A sign-in session ends after this long without use, and this long after signing in whatever its use.
    session_idle_minutes: int = DEFAULT_IDLE_MINUTES
    session_max_hours: int = DEFAULT_MAX_HOURS
    # The audit trail's HMAC key (never stored in the database), and where its head is anchored: "" for none.
    audit_key: str = ""
    audit_anchor: str = ""
    # The mail server (HOST:PORT) and sender for anchors sent by e-mail.
    smtp_server: str = "localhost:25"
    mail_from: str = "desk@localhost"
    # Reverse proxies in front of the desk whose X-Forwarded-* headers are believed: 0 believes none.
    trusted_proxies: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.worker_heartbeat_seconds is None:
            self.worker_heartbeat_seconds = max(1, self.lease_seconds // 4)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_dotenv_if_present(path: str | os.PathLike = ".env") -> None:
    """Read a .env file without overriding what the environment already says."""
    if Path(path).is_file():
        from dotenv import load_dotenv

        load_dotenv(path, override=False)


def settings_from_env(instance_path: str, env: dict | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    desk_env = env.get("DESK_ENV", "development")
    if desk_env not in ("development", "production"):
        raise ConfigError(f"DESK_ENV must be 'development' or 'production', not {desk_env!r}.")
    secret = require_long_key(env, "DESK_SECRET_KEY")
    if not secret:
        if desk_env != "development":
            raise ConfigError(
                "DESK_SECRET_KEY is not set. Outside development the desk refuses to start "
                f"without it: set it to a long random string ({MAKE_A_KEY})."
            )
        secret = DEV_SECRET
    tz = env.get("DESK_TIMEZONE", "Europe/London")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"DESK_TIMEZONE {tz!r} is not a known time zone (e.g. Europe/London).") from None
    db_url = env.get("DESK_DATABASE_URL") or "sqlite:///" + os.path.join(instance_path, "desk.sqlite")
    media = env.get("DESK_MEDIA_DIR") or os.path.join(instance_path, "media")
    lease = _int(env, "DESK_LEASE_SECONDS", 120)
    pool = _int(env, "DESK_WORKER_POOL_SIZE", 8)
    heartbeat = _int(env, "DESK_WORKER_HEARTBEAT_SECONDS", max(1, lease // 4))
    if lease < 2 or pool < 1 or heartbeat < 1:
        raise ConfigError("DESK_LEASE_SECONDS must be at least 2, DESK_WORKER_POOL_SIZE and "
                          "DESK_WORKER_HEARTBEAT_SECONDS at least 1.")
    if heartbeat >= lease:
        raise ConfigError(f"DESK_WORKER_HEARTBEAT_SECONDS ({heartbeat}) must be shorter than DESK_LEASE_SECONDS "
                          f"({lease}): a live worker must renew its leases before they run out.")
    max_pixels = _int(env, "DESK_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS)
    if not MIN_IMAGE_PIXELS_SETTING <= max_pixels <= PILLOW_MAX_IMAGE_PIXELS:
        raise ConfigError(f"DESK_MAX_IMAGE_PIXELS ({max_pixels:,}) must be at least {MIN_IMAGE_PIXELS_SETTING:,} "
                          f"(a smaller limit refuses ordinary phone photos) and at most {PILLOW_MAX_IMAGE_PIXELS:,}, "
                          "where Pillow, which decodes the photos, takes an image for a decompression bomb. "
                          f"The default, {DEFAULT_MAX_IMAGE_PIXELS:,}, takes a 61-megapixel camera's photos.")
    idle = _int(env, "DESK_SESSION_IDLE_MINUTES", DEFAULT_IDLE_MINUTES)
    max_hours = _int(env, "DESK_SESSION_MAX_HOURS", DEFAULT_MAX_HOURS)
    if idle < 1 or max_hours < 1 or idle > max_hours * 60:
        raise ConfigError(f"DESK_SESSION_IDLE_MINUTES ({idle}) and DESK_SESSION_MAX_HOURS ({max_hours}) must be at "
                          "least 1, and the idle timeout no longer than the whole session.")
    proxies = _int(env, "DESK_TRUSTED_PROXIES", 0)
    if not 0 <= proxies <= 5:
        raise ConfigError(f"DESK_TRUSTED_PROXIES ({proxies}) is how many reverse proxies stand in front of the desk "
                          "(usually 1): from 0 to 5.")
    anchor = (env.get("DESK_AUDIT_ANCHOR") or "").strip()
    smtp = (env.get("DESK_SMTP_SERVER") or "localhost:25").strip()
    try:
        if anchor:
            parse_sink(anchor)
        parse_server(smtp)
    except ValueError as exc:  # the message names the variable and the forms it takes
        raise ConfigError(str(exc)) from None
    return Settings(
        database_url=db_url,
        secret_key=secret,
        trusted_proxies=proxies,
        timezone=tz,
        env=desk_env,
        media_dir=media,
        worker_tick_seconds=_int(env, "DESK_WORKER_TICK_SECONDS", 2),
        worker_batch_size=_int(env, "DESK_WORKER_BATCH_SIZE", 20),
        max_attempts=_int(env, "DESK_MAX_ATTEMPTS", 5),
        retry_base_seconds=_int(env, "DESK_RETRY_BASE_SECONDS", 30),
        lease_seconds=lease,
        worker_pool_size=pool,
        worker_heartbeat_seconds=heartbeat,
        late_after_minutes=_int(env, "DESK_LATE_AFTER_MINUTES", DEFAULT_LATE_AFTER_MINUTES),
        session_idle_minutes=idle,
        session_max_hours=max_hours,
        max_image_pixels=max_pixels,
        audit_key=require_long_key(env, "DESK_AUDIT_KEY"),
        audit_anchor=anchor,
        smtp_server=smtp,
        mail_from=(env.get("DESK_MAIL_FROM") or "desk@localhost").strip(),
    )
