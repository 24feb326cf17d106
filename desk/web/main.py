"""The dashboard: what needs the signed-in person's attention."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy import select

from ..domain import permissions as perm
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..models import Approval, Channel, Post
from .approvals import waiting_for
from .context import db
from .posts import me

bp = Blueprint("main", __name__)
RECENT = timedelta(days=30)
SHOWN = 25
UNDER_WAY = (wf.IN_REVIEW, wf.APPROVED, wf.PARTLY_PUBLISHED, wf.PUBLISHED, wf.FAILED)


@bp.route("/")
def index():
    """Send people to their dashboard (or to sign in)."""
    return redirect(url_for("main.dashboard"))


@bp.route("/dashboard")
@login_required
def dashboard():
    """The signed-in person's posts and the decisions on them."""
    user = me()
    mine = select(Post).where(Post.author_id == user.id)
    to_work_on = db().scalars(mine.where(Post.status.in_((wf.DRAFT, wf.REJECTED)))
                              .order_by(Post.updated_at.desc()).limit(SHOWN)).all()
    under_way = db().scalars(mine.where(Post.status.in_(UNDER_WAY), Post.updated_at >= utcnow() - RECENT)
                             .order_by(Post.updated_at.desc()).limit(SHOWN)).all()
    decisions = db().scalars(select(Approval).join(Post, Approval.post_id == Post.id)
                             .where(Post.author_id == user.id)
                             .order_by(Approval.decided_at.desc(), Approval.id.desc()).limit(SHOWN)).all()
    rejected_by = {p.id: next((a for a in reversed(p.approvals) if a.decision == "reject"), None)
                   for p in to_work_on if p.status == wf.REJECTED}
    is_approver = (any("approver" in roles for roles in user.roles_by_unit.values())
                   or bool(perm.granted_channel_ids(user, "approver")))
    waiting = len(waiting_for(db(), user)) if is_approver else None
    # The worker holds a lapsed channel's posts; its unit's administrators are the ones who can reconnect it.
    lapsed = [c for c in db().scalars(select(Channel).where(Channel.status == "needs_reconnect").order_by(Channel.name))
              if perm.can_manage_unit(user, c.unit_id)]
    return render_template("dashboard.html", to_work_on=to_work_on, under_way=under_way, decisions=decisions,
                           rejected_by=rejected_by, waiting=waiting, lapsed=lapsed)
