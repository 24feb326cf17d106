"""SQLAlchemy 2 typed models: the desk's tables. Rules live in the domain modules, not here."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base, UTCDateTime

ROLES = ("author", "approver", "unit_admin")
PLATFORMS = ("training", "x", "facebook", "youtube", "flickr")
CHANNEL_STATUSES = ("active", "needs_reconnect", "dormant", "archived")


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Governance policy: how long an approved access grant lasts, and whether a unit role alone
    # (without a business-case grant) lets a person draft or approve for the unit's channels.
    grant_period_days: Mapped[int] = mapped_column(Integer, default=182, server_default="182")
    roles_grant_access: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The unit's screening policy as JSON: severity overrides, operational-security terms and
    # patterns, allowed link domains, phone numbers and phrases.
    screening_policy: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")

    channels: Mapped[list[Channel]] = relationship(back_populates="unit", order_by="Channel.name")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_auditor: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    line_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Two-factor sign-in: the TOTP secret (Fernet-encrypted), and the last time step accepted, so
    # that a code is refused a second time whichever process sees it.
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    line_manager: Mapped[User | None] = relationship(remote_side="User.id")
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles_by_unit(self) -> dict[int, set[str]]:
        roles: dict[int, set[str]] = {}
        for m in self.memberships:
            roles.setdefault(m.unit_id, set()).add(m.role)
        return roles

    # Flask-Login's protocol, kept here so that the web layer needs no wrapper class.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "unit_id", "role", name="uq_memberships_user_unit_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    role: Mapped[str] = mapped_column(String(20))

    user: Mapped[User] = relationship(back_populates="memberships")
    unit: Mapped[Unit] = relationship(lazy="joined", innerjoin=True)


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    platform: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    approvals_required: Mapped[int] = mapped_column(Integer, default=1)
    remote_account_id: Mapped[str | None] = mapped_column(String(200))
    remote_name: Mapped[str | None] = mapped_column(String(200))
    remote_handle: Mapped[str | None] = mapped_column(String(200))
    # Fernet-encrypted JSON; never rendered, logged or audited.
    credentials: Mapped[str | None] = mapped_column(Text)
    live_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    live_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # An event feed runs only while its operation is on (live_from .. live_until).
    is_event_feed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    operation_name: Mapped[str | None] = mapped_column(String(200))
    closing_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How late is too late: a held post whose time passed more than this many minutes ago waits for a
    # person instead of going out by itself when the channel can publish again (None: the desk default).
    late_after_minutes: Mapped[int | None] = mapped_column(Integer)
    # Pacing: no call to the platform before next_send_at; what its last answer said of the budget left.
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rate_remaining: Mapped[int | None] = mapped_column(Integer)
    rate_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship(back_populates="channels", lazy="joined", innerjoin=True)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("series_id", "occurrence_at", name="uq_posts_series_occurrence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    rejection_comment: Mapped[str | None] = mapped_column(Text)
    retraction_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the post was made from a pre-approved template: which version, with which values.
    template_id: Mapped[int | None] = mapped_column(ForeignKey("post_templates.id"))
    template_version: Mapped[int | None] = mapped_column(Integer)
    template_values: Mapped[str | None] = mapped_column(Text)
    # A recurring series: a cron-like rule read in the desk's time zone, and how far ahead its
    # occurrences have been made. Each occurrence is a post of its own (series_id, occurrence_at)
    # that goes out on the series' approval of the same content hash.
    recurrence_rule: Mapped[str | None] = mapped_column(String(120))
    recurrence_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recurrence_generated_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    series_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"), index=True)
    occurrence_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    targets: Mapped[list[Target]] = relationship(
        back_populates="post", cascade="all, delete-orphan", order_by="Target.id", lazy="selectin"
    )
    approvals: Mapped[list[Approval]] = relationship(
        back_populates="post", order_by="Approval.id", lazy="selectin"
    )


class Target(Base):
    """One post on one channel: the unit the worker publishes."""

    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("post_id", "channel_id", name="uq_targets_post_channel"),
        Index("ix_targets_due", "status", "scheduled_at"),
        # The worker asks per channel: is a call in flight, what is due (claiming, pacing, reconciling).
        Index("ix_targets_channel_status", "channel_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    text: Mapped[str | None] = mapped_column(Text)  # None: the post's body
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: as soon as approved
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remote_id: Mapped[str | None] = mapped_column(String(200))
    remote_url: Mapped[str | None] = mapped_column(String(2000))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error_class: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    held_reason: Mapped[str | None] = mapped_column(Text)
    # Per-platform fields as canonical JSON: title, description, tags, privacy.
    extra: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")

    post: Mapped[Post] = relationship(back_populates="targets")
    media_links: Mapped[list[TargetMedia]] = relationship(
        cascade="all, delete-orphan", order_by="TargetMedia.position", lazy="selectin")
    channel: Mapped[Channel] = relationship(lazy="joined", innerjoin=True)

    @property
    def effective_text(self) -> str:
        return self.text if self.text else (self.post.body if self.post else "")


class Media(Base):
    """A stored file, kept by content hash; the published copy is cleaned of location and device data."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column()
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    original_path: Mapped[str] = mapped_column(String(500))
    published_path: Mapped[str] = mapped_column(String(500))
    # A photo's thumbnail, made once from the published copy at upload; None for a video, and for a photo
    # stored before thumbnails were kept (it gets one at its first view).
    thumbnail_path: Mapped[str | None] = mapped_column(String(500))
    alt_text: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TargetMedia(Base):
    __tablename__ = "target_media"
    __table_args__ = (UniqueConstraint("target_id", "media_id", name="uq_target_media_target_media"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"), index=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)

    media: Mapped[Media] = relationship(lazy="joined", innerjoin=True)


class ConnectionAttempt(Base):
    """An OAuth consent under way: what must survive the trip to the platform, kept server-side."""

    __tablename__ = "connection_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))  # set when reconnecting
    pending: Mapped[str] = mapped_column(Text)  # Fernet-encrypted JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Approval(Base):
    """A decision on one exact version of a post, bound to its content hash."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(10))  # approve | reject
    content_hash: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    # Channel ids this approver could approve for when deciding, comma-separated.
    scope: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The screening warnings the approver ticked as read, as JSON findings.
    acknowledged_findings: Mapped[str | None] = mapped_column(Text)

    post: Mapped[Post] = relationship(back_populates="approvals")
    approver: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class PublishAttempt(Base):
    """One call to a platform, recorded before the call and completed after it."""

    __tablename__ = "publish_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Indexed: the status page counts the last 24 hours' failures in a table that grows for ever.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str | None] = mapped_column(Text)


class StrayCopy(Base):
    """A second copy of a target's post on its platform: a worker sent it after another had taken the target
    over and published it (the first was frozen, or cut off from the database, in the middle of its call).
    Listed on the post's page and the status page until a person removes it."""

    __tablename__ = "stray_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("publish_attempts.id"))
    worker: Mapped[str] = mapped_column(String(100))
    remote_id: Mapped[str] = mapped_column(String(200))
    remote_url: Mapped[str | None] = mapped_column(String(2000))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Indexed: the status page lists the copies not yet removed, in a table that only grows.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    target: Mapped[Target] = relationship(lazy="joined", innerjoin=True)


class Worker(Base):
    """A worker process as it reports itself: its heartbeat is what tells a live worker from a dead one."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # host:pid:nonce
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    pool_size: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    in_flight: Mapped[int] = mapped_column(Integer, default=0)
    last_pass_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class TrainingPublication(Base):
    """What the built-in training channel 'published': the desk is its own platform."""

    __tablename__ = "training_publications"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    remote_id: Mapped[str] = mapped_column(String(64), unique=True)
    target_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2000))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class SignInSession(Base):
    """One sign-in in one browser: the cookie names it (by a token whose hash is kept here), the server ends it."""

    __tablename__ = "sign_in_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(64))
    browser: Mapped[str | None] = mapped_column(String(200))


class AuditEvent(Base):
    """Append-only, hash-chained record of every state change and refusal."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(254))  # e-mail or 'worker:<id>' at the time
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    channel_id: Mapped[int | None] = mapped_column(Integer, index=True)
    post_id: Mapped[int | None] = mapped_column(Integer, index=True)
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 of `hash` under DESK_AUDIT_KEY, which the database never holds; None for rows written
    # before the key was set (see domain/audit_keys.py).
    mac: Mapped[str | None] = mapped_column(String(64))


class AccessGrant(Base):
    """A person's right to draft or approve for one channel, asked for with a business case and decided
    by their line manager (or the unit's administrators when they have none); it expires."""

    __tablename__ = "access_grants"
    __table_args__ = (Index("ix_access_grants_user_channel", "user_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # author | approver
    business_case: Mapped[str] = mapped_column(Text)
    period_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending approved refused revoked
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decider_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_comment: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expiry_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined", innerjoin=True)
    channel: Mapped[Channel] = relationship(lazy="joined", innerjoin=True)


class PostTemplate(Base):
    """Pre-approved text with named fields, for operational updates during an event."""

    __tablename__ = "post_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)          # text with {field} placeholders
    fields: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [{name, label, type, limit, choices}]
    channel_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of the unit's channels
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft approved suspended
    version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RecoveryCode(Base):
    """A one-time code for when the authenticator is lost; only its hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Pause(Base):
    """An emergency stop: the whole desk (unit_id None) or one unit publishes nothing until resumed."""

    __tablename__ = "pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    reason: Mapped[str] = mapped_column(Text)
    paused_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resumed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
