"""Who may do what: the one place the desk decides it, from roles per unit.

Works on any objects with the attributes used below (the ORM models, or plain test doubles).
"""
from __future__ import annotations

from typing import Iterable, Protocol

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


def can_draft_for(user: Actor, channel) -> bool:
    return has_role(user, channel.unit_id, "author")


def can_approve_for(user: Actor, channel) -> bool:
    return has_role(user, channel.unit_id, "approver")


def post_unit_ids(post) -> set[int]:
    return {t.channel.unit_id for t in post.targets}


def can_view_post(user: Actor, post) -> bool:
    if user.is_admin or user.is_auditor or post.author_id == user.id:
        return True
    return any(roles_in(user, unit_id) for unit_id in post_unit_ids(post))


def can_edit_post(user: Actor, post) -> bool:
    return post.author_id == user.id


def approvable_channel_ids(user: Actor, post) -> set[int]:
    """Channels of this post the user may approve for: never their own post (four-eyes)."""
    if post.author_id == user.id:
        return set()
    return {t.channel_id for t in post.targets if can_approve_for(user, t.channel)}


def can_approve_post(user: Actor, post) -> bool:
    return bool(approvable_channel_ids(user, post))


def can_withdraw(user: Actor, post) -> bool:
    return post.author_id == user.id or any(can_approve_for(user, t.channel) for t in post.targets)


def can_retract(user: Actor, post) -> bool:
    return any(can_approve_for(user, t.channel) for t in post.targets)


def can_administer(user: Actor) -> bool:
    return bool(user.is_admin)


def can_manage_unit(user: Actor, unit_id: int) -> bool:
    return bool(user.is_admin) or has_role(user, unit_id, "unit_admin")


def can_read_audit(user: Actor) -> bool:
    return bool(user.is_admin or user.is_auditor)


def draftable_channels(user: Actor, channels: Iterable) -> list:
    return [c for c in channels if can_draft_for(user, c) and c.status != "archived"]


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)
