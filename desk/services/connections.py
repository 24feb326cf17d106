"""Connecting a platform account as a channel: the administrator's side of OAuth, as use cases.

`begin` sends the administrator to the platform's consent page; `complete` takes the platform's redirect
back and makes the account a channel of the unit they chose (or, when reconnecting, gives an existing
channel new credentials); when one consent grants several accounts (a Facebook login: one per Page),
`choose_pages` makes the chosen ones channels. What must survive the trip to the platform (a request-token
secret, a PKCE verifier) and the accounts awaiting a choice stay encrypted on the ConnectionAttempt,
server-side: never in the browser, a log or the audit trail.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import crypto
from ..config import ConfigError
from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..domain.errors import DeskError, NotFound, ValidationFailed, WorkflowConflict
from ..models import Channel, ConnectionAttempt, Unit
from ..platforms import PlatformError, RemoteAccount, publisher_class, registered_platforms
from ..platforms.platform_settings import for_settings
from . import audit_trail
from .common import ensure, get_or_404, lock

ATTEMPT_LIFETIME = timedelta(minutes=15)   # from Connect to the platform's redirect back
CHOICE_LIFETIME = timedelta(minutes=30)    # from Connect to the Pages being chosen
CHOOSING = "choosing"
START_AGAIN = "Nothing was connected: start again from the Channels page."
# OAuth 1.0a platforms send back only oauth_token and oauth_verifier, so the desk's state must ride in the
# callback address itself; OAuth 2.0 ones return `state` and want the registered redirect_uri exactly.
OAUTH1_ALWAYS = frozenset({"flickr"})


class NotConfigured(ValidationFailed):
    code = "not_configured"


class ConnectionFailed(DeskError):
    """The platform refused or failed a step of the connection; the message says what to do."""

    code = "connection_failed"
    http_status = 502


class ConsentDeclined(DeskError):
    code = "consent_declined"
    http_status = 400


@dataclass(frozen=True)
class ConnectResult:
    platform: str
    message: str
    channels: list[Channel] = field(default_factory=list)
    reconnected: bool = False
    choose_state: str | None = None  # set when the administrator must pick which accounts become channels


@dataclass(frozen=True)
class PageChoice:
    """What the Page picker shows: never the credentials."""

    platform: str
    label: str
    unit: Unit
    accounts: list[dict]  # id, name, handle, details, taken (a sentence when already a channel elsewhere)


def label_of(platform: str) -> str:
    try:
        return publisher_class(platform).label or platform.title()
    except PlatformError:
        return platform.title()


def connectable_platforms() -> list[str]:
    return [p for p in registered_platforms() if p != "training"]


def not_configured(settings) -> dict[str, str]:
    """Platform -> what to set, for every connectable platform whose application credentials are missing."""
    platforms = connectable_platforms()
    try:
        missing = for_settings(settings).not_configured()
    except ConfigError as exc:
        return {p: f"The platform settings are invalid: {exc}" for p in platforms}
    return {p: missing[p] for p in platforms if p in missing}


def _state_in_callback(platform: str, settings) -> bool:
    if platform in OAUTH1_ALWAYS:
        return True
    return platform == "x" and for_settings(settings).x.auth_mode == "oauth1"


def callback_with_state(platform: str, callback_url: str, state: str, settings) -> str:
    if not _state_in_callback(platform, settings):
        return callback_url
    return callback_url + ("&" if "?" in callback_url else "?") + urlencode({"state": state})


def _cipher() -> crypto.TokenCipher:
    try:
        return crypto.current_cipher()
    except crypto.TokenKeyError as exc:
        raise NotConfigured(str(exc)) from None


def _pending(attempt: ConnectionAttempt) -> crypto.SecretDict:
    try:
        return _cipher().decrypt_json(attempt.pending)
    except crypto.CredentialsUnreadable:
        raise ConnectionFailed("The desk can no longer read this connection's secrets (was DESK_TOKEN_KEY "
                               f"changed meanwhile?). {START_AGAIN}") from None


def _audit(session, actor, action, attempt: ConnectionAttempt, now, channel_id=None, **details):
    audit_trail.record(session, actor, action, "connection", attempt.id, unit_id=attempt.unit_id,
                       channel_id=channel_id if channel_id is not None else attempt.channel_id, now=now,
                       details={"platform": attempt.platform, **details})


def _finish(session, actor, attempt: ConnectionAttempt, action: str, now, error: DeskError, **details) -> NoReturn:
    """Close the attempt (its secrets wiped), record why, commit, and raise the error for the person."""
    attempt.completed_at = now
    attempt.pending = _cipher().encrypt_json({})
    _audit(session, actor, action, attempt, now, reason=error.message, **details)
    session.commit()
    raise error


# ---- begin ----------------------------------------------------------------------------------------

def begin(session: Session, actor, platform: str, unit_id: int | None, callback_url: str, context,
          channel_id: int | None = None, now: datetime | None = None) -> str:
    """Start connecting an account of `platform` for a unit (or reconnecting a channel): the consent URL."""
    now = now or utcnow()
    channel = get_or_404(session, Channel, channel_id, "channel") if channel_id is not None else None
    if channel is not None:
        unit_id = channel.unit_id
    ensure(session, unit_id is not None and perm.can_manage_unit(actor, unit_id), actor, "channel.connect",
           "Only a desk administrator or the unit's administrator may connect its channels.",
           object_type="channel" if channel else "unit", object_id=channel_id or unit_id, unit_id=unit_id,
           channel_id=channel_id)
    unit = get_or_404(session, Unit, unit_id, "unit")
    label = label_of(platform)
    if platform not in connectable_platforms():
        raise ValidationFailed(f"The desk cannot connect {label} accounts.",
                               field_errors={"platform": ["Not a platform the desk connects to."]})
    if channel is not None and channel.platform != platform:
        raise ValidationFailed(f"{channel.name} is a {label_of(channel.platform)} channel, not a {label} one.")
    if channel is not None and channel.status == "archived":
        raise ValidationFailed(f"{channel.name} is archived: make it active or dormant first, then reconnect it.")
    missing = not_configured(context.settings).get(platform)
    if missing:
        raise NotConfigured(missing)
    cipher = _cipher()
    state = secrets.token_urlsafe(32)
    callback = callback_with_state(platform, callback_url, state, context.settings)
    unit_id, unit_code = unit.id, unit.code
    session.rollback()  # no transaction stays open while the platform is called (X's request token)
    try:
        start = publisher_class(platform)(None, context).authorization_url(callback, state)
    except PlatformError as exc:
        audit_trail.record(session, actor, "connection.failed", "unit", unit_id, unit_id=unit_id,
                           channel_id=channel_id, now=now,
                           details={"platform": platform, "stage": "begin", "code": exc.code, "reason": exc.message})
        session.commit()
        raise ConnectionFailed(f"{exc.message} Nothing was connected.") from None
    attempt = ConnectionAttempt(state=state, platform=platform, unit_id=unit_id, user_id=actor.id,
                                channel_id=channel_id, pending=cipher.encrypt_json(start.pending), created_at=now)
    session.add(attempt)
    session.flush()
    _audit(session, actor, "connection.started", attempt, now, unit=unit_code, reconnect=channel_id is not None)
    session.commit()
    return start.url


# ---- the platform's redirect back -----------------------------------------------------------------

def _open_attempt(session, actor, state: str, now, *, choosing: bool) -> tuple[ConnectionAttempt, dict]:
    """The attempt this state names and its secrets, if this person started it, it is at the expected step
    (waiting for the platform, or for the Pages to be chosen), and it is not too old."""
    attempt = session.scalar(select(ConnectionAttempt).where(ConnectionAttempt.state == (state or "")[:64]))
    if attempt is None:
        raise NotFound("This connection link is not one the desk started, or the desk no longer knows it. "
                       + START_AGAIN)
    ids = {"object_type": "connection", "object_id": attempt.id, "unit_id": attempt.unit_id,
           "channel_id": attempt.channel_id}
    ensure(session, attempt.user_id == actor.id, actor, "channel.connect",
           "This connection was started by someone else: only they can finish it. " + START_AGAIN, **ids)
    label = label_of(attempt.platform)
    if attempt.completed_at is not None:
        raise WorkflowConflict(f"This {label} connection has already been finished, so this link cannot be used "
                               "again. Look for the channel on the Channels page, or connect again.")
    pending = _pending(attempt)
    if (pending.get("stage") == CHOOSING) != choosing:
        raise WorkflowConflict(f"{label} has already answered this connection: choose the Pages to connect."
                               if not choosing else f"{label} has not answered this connection yet. " + START_AGAIN)
    lifetime = CHOICE_LIFETIME if choosing else ATTEMPT_LIFETIME
    if now - attempt.created_at > lifetime:
        _finish(session, actor, attempt, "connection.expired", now, WorkflowConflict(
            f"This {label} connection was started more than {int(lifetime.total_seconds() // 60)} minutes ago "
            f"and has expired. {START_AGAIN}"))
    ensure(session, perm.can_manage_unit(actor, attempt.unit_id), actor, "channel.connect",
           "You no longer administer this unit, so you cannot connect its channels.", **ids)
    return attempt, pending


def _declined(args: dict) -> str | None:
    """What the platform said when the account holder refused (OAuth 1.0a `denied`, OAuth 2.0 `error`)."""
    if "denied" in args:
        return "denied"
    return args.get("error") or None


def complete(session: Session, actor, state: str, callback_args: dict, context, platform: str | None = None,
             now: datetime | None = None) -> ConnectResult:
    """Finish a connection from the platform's redirect back: a channel, new credentials, or a Page choice."""
    now = now or utcnow()
    attempt, pending = _open_attempt(session, actor, state, now, choosing=False)
    attempt_id, attempt_platform = attempt.id, attempt.platform
    label = label_of(attempt_platform)
    if platform is not None and platform != attempt_platform:
        raise ValidationFailed(f"This connection was started for {label}, not {label_of(platform)}. " + START_AGAIN)
    declined = _declined(callback_args)
    if declined:
        _finish(session, actor, attempt, "connection.cancelled", now, ConsentDeclined(
            f"The {label} consent was cancelled: nothing was connected. To connect, start again and accept "
            f"on {label}'s page."), platform_said=str(declined)[:100])
    session.rollback()  # no transaction stays open while the platform is called
    try:
        accounts = publisher_class(attempt_platform)(None, context).complete_authorization(
            {**callback_args, "state": state}, dict(pending))
    except PlatformError as exc:
        _finish(session, actor, lock(session, ConnectionAttempt, attempt_id), "connection.failed", now,
                ConnectionFailed(exc.message), stage="complete", code=exc.code)
    attempt = lock(session, ConnectionAttempt, attempt_id)
    if attempt.completed_at is not None or _pending(attempt).get("stage") == CHOOSING:
        session.rollback()  # the same answer arrived twice at once: the other request deals with it
        raise WorkflowConflict(f"This {label} connection has already been finished.")
    if not accounts:
        _finish(session, actor, attempt, "connection.failed", now, ConnectionFailed(
            f"The {label} consent gave the desk no account to publish to (for Facebook: no Page you manage was "
            "chosen). Nothing was connected."), stage="complete", code="no-accounts")
    if attempt.channel_id is not None:
        result = _reconnect(session, actor, attempt, accounts, now)
    elif len(accounts) > 1:
        attempt.pending = _cipher().encrypt_json({"stage": CHOOSING, "accounts": [_plain(a) for a in accounts]})
        _audit(session, actor, "connection.accounts_offered", attempt, now,
               accounts=[{"id": a.id, "name": a.name} for a in accounts])
        session.commit()
        return ConnectResult(attempt_platform, f"Choose which of the {len(accounts)} accounts {label} gave access "
                             "to become channels.", choose_state=attempt.state)
    else:
        try:
            channel = _connect_account(session, actor, attempt, accounts[0], now)
        except ValidationFailed as exc:
            session.rollback()
            _finish(session, actor, lock(session, ConnectionAttempt, attempt_id), "connection.refused", now,
                    ConnectionFailed(exc.message), granted=[accounts[0].id])
        result = ConnectResult(attempt_platform, _connected_message([channel]), [channel])
    attempt.completed_at = now
    attempt.pending = _cipher().encrypt_json({})
    session.commit()
    return result


def _plain(account: RemoteAccount) -> dict:
    return {"id": account.id, "name": account.name, "handle": account.handle,
            "credentials": dict(account.credentials), "details": dict(account.details)}


def _who(account: RemoteAccount) -> str:
    return f"{account.name} ({account.handle})" if account.handle else account.name


def _connected_message(channels: list[Channel]) -> str:
    names = ", ".join(c.name for c in channels)
    units = ", ".join(dict.fromkeys(c.unit.code for c in channels))
    if len(channels) == 1:
        return f"Connected {names} as a channel of {units}: its authors can post to it now."
    return f"Connected {names} as channels of {units}: their authors can post to them now."


def _give_credentials(channel: Channel, account: RemoteAccount) -> None:
    channel.credentials = _cipher().encrypt_json(account.credentials)
    channel.remote_account_id = account.id
    channel.remote_name = (account.name or "")[:200] or None
    channel.remote_handle = (account.handle or "")[:200] or None
    if channel.status == "needs_reconnect":  # a dormant channel stays dormant: that was a person's choice
        channel.status, channel.status_reason = "active", None


def _remote_details(account: RemoteAccount) -> dict:
    return {"remote_account_id": account.id, "remote_name": account.name, "remote_handle": account.handle}


def _reconnect(session, actor, attempt, accounts: list[RemoteAccount], now) -> ConnectResult:
    channel = lock(session, Channel, attempt.channel_id)
    label = label_of(attempt.platform)
    if channel.remote_account_id:
        matching = [a for a in accounts if a.id == channel.remote_account_id]
    else:
        matching = accounts[:1] if len(accounts) == 1 else []
    if not matching:
        was = channel.remote_handle or channel.remote_name or channel.remote_account_id or "its own account"
        _finish(session, actor, attempt, "connection.refused", now, ConnectionFailed(
            f"{label} gave access to {', '.join(_who(a) for a in accounts)}, not to {was}, the account of "
            f"{channel.name}: nothing was changed. Sign in to {label} as {was} and reconnect again."),
            granted=[a.id for a in accounts])
    before = channel.status
    _give_credentials(channel, matching[0])
    audit_trail.record(session, actor, "channel.reconnected", "channel", channel.id, channel_id=channel.id,
                       unit_id=channel.unit_id, now=now,
                       details={"platform": channel.platform, "status": [before, channel.status],
                                **_remote_details(matching[0])})
    held = " Its posts that were waiting go out at the worker's next pass." if before == "needs_reconnect" else ""
    return ConnectResult(attempt.platform, f"Reconnected {channel.name} to {label} as {_who(matching[0])}.{held}",
                         [channel], reconnected=True)


def _already(session, platform: str, account_id: str) -> Channel | None:
    return session.scalar(select(Channel).where(Channel.platform == platform, Channel.remote_account_id == account_id,
                                                Channel.status != "archived").order_by(Channel.id))


def _taken_elsewhere(channel: Channel | None, unit_id: int) -> str | None:
    if channel is None or channel.unit_id == unit_id:
        return None
    return (f"already the channel {channel.name} of {channel.unit.code}: one account is one channel, so that "
            "its posts follow one unit's approvals")


def _unavailable(session, attempt, account: RemoteAccount) -> str | None:
    """Why this account cannot become a channel of the attempt's unit, or None."""
    if account.details.get("can_publish") is False:
        return ("your role on it does not let you publish (it needs content creation rights there); ask one of "
                "its administrators to give you that role, then connect again")
    return _taken_elsewhere(_already(session, attempt.platform, account.id), attempt.unit_id)


def _connect_account(session, actor, attempt, account: RemoteAccount, now) -> Channel:
    """A new channel of the attempt's unit for this account; or, if it already is one there, renewed."""
    taken = _unavailable(session, attempt, account)
    existing = _already(session, attempt.platform, account.id)
    if taken:
        raise ValidationFailed(f"{_who(account)} is {taken}. Nothing was connected for it.",
                               field_errors={"pages": [f"{account.name} is {taken}."]})
    if existing is not None:
        before = existing.status
        _give_credentials(existing, account)
        audit_trail.record(session, actor, "channel.reconnected", "channel", existing.id, channel_id=existing.id,
                           unit_id=existing.unit_id, now=now,
                           details={"platform": existing.platform, "status": [before, existing.status],
                                    **_remote_details(account)})
        return existing
    channel = Channel(unit_id=attempt.unit_id, platform=attempt.platform, name=_who(account)[:200], status="active",
                      approvals_required=1, created_at=now)
    _give_credentials(channel, account)
    session.add(channel)
    session.flush()
    session.refresh(channel)  # its unit, for the messages
    audit_trail.record(session, actor, "channel.connected", "channel", channel.id, channel_id=channel.id,
                       unit_id=channel.unit_id, now=now,
                       details={"platform": channel.platform, "name": channel.name, "unit": channel.unit.code,
                                "approvals_required": channel.approvals_required, **_remote_details(account)})
    return channel


# ---- choosing among several accounts (Facebook Pages) ----------------------------------------------

def _offered(session, actor, state, now) -> tuple[ConnectionAttempt, list[RemoteAccount]]:
    attempt, pending = _open_attempt(session, actor, state, now, choosing=True)
    return attempt, [RemoteAccount(id=a["id"], name=a["name"], handle=a.get("handle"),
                                   credentials=crypto.SecretDict(a.get("credentials") or {}),
                                   details=a.get("details") or {}) for a in pending["accounts"]]


def pages_to_choose(session: Session, actor, state: str, now: datetime | None = None) -> PageChoice:
    """The accounts a consent offered, for the administrator to pick from (no credentials in it)."""
    now = now or utcnow()
    attempt, accounts = _offered(session, actor, state, now)
    rows = [{"id": a.id, "name": a.name, "handle": a.handle, "details": a.details,
             "taken": _unavailable(session, attempt, a)} for a in accounts]
    return PageChoice(attempt.platform, label_of(attempt.platform), session.get(Unit, attempt.unit_id), rows)


def choose_pages(session: Session, actor, state: str, page_ids: list[str],
                 now: datetime | None = None) -> ConnectResult:
    """Make the chosen accounts (Pages) channels of the attempt's unit; the others' tokens are forgotten."""
    now = now or utcnow()
    attempt, accounts = _offered(session, actor, state, now)
    wanted = [str(p) for p in page_ids or []]
    by_id = {a.id: a for a in accounts}
    if not wanted:
        raise ValidationFailed("Choose at least one Page to connect.",
                               field_errors={"pages": ["Choose at least one Page to connect."]})
    unknown = [p for p in wanted if p not in by_id]
    if unknown:
        raise ValidationFailed("Choose among the Pages listed: the consent did not give access to the others.",
                               field_errors={"pages": ["Choose among the Pages listed."]})
    wanted = list(dict.fromkeys(wanted))
    refused = [f"{by_id[p].name}: {why}." for p in wanted if (why := _unavailable(session, attempt, by_id[p]))]
    if refused:
        raise ValidationFailed("Nothing was connected. " + " ".join(refused), field_errors={"pages": refused})
    channels = [_connect_account(session, actor, attempt, by_id[p], now) for p in wanted]
    attempt.completed_at = now
    attempt.pending = _cipher().encrypt_json({})
    _audit(session, actor, "connection.accounts_chosen", attempt, now, chosen=wanted,
           not_chosen=[a.id for a in accounts if a.id not in wanted])
    session.commit()
    return ConnectResult(attempt.platform, _connected_message(channels), channels)
