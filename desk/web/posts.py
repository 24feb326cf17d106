"""The press officer's pages: write a post once, tailor it per channel, submit it, follow it out."""
from __future__ import annotations

from contextlib import contextmanager

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from werkzeug.exceptions import RequestEntityTooLarge

from ..domain import permissions as perm
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..domain.errors import DeskError, NotFound, PermissionDenied, ValidationFailed, WorkflowConflict
from ..models import Channel, Post, Target
from ..platforms import Content, PlatformError, publisher_class
from ..services import media as media_service
from ..services import posts, recurring
from ..services.common import ensure, get_or_404
from . import post_media
from .context import db, platform_context, settings
from .post_forms import (
    PRIVACY_CHOICES,
    ActionForm,
    RetractForm,
    WithdrawForm,
    apply_errors,
    data_from_post,
    has_extras,
    post_form,
    read_post_input,
    target_form,
)
from .request_checks import query_int

bp = Blueprint("posts", __name__, url_prefix="/posts")
PER_PAGE = 50
# The post form carries uploads: one file as large as the media library takes, plus the typed fields.
FORM_LIMIT = media_service.MAX_UPLOAD_BYTES + (1 << 20)


@bp.url_value_preprocessor
def _allow_uploads(endpoint, _values):
    # Runs before the CSRF check reads the body, so the larger limit applies to the post form only.
    if endpoint in ("posts.new_post", "posts.edit_post") and request.method == "POST":
        request.max_content_length = FORM_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    """More bytes than the form takes: nothing was read, so nothing can be kept; say what to do."""
    error = DeskError(f"The files sent together were larger than the desk takes at once "
                      f"({FORM_LIMIT // (1 << 20)} MB), so nothing was received and nothing was saved. Go back "
                      "(your browser usually keeps what you typed) and add large videos one at a time.")
    error.http_status = 413
    return render_template("error.html", error=error, title="Files too large"), 413


@bp.app_template_filter("platform")
def platform_label(platform: str) -> str:
    try:
        return publisher_class(platform).label
    except PlatformError:  # a platform whose adapter is not written yet is still named
        return platform.title()


@bp.app_template_filter("extra")
def target_extra(target: Target) -> dict:
    return posts.extra_of(target)


@bp.app_template_filter("privacy")
def privacy_label(value: str, platform: str) -> str:
    return dict(PRIVACY_CHOICES.get(platform, ())).get(value, value)


@bp.app_template_filter("rule_words")
def rule_words(rule: str | None) -> str:
    return recurring.rules.describe(recurring.rules.parse(rule)) if rule else ""


def me():
    return current_user._get_current_object()


def load_visible(post_id: int, action: str = "post.view") -> Post:
    """The post, if this person may see it; a refusal is audited like any other."""
    post = get_or_404(db(), Post, post_id, "post")
    ensure(db(), perm.can_view_post(me(), post), me(), action, "This post belongs to units you have no role in.",
           object_type="post", object_id=post.id, post_id=post.id)
    return post


def visible_posts_query(user):
    stmt = select(Post)
    if not (user.is_admin or user.is_auditor):
        granted = perm.granted_channel_ids(user, "author") | perm.granted_channel_ids(user, "approver")
        in_my_units = (select(Target.post_id).join(Channel, Target.channel_id == Channel.id)
                       .where(or_(Channel.unit_id.in_(list(user.roles_by_unit)), Channel.id.in_(granted))))
        stmt = stmt.where(or_(Post.author_id == user.id, Post.id.in_(in_my_units)))
    return stmt


@bp.route("/")
@login_required
def list_posts():
    """The posts this person may see, newest first, optionally of one state."""
    state = request.args.get("state") or None
    if state not in wf.POST_STATE_LABELS:
        state = None
    page = query_int("page", 1)
    stmt = visible_posts_query(me())
    if state:
        stmt = stmt.where(Post.status == state)
    total = db().scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db().scalars(stmt.order_by(Post.updated_at.desc(), Post.id.desc())
                        .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    return render_template("posts/list.html", posts=rows, state=state, page=page, total=total, per_page=PER_PAGE)


def _offered_channels(post: Post | None) -> list[Channel]:
    """The channels this person may draft for, plus any the post already has (so none vanish unseen)."""
    author_units = [u for u, roles in me().roles_by_unit.items() if "author" in roles]
    granted = perm.granted_channel_ids(me(), "author")  # a business-case grant, beyond the person's units
    stmt = select(Channel).where(or_(Channel.unit_id.in_(author_units), Channel.id.in_(granted)),
                                 Channel.status != "archived")
    offered = perm.draftable_channels(me(), db().scalars(stmt))
    ids = {c.id for c in offered}
    offered += [t.channel for t in (post.targets if post else []) if t.channel_id not in ids]
    return sorted(offered, key=lambda c: (c.unit.code, c.name.lower()))


def _groups(channels: list[Channel]) -> list[tuple]:
    groups: dict[int, tuple] = {}
    for c in channels:
        groups.setdefault(c.unit_id, (c.unit, []))[1].append(c)
    return list(groups.values())


def _render_form(form, post: Post | None, channels, plan: post_media.MediaPlan, refused,
                 saved_with_problems: bool = False, status: int = 200):
    action = url_for("posts.edit_post", post_id=post.id) if post else url_for("posts.new_post")
    options = {option.data: option for option in form.channels}
    shelves = post_media.library(db(), me(), channels, exclude=set(plan.ids))
    return render_template("posts/form.html", form=form, post=post, groups=_groups(channels), action=action,
                           options=options, target_form=target_form, saved_with_problems=saved_with_problems,
                           plan=plan, refused=refused, shelves=shelves, has_extras=has_extras,
                           series=recurring.overview(db(), post, settings().zone, utcnow()) if post else None,
                           several_units=len({c.unit_id for c in channels}) > 1), status


def _save(post: Post | None):
    """Save (and on 'submit', submit) the form; problems are shown next to their fields, text kept."""
    channels = _offered_channels(post)
    form = post_form(channels)
    refused = post_media.Refusals()
    if not form.validate_on_submit():
        # An invalid form (an expired token, a forged value) stores no upload.
        plan = post_media.plan_from_request(db(), me(), form, channels, None, refused)
        return _render_form(form, post, channels, plan, refused, status=400)
    plan = post_media.plan_from_request(db(), me(), form, channels, settings().media_dir, refused)
    data, errors = read_post_input(form, settings().zone, media=plan.chosen)
    if plan.refusals:
        errors["media"] = plan.refusals
    if errors:
        apply_errors(form, errors)
        kept = " The files that were accepted are listed with the post." if plan.stored_in else ""
        form.form_errors.append("Nothing was saved yet: put right what is marked below. Everything you typed "
                                "is still here." + kept)
        return _render_form(form, post, channels, plan, refused, status=400)
    if plan.stored_in and len({c.unit_id for c in channels if c.id in (form.channels.data or [])}) > 1:
        flash(f"The files you added went into the media library of {plan.stored_in}, the unit of the first "
              "channel chosen.", "info")
    before = post.status if post else None
    try:
        result = posts.save_draft(db(), me(), data, post_id=post.id if post else None)
    except (ValidationFailed, WorkflowConflict) as exc:
        apply_errors(form, exc.field_errors)
        form.form_errors.append(exc.message + " Nothing was saved; what you typed is still here.")
        return _render_form(form, post, channels, plan, refused, status=exc.http_status)
    post = result.post
    if before in (wf.IN_REVIEW, wf.APPROVED, wf.RECURRING) and post.status == before:
        flash(f"Nothing had changed, so the post is still {wf.POST_STATE_LABELS[before].lower()}.", "info")
        return redirect(url_for("posts.view_post", post_id=post.id))
    if before in (wf.IN_REVIEW, wf.APPROVED):
        flash("Saved. Because the post changed, its approvals were withdrawn and it is a draft again: "
              "submit it for approval once more.", "info")
    elif before == wf.RECURRING:
        flash("Saved. Because the series changed, its approvals were withdrawn and the occurrences not yet sent "
              "were withdrawn too. Once it is approved again it repeats from then on: times that pass "
              "meanwhile are not made up.", "info")
    if result.problems:
        apply_errors(form, result.problems)
        return _render_form(form, post, channels, plan, refused, saved_with_problems=True)
    if request.form.get("action") != "submit":
        flash("Draft saved.", "success")
        return redirect(url_for("posts.view_post", post_id=post.id))
    try:
        posts.submit(db(), me(), post.id)
    except ValidationFailed as exc:
        apply_errors(form, exc.field_errors)
        return _render_form(form, post, channels, plan, refused, saved_with_problems=True)
    flash("Submitted for approval. An approver of each channel's unit will see it in their queue.", "success")
    return redirect(url_for("posts.view_post", post_id=post.id))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new_post():
    """Write a new post."""
    if request.method == "POST":
        return _save(None)
    channels = _offered_channels(None)
    refused = post_media.Refusals()
    return _render_form(post_form(channels), None, channels,
                        post_media.plan_from_post(db(), me(), None, channels, refused), refused)


@bp.route("/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit_post(post_id: int):
    """Edit a post; an approved or in-review one goes back to draft and loses its approvals."""
    post = load_visible(post_id, "post.edit")
    if request.method == "POST":
        return _save(post)
    ensure(db(), perm.can_edit_post(me(), post), me(), "post.edit", "Only the post's author may edit it.",
           object_type="post", object_id=post.id, post_id=post.id)
    if post.series_id is not None:
        flash(f"This is one occurrence of the repeating post {post.series_id}: edit the series instead, or "
              "withdraw just this occurrence here.", "error")
        return redirect(url_for("posts.view_post", post_id=post.id))
    if not _editable(post):
        flash(f"A post that is {wf.POST_STATE_LABELS[post.status].lower()} can no longer be edited.", "error")
        return redirect(url_for("posts.view_post", post_id=post.id))
    channels = _offered_channels(post)
    form = post_form(channels, formdata=None, data=data_from_post(post, settings().zone))
    refused = post_media.Refusals()
    return _render_form(form, post, channels, post_media.plan_from_post(db(), me(), post, channels, refused), refused)


def _editable(post: Post) -> bool:
    return post.status in wf.EDITABLE and post.series_id is None and not any(
        t.status in (wf.T_SENDING, wf.T_PUBLISHED) for t in post.targets)


def _withdrawable(post: Post) -> bool:
    return (post.status in wf.TRANSITIONS["withdraw"]
            and not any(t.status in (wf.T_SENDING, wf.T_PUBLISHED, wf.T_UNKNOWN) for t in post.targets))


def _render_view(post: Post, withdraw_form=None, retract_form=None, status: int = 200):
    user = me()
    can = {
        "edit": perm.can_edit_post(user, post) and _editable(post),
        "submit": perm.can_edit_post(user, post) and post.status in wf.TRANSITIONS["submit"],
        "withdraw": perm.can_withdraw(user, post) and _withdrawable(post),
        "retract": perm.can_retract(user, post) and post.status in wf.TRANSITIONS["retract"],
        "review": perm.can_approve_post(user, post) and post.status == wf.IN_REVIEW,
    }
    rejection = next((a for a in reversed(post.approvals) if a.decision == "reject"), None)
    return render_template(
        "posts/view.html", post=post, can=can, outstanding=posts.outstanding(post), rejection=rejection,
        channels={t.channel_id: t.channel for t in post.targets}, action_form=ActionForm(),
        withdraw_form=withdraw_form or WithdrawForm(), retract_form=retract_form or RetractForm(),
        series=recurring.overview(db(), post, settings().zone, utcnow()),
    ), status


@bp.route("/<int:post_id>")
@login_required
def view_post(post_id: int):
    """A post, where each channel's copy stands, and who decided what."""
    return _render_view(load_visible(post_id))


@contextmanager
def _flash_conflicts(post_id: int):
    """A state change that no longer fits is said on the post's page; refusals still get their 403."""
    try:
        yield
    except (PermissionDenied, NotFound):
        raise
    except DeskError as exc:
        extra = " Open it for editing to see what to change." if exc.field_errors else ""
        flash(exc.message + extra, "error")


@bp.route("/<int:post_id>/submit", methods=["POST"])
@login_required
def submit(post_id: int):
    """Send a draft for approval."""
    if ActionForm().validate_on_submit():
        with _flash_conflicts(post_id):
            posts.submit(db(), me(), post_id)
            flash("Submitted for approval.", "success")
    return redirect(url_for("posts.view_post", post_id=post_id))


@bp.route("/<int:post_id>/withdraw", methods=["POST"])
@login_required
def withdraw(post_id: int):
    """Withdraw a post before it goes out."""
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _render_view(load_visible(post_id), withdraw_form=form, status=400)
    with _flash_conflicts(post_id):
        post = posts.withdraw(db(), me(), post_id, reason=form.reason.data)
        flash("Stopped: the series repeats no more, and its occurrences not yet sent were withdrawn."
              if post.recurrence_rule else "Withdrawn: nothing of it will be published.", "success")
    return redirect(url_for("posts.view_post", post_id=post_id))


@bp.route("/<int:post_id>/retract", methods=["POST"])
@login_required
def retract(post_id: int):
    """Delete a published post from its platforms, with the reason on the record."""
    form = RetractForm()
    if not form.validate_on_submit():
        return _render_view(load_visible(post_id), retract_form=form, status=400)
    try:
        posts.retract(db(), me(), post_id, form.reason.data, platform_context())
    except ValidationFailed as exc:
        apply_errors(form, exc.field_errors)
        return _render_view(load_visible(post_id), retract_form=form, status=400)
    except (PermissionDenied, NotFound):
        raise
    except DeskError as exc:  # e.g. a platform refused the deletion: said in words, the rest is done
        flash(exc.message, "error")
        return redirect(url_for("posts.view_post", post_id=post_id))
    flash("Retracted: it has been deleted from the platforms.", "success")
    return redirect(url_for("posts.view_post", post_id=post_id))


def _x_count(text: str, link: str) -> dict:
    from ..platforms.x import compose
    from ..platforms.x_text import MAX_WEIGHTED_LENGTH, weighted_length

    composed = compose(Content(text=text, link=link or None))
    length = weighted_length(composed)
    return {"platform": "x", "weighted": length.weighted, "limit": MAX_WEIGHTED_LENGTH, "over_by": length.over_by,
            "valid": length.valid, "urls": length.urls, "emoji": length.emoji,
            "invalid_characters": length.has_invalid_characters,
            "label": f"{length.weighted} / {MAX_WEIGHTED_LENGTH}"}


COUNTERS = {"x": _x_count}


@bp.route("/count", methods=["GET", "POST"])
@login_required
def count():
    """A text's length as its platform counts it, with the link as it will be sent: the figure the
    server's own check uses. POST keeps drafts out of address logs (and carries the CSRF token)."""
    values = request.form if request.method == "POST" else request.args
    platform = values.get("platform", "")
    counter = COUNTERS.get(platform)
    if counter is None:
        return jsonify(error="unknown_platform", message=f"The desk counts texts for {', '.join(COUNTERS)} only."), 400
    return jsonify(counter(values.get("text", ""), values.get("link", "").strip()))
