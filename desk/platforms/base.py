"""The one interface every platform adapter implements, its vocabulary, and the registry."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

# Error classes: what the worker does about a failure depends only on these.
TRANSIENT = "transient"        # the request never took effect: retry with backoff
RATE_LIMITED = "rate_limited"  # retry no sooner than retry_after
AUTH = "auth"                  # the channel must be reconnected: hold its targets
PERMANENT = "permanent"        # retrying will not help: fail, in words
AMBIGUOUS = "ambiguous"        # it may have been published: reconcile, never blindly retry
ERROR_CLASSES = (TRANSIENT, RATE_LIMITED, AUTH, PERMANENT, AMBIGUOUS)
NOT_BEFORE_MARGIN_SECONDS = 600


@dataclass(frozen=True)
class MediaItem:
    """One stored file to upload: the cleaned copy on disk, checked by its content, not its name."""

    path: str
    mime_type: str          # from the file's magic bytes, e.g. image/jpeg, video/mp4
    size: int               # bytes
    filename: str = ""      # the name the person uploaded, for titles and messages only
    duration: float | None = None  # seconds, videos only
    alt_text: str = ""

    @property
    def is_video(self) -> bool:
        return self.mime_type.startswith("video/")

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


@dataclass(frozen=True)
class Content:
    """What goes out on one channel: the words, the link, the media, platform extras.

    `extra` holds the per-platform fields a press officer fills in, all optional:
    title, description, tags (list of str), privacy ('public'|'unlisted'|'private' on YouTube;
    'public'|'friends'|'family'|'private' on Flickr).
    """

    text: str
    link: str | None = None
    media: tuple[MediaItem, ...] = ()
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


@dataclass(frozen=True)
class RemoteRef:
    id: str
    url: str | None = None


@dataclass(frozen=True)
class PublishRequest:
    """A claimed target as the adapter sees it: plain values, no database rows."""

    target_id: int
    channel_id: int
    content: Content
    marker: str  # idempotency marker used to find the post again after a crash
    # When the first attempt began (UTC): a post the platform holds from before then is not this one (a
    # daily update says the same words every day), so reconciliation looks no further back, less a margin
    # for the platform's clock.
    not_before: datetime | None = None

    # The worker's fence, called right before the one request that creates the post (after every media
    # upload): it raises ClaimLost when this worker may no longer send it, and otherwise returns the
    # timeout that request may take. None outside the worker (a check, a test): nothing to ask.
    fence: Callable[[tuple[float, float]], tuple[float, float]] | None = field(default=None, compare=False,
                                                                                repr=False)

    def before_create(self, timeout: tuple[float, float]) -> tuple[float, float]:
        """Every adapter calls this right before the request that creates the post, and gives that request
        the timeout it returns. Uploads before it may be repeated; that request cannot be taken back."""
        return timeout if self.fence is None else self.fence(timeout)

    def earliest(self, default: float) -> float:
        """The Unix time from which a matching post may be this one: `default` (the adapter's own window)
        or the first attempt's start less ten minutes, whichever is later."""
        if self.not_before is None:
            return default
        return max(default, self.not_before.timestamp() - NOT_BEFORE_MARGIN_SECONDS)


@dataclass(frozen=True)
class AuthorizationStart:
    """Where to send the administrator, and what to keep server-side until the platform sends them back
    (an OAuth 1.0a request-token secret, a PKCE code verifier): never in the browser's cookie."""

    url: str
    pending: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class RemoteAccount:
    """An account the consent gave the desk: each becomes one channel with its own credentials
    (a Facebook login yields one per Page the administrator picks; the others yield one)."""

    id: str
    name: str
    handle: str | None = None
    credentials: dict = field(default_factory=dict, repr=False)
    details: dict = field(default_factory=dict)  # e.g. a Page's category and tasks


class ClaimLost(Exception):
    """Raised by the fence: this worker may not send the post (its claim was taken over, its lease is
    running out, or the database did not answer). Nothing was sent; adapters let it through untouched."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PlatformError(Exception):
    def __init__(self, error_class: str, message: str, *, code: str | None = None,
                 retry_after: float | None = None):
        assert error_class in ERROR_CLASSES, error_class
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.code = code
        self.retry_after = retry_after


@dataclass
class PlatformContext:
    """What an adapter may use: settings, the session factory (training only), timeouts."""

    settings: Any
    session_factory: Any = None
    timeout: tuple[float, float] = (5.0, 30.0)


class Publisher:
    platform: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def __init__(self, channel, context: PlatformContext):
        self.channel = channel
        self.context = context

    @classmethod
    def validate(cls, content: Content) -> list[Problem]:
        raise NotImplementedError

    def publish(self, request: PublishRequest) -> RemoteRef:
        raise NotImplementedError

    def delete(self, ref: RemoteRef) -> None:
        raise NotImplementedError

    def fetch_metrics(self, ref: RemoteRef) -> dict[str, int]:
        raise NotImplementedError

    def find_published(self, request: PublishRequest) -> RemoteRef | None:
        raise NotImplementedError

    def credentials(self):
        """The channel's tokens, decrypted; a channel without readable ones must be (re)connected."""
        from .. import crypto

        if self.channel is None or not self.channel.credentials:
            raise PlatformError(AUTH, f"This {self.label} channel is not connected yet: an administrator must "
                                "connect it.", code="not-connected")
        try:
            return crypto.decrypt_json(self.channel.credentials)
        except crypto.CredentialsUnreadable as exc:
            raise PlatformError(AUTH, str(exc), code="credentials-unreadable") from None

    def store_credentials(self, credentials: dict) -> None:
        """Keep refreshed tokens at once, encrypted: the platform may not honour the old ones again."""
        if self.channel is None:
            return  # still connecting: the caller stores what complete_authorization returns
        from sqlalchemy import update

        from .. import crypto
        from ..models import Channel

        encrypted = crypto.encrypt_json(credentials)
        self.channel.credentials = encrypted
        if self.context.session_factory is not None and getattr(self.channel, "id", None) is not None:
            with self.context.session_factory() as session:
                session.execute(update(Channel).where(Channel.id == self.channel.id).values(credentials=encrypted))
                session.commit()

    # OAuth steps; a platform without a consent flow (training) keeps these defaults. For connecting,
    # the adapter is built with channel=None: there is no channel until the consent comes back.
    def authorization_url(self, callback_url: str, state: str) -> AuthorizationStart:
        raise PlatformError(PERMANENT, f"{self.label} channels need no connection.")

    def complete_authorization(self, callback_args: dict, pending: dict) -> list[RemoteAccount]:
        """Exchange what the platform sent back (code, verifier, state...) for the accounts granted."""
        raise PlatformError(PERMANENT, f"{self.label} channels need no connection.")

    def refresh(self) -> dict | None:
        """New credentials for the channel (OAuth 2.0 refresh), or None where the platform has none."""
        return None


_REGISTRY: dict[str, type[Publisher]] = {}


def register(cls: type[Publisher]) -> type[Publisher]:
    _REGISTRY[cls.platform] = cls
    return cls


def publisher_class(platform: str) -> type[Publisher]:
    try:
        return _REGISTRY[platform]
    except KeyError:
        raise PlatformError(PERMANENT, f"The desk cannot publish to '{platform}' yet.") from None


def registered_platforms() -> list[str]:
    return sorted(_REGISTRY)


def publisher_for(channel, context: PlatformContext) -> Publisher:
    return publisher_class(channel.platform)(channel, context)
