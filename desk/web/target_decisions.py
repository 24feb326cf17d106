"""The buttons a person uses to settle a post the worker could not: on the post's page, next to the channel,
and the one that removes a post's second copy (sent by a worker after another had taken the post over).

Every form is CSRF-checked (CSRFProtect covers the whole app); a refusal is audited by the service and
shown as the error page; a decision someone already took comes back as a plain flashed message.
"""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import URLField

from ..domain.errors import ValidationFailed
from ..domain.person_decisions import KIND_LABELS
from ..models import Target, User
from ..services import stray_copies
from ..services import target_decisions as svc
from ..services.common import get_or_404
from .context import db, platform_context

bp = Blueprint("decisions", __name__, url_prefix="/targets")


class PublishedLinkForm(FlaskForm):
    url = URLField("Link to the published post",
                   render_kw={"placeholder": "https://", "autocomplete": "off"})


def me() -> User:
    return current_user._get_current_object()


@bp.app_context_processor
def decision_helpers():
    """Computed only when a template asks: the post page's buttons and the dashboard's list."""
    def offers(post):
        # The partial asks once per channel of the post: look the post up once per request.
        cache = g.setdefault("target_decision_offers", {})
        if post.id not in cache:
            cache[post.id] = svc.offers_for(db(), me(), post) if current_user.is_authenticated else {}
        return cache[post.id]

    def waiting():
        return svc.waiting_for_person(db(), me()) if current_user.is_authenticated else []

    def copies(post):
        cache = g.setdefault("stray_copies_of", {})
        if post.id not in cache:
            cache[post.id] = stray_copies.open_for_post(db(), post.id, me()) if current_user.is_authenticated else []
        return cache[post.id]

    return {"target_decision_offers": offers, "waiting_for_person": waiting, "decision_kinds": KIND_LABELS,
            "published_link_form": PublishedLinkForm, "stray_copies_of": copies}


def _back(target) -> str:
    return url_for("posts.view_post", post_id=target.post_id) + f"#target-{target.channel_id}"


def _done(target, message: str):
    """Back to the channel on the post's page, saying what the decision did."""
    flash(message, "success")
    return redirect(_back(target))


@bp.post("/<int:target_id>/not-published")
@login_required
def not_published(target_id: int):
    """It was not published: send it (the worker takes it on its next pass)."""
    target = svc.not_published(db(), me(), target_id)
    return _done(target, f"Noted: it did not go out on {target.channel.name}. The desk sends it within seconds.")


@bp.post("/<int:target_id>/published")
@login_required
def published(target_id: int):
    """It was published: record the link a person found on the platform."""
    try:  # the service checks the link, so the rules live in one place
        target = svc.published(db(), me(), target_id, PublishedLinkForm().url.data or "")
    except ValidationFailed as exc:
        db().rollback()
        flash(f"Nothing was changed: {exc.message}", "error")
        return redirect(_back(get_or_404(db(), Target, target_id, "post on a channel")))
    return _done(target, f"Recorded as published on {target.channel.name}, with the link you gave. It will not "
                         "be sent again.")


@bp.post("/<int:target_id>/send-late")
@login_required
def send_late(target_id: int):
    """Send a post whose time passed long ago: it goes out now."""
    target = svc.send_late(db(), me(), target_id)
    return _done(target, f"Post {target.post_id} goes to {target.channel.name} now, late.")


@bp.post("/<int:target_id>/drop-late")
@login_required
def drop_late(target_id: int):
    """Do not send a post whose moment has gone."""
    target = svc.drop_late(db(), me(), target_id)
    return _done(target, f"Post {target.post_id} will not go to {target.channel.name}.")


@bp.post("/copies/<int:copy_id>/remove")
@login_required
def remove_copy(copy_id: int):
    """Delete a post's second copy from its platform; the first stays as the published post."""
    copy = stray_copies.remove(db(), me(), copy_id, platform_context())
    return _done(copy.target, f"The second copy was deleted from {copy.target.channel.name}; the post is there once.")
