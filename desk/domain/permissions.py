"""Who may do what: the one place the desk decides it, from roles per unit and business-case grants.

Works on any objects with the attributes used below (the ORM models, or plain test doubles).
Drafting and approving for a channel need a live access grant for it, or the role in its unit when
the unit's policy lets roles grant access. A person's grants are loaded once by the caller
(`services.grants.load_access`) and checked here against `now`: expiry needs nobody to act.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from . import grants
from .clock import utcnow
from .errors import PermissionDenied


class Actor(Protocol):
    id: int
    is_admin: bool
    is_auditor: bool

    @property
    def roles_by_unit(self) -> dict[int, set[str]]: ...


def roles_in(user: Actor, unit_id: int) -> set[str]:
    return set(user.roles_by_unit.get(unit_id, set()))


def has_role(user: Actor, unit_id: int, role: str) -> bool:
    return role in roles_in(user, unit_id)


def access_grants(user: Actor) -> tuple:
    """The person's approved grants as loaded; none when nobody loaded them, so a missed load refuses."""
    return tuple(getattr(user, "access_grants", None) or ())


def granted_channel_ids(user: Actor, role: str, now: datetime | None = None) -> set[int]:
    """The channels the person holds a live grant for in this role: what lists offer them beyond their units."""
    now = now or utcnow()
    return {g.channel_id for g in access_grants(user) if g.role == role and grants.is_live(g, now)}


def has_access(user: Actor, channel, role: str, now: datetime | None = None) -> bool:
    """May draft ('author') or approve ('approver') for this channel at `now`."""
    if channel.unit.roles_grant_access and has_role(user, channel.unit_id, role):
        return True
    return grants.holds(access_grants(user), channel.id, role, now or utcnow())


def media_unit_ids(user: Actor, now: datetime | None = None) -> set[int]:
    """The units whose media library a person may use: their units, and those of channels they hold a
    live grant for (a grant-holder posting to a unit's feed needs its photos)."""
    now = now or utcnow()
    return set(user.roles_by_unit) | {g.unit_id for g in access_grants(user) if grants.is_live(g, now)}


def can_use_media_of(user: Actor, unit_id: int, now: datetime | None = None) -> bool:
    return bool(user.is_admin) or unit_id in media_unit_ids(user, now)


def can_draft_for(user: Actor, channel, now: datetime | None = None) -> bool:
    return has_access(user, channel, "author", now)


def can_approve_for(user: Actor, channel, now: datetime | None = None) -> bool:
    return has_access(user, channel, "approver", now)


def post_unit_ids(post) -> set[int]:
    return {t.channel.unit_id for t in post.targets}


def can_view_post(user: Actor, post, now: datetime | None = None) -> bool:
    """Desk administrators, auditors and the author; anyone with a role in a unit the post goes to; and
    the holder of a live grant for one of its channels (that channel's posts only, not the unit's)."""
    if user.is_admin or user.is_auditor or post.author_id == user.id:
        return True
    if any(roles_in(user, unit_id) for unit_id in post_unit_ids(post)):
        return True
    now = now or utcnow()
    return any(grants.is_live(g, now) and g.channel_id == t.channel_id
               for g in access_grants(user) for t in post.targets)


def can_edit_post(user: Actor, post) -> bool:
    return post.author_id == user.id


def approvable_channel_ids(user: Actor, post, now: datetime | None = None) -> set[int]:
    """Channels of this post the user may approve for: never their own post (four-eyes)."""
    if post.author_id == user.id:
        return set()
    return {t.channel_id for t in post.targets if can_approve_for(user, t.channel, now)}


def can_approve_post(user: Actor, post, now: datetime | None = None) -> bool:
    return bool(approvable_channel_ids(user, post, now))


def can_withdraw(user: Actor, post, now: datetime | None = None) -> bool:
    return post.author_id == user.id or any(can_approve_for(user, t.channel, now) for t in post.targets)


def can_retract(user: Actor, post, now: datetime | None = None) -> bool:
    return any(can_approve_for(user, t.channel, now) for t in post.targets)


def can_write_template(user: Actor, channels, now: datetime | None = None) -> bool:
    """Create, edit or approve an operational template: an approver of every channel it is for."""
    channels = list(channels)
    return bool(channels) and all(can_approve_for(user, c, now) for c in channels)


def can_suspend_template(user: Actor, unit_id: int, channels, now: datetime | None = None) -> bool:
    """Stopping a template is made easy: any approver of one of its channels, or the unit's administrators."""
    return can_manage_unit(user, unit_id) or any(can_approve_for(user, c, now) for c in channels)


def can_publish_template(user: Actor, channels, now: datetime | None = None) -> bool:
    """Post an update from an approved template: someone who may draft for every channel it goes to."""
    channels = list(channels)
    return bool(channels) and all(can_draft_for(user, c, now) for c in channels)


def can_administer(user: Actor) -> bool:
    return bool(user.is_admin)


def can_manage_unit(user: Actor, unit_id: int) -> bool:
    return bool(user.is_admin) or has_role(user, unit_id, "unit_admin")


def can_pause(user: Actor, unit_id: int | None) -> bool:
    """The emergency stop (and resuming, and deciding on late posts after it): desk administrators for
    the whole desk or any unit, a unit's administrators for their unit."""
    return bool(user.is_admin) if unit_id is None else can_manage_unit(user, unit_id)


def can_decide_on_target(user: Actor, channel, now: datetime | None = None) -> bool:
    """Settle a post the worker could not (outcome unknown, or too late to go by itself): those who may
    approve for the channel, its unit's administrators and desk administrators."""
    return can_manage_unit(user, channel.unit_id) or can_approve_for(user, channel, now)


def can_read_audit(user: Actor) -> bool:
    return bool(user.is_admin or user.is_auditor)


def draftable_channels(user: Actor, channels: Iterable, now: datetime | None = None) -> list:
    return [c for c in channels if can_draft_for(user, c, now) and c.status != "archived"]


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)
