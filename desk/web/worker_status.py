"""The publishing status page for administrators: /admin/workers, the same snapshot as `desk worker --status`.

Desk administrators see the whole desk; a unit administrator sees the workers (they publish for every
unit) but counts, claims, failures and channels of their own units only.
"""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..services import stray_copies, target_decisions, worker_status
from ..services.common import ensure
from .context import db, settings

bp = Blueprint("worker_status", __name__, url_prefix="/admin/workers")
REFRESH_SECONDS = 15


def unit_scope(user) -> set[int] | None:
    """None: the whole desk; else the units this person administers (empty: may not look)."""
    if perm.can_administer(user):
        return None
    return {uid for uid in user.roles_by_unit if perm.can_manage_unit(user, uid)}


@bp.get("/")
@login_required
def index():
    """How publishing stands: workers, queue, oldest overdue, failures, channels, posts waiting for a person."""
    user = current_user._get_current_object()
    scope = unit_scope(user)
    ensure(db(), scope is None or bool(scope), user, "workers.view",
           "Only desk administrators and unit administrators see the publishing status.", object_type="desk")
    now = utcnow()
    snap = worker_status.snapshot(db(), now, settings(), unit_ids=scope)
    level, words = worker_status.headline(snap)
    return render_template("admin/workers.html", s=snap, level=level, headline=words,
                           notes=worker_status.notes(snap), spoken=worker_status.spoken,
                           person_waiting=target_decisions.waiting_for_person(db(), user, now),
                           copies=stray_copies.open_copies(db(), scope, user),
                           whole_desk=scope is None, refresh=REFRESH_SECONDS)
