"""The approver's pages: the queue of posts waiting for their vote, and the review of one post."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy import or_, select

from ..domain import permissions as perm
from ..domain import workflow as wf
from ..domain.errors import ValidationFailed, WorkflowConflict
from ..models import Channel, Post, Target
from ..services import posts
from .context import db
from .post_forms import ApproveForm, RejectForm, apply_errors
from .posts import load_visible, me

bp = Blueprint("approvals", __name__, url_prefix="/approvals")


def needs_vote(user, post: Post) -> bool:
    """True when this person may approve the post and a channel they approve for still needs it."""
    scope = perm.approvable_channel_ids(user, post)
    if not scope or any(v.approver_id == user.id for v in posts.votes_of(post)):
        return False
    return bool(scope & set(posts.outstanding(post)))


def waiting_for(session, user) -> list[Post]:
    """Posts in review that still need this person's vote, oldest submission first."""
    units = [unit_id for unit_id, roles in user.roles_by_unit.items() if "approver" in roles]
    granted = perm.granted_channel_ids(user, "approver")
    if not units and not granted:
        return []
    mine = (select(Target.post_id).join(Channel, Target.channel_id == Channel.id)
            .where(or_(Channel.unit_id.in_(units), Channel.id.in_(granted))))
    stmt = (select(Post).where(Post.status == wf.IN_REVIEW, Post.author_id != user.id, Post.id.in_(mine))
            .order_by(Post.submitted_at, Post.id))
    return [p for p in session.scalars(stmt) if needs_vote(user, p)]


@bp.route("/")
@login_required
def queue():
    """Posts waiting for the signed-in approver's decision."""
    is_approver = (any("approver" in roles for roles in me().roles_by_unit.values())
                   or bool(perm.granted_channel_ids(me(), "approver")))
    return render_template("approvals/queue.html", posts=waiting_for(db(), me()), is_approver=is_approver)


def _why_not(post: Post) -> str | None:
    """Why this person cannot decide on the post, in words; None when they can."""
    user = me()
    if post.status != wf.IN_REVIEW:
        return f"This post is {wf.POST_STATE_LABELS[post.status].lower()}: there is nothing to decide."
    if post.author_id == user.id:
        return "You wrote this post: another approver must approve it."
    if not perm.can_approve_post(user, post):
        return "You are not an approver for any channel of this post."
    if any(v.approver_id == user.id for v in posts.votes_of(post)):
        return "You have approved this version. It needs a different approver now."
    if not needs_vote(user, post):
        return "The channels you approve for already have the approvals they need."
    return None


def _render_review(post: Post, approve_form=None, reject_form=None, status: int = 200):
    approve_form = approve_form or ApproveForm(formdata=None, expected_hash=post.content_hash)
    reject_form = reject_form or RejectForm(formdata=None, expected_hash=post.content_hash)
    for form in (approve_form, reject_form):
        # A form sent back without its version is shown again bound to the version on screen now.
        form.expected_hash.data = form.expected_hash.data or post.content_hash
    return render_template("approvals/review.html", post=post, why_not=_why_not(post),
                           outstanding=posts.outstanding(post), approve_form=approve_form,
                           reject_form=reject_form), status


@bp.route("/<int:post_id>")
@login_required
def review(post_id: int):
    """One post as each channel will show it, with the approve and reject forms."""
    return _render_review(load_visible(post_id))


def _changed(post_id: int, exc: WorkflowConflict):
    flash(exc.message, "error")
    return redirect(url_for("approvals.review", post_id=post_id))


@bp.route("/<int:post_id>/approve", methods=["POST"])
@login_required
def approve(post_id: int):
    """Approve the exact version that was reviewed."""
    form = ApproveForm()
    if not form.validate_on_submit():
        return _render_review(load_visible(post_id), approve_form=form, status=400)
    try:
        post = posts.approve(db(), me(), post_id, expected_hash=form.expected_hash.data, comment=form.comment.data,
                             acknowledge_warnings=form.acknowledge_warnings.data)
    except WorkflowConflict as exc:
        return _changed(post_id, exc)
    except ValidationFailed as exc:  # e.g. the screening's warnings not ticked as read
        apply_errors(form, exc.field_errors)
        flash(exc.message, "error")
        return _render_review(load_visible(post_id), approve_form=form, status=400)
    if post.status == wf.APPROVED:
        flash("Approved. It goes out at its time; its page shows each channel's progress.", "success")
    else:
        left = sum(posts.outstanding(post).values())
        flash(f"Your approval is recorded. It still needs {left} more from another approver.", "success")
    return redirect(url_for("posts.view_post", post_id=post_id))


@bp.route("/<int:post_id>/reject", methods=["POST"])
@login_required
def reject(post_id: int):
    """Send the post back to its author with a comment."""
    form = RejectForm()
    if not form.validate_on_submit():
        return _render_review(load_visible(post_id), reject_form=form, status=400)
    try:
        posts.reject(db(), me(), post_id, form.comment.data, expected_hash=form.expected_hash.data)
    except ValidationFailed as exc:
        apply_errors(form, exc.field_errors)
        return _render_review(load_visible(post_id), reject_form=form, status=400)
    except WorkflowConflict as exc:
        return _changed(post_id, exc)
    flash("Rejected. The author sees your comment on their dashboard.", "success")
    return redirect(url_for("approvals.queue"))
