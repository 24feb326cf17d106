"""The emergency stop's pages: pause (the whole desk or a unit), resume, and decide on late posts; and the
banner every page shows while a pause is on."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..domain import permissions as perm
from ..domain.errors import ValidationFailed
from ..models import Unit, User
from ..services import pauses as svc
from ..services.common import ensure
from .context import db

bp = Blueprint("pauses", __name__, url_prefix="/pauses")
DESK = "desk"  # the scope choice for the whole desk


class PauseForm(FlaskForm):
    scope = SelectField("What stops", validators=[DataRequired()])
    reason = TextAreaField("Why", validators=[DataRequired(message="Say why: everyone sees it on every page."),
                                              Length(max=2000)])


def me() -> User:
    return current_user._get_current_object()


def pausable_units(user) -> list[Unit]:
    units = db().scalars(select(Unit).order_by(Unit.code)).all()
    return [u for u in units if perm.can_pause(user, u.id)]


def may_open(user) -> bool:
    return perm.can_pause(user, None) or any(perm.can_pause(user, uid) for uid in user.roles_by_unit)


@bp.app_context_processor
def pause_banner():
    """Every page: the pauses in force that this person should know about."""
    user = current_user
    if not user.is_authenticated:
        return {"desk_pauses": [], "can_pause_any": False}
    return {"desk_pauses": svc.visible_to(user, svc.active(db())), "can_pause_any": may_open(user)}


def _form(user) -> PauseForm:
    form = PauseForm()
    choices = [(DESK, "The whole desk (every unit)")] if perm.can_pause(user, None) else []
    form.scope.choices = choices + [(str(u.id), f"{u.code}: {u.name}") for u in pausable_units(user)]
    return form


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    """Pause publishing with a reason; the pauses in force; the late posts waiting for a decision."""
    user = me()
    ensure(db(), may_open(user), user, "pause.view", "Only desk administrators and unit administrators use "
           "the emergency stop.", object_type="desk")
    form = _form(user)
    if form.validate_on_submit():
        unit_id = None if form.scope.data == DESK else int(form.scope.data)
        try:
            row = svc.pause(db(), user, form.reason.data, unit_id)
        except ValidationFailed as exc:
            for name, errors in exc.field_errors.items():
                getattr(form, name, form.reason).errors.extend(errors)
        else:
            scope = "the whole desk" if row.unit_id is None else db().get(Unit, row.unit_id).code
            flash(f"Publishing is paused for {scope}. Nothing already sending is interrupted; everything that "
                  "falls due is held until you resume.", "success")
            return redirect(url_for("pauses.index"))
    active = svc.active(db())
    return render_template("pauses/index.html", form=form, active=list(active.values()),
                           may_resume={p.id: perm.can_pause(user, p.unit_id) for p in active.values()},
                           late=svc.awaiting(db(), user), history=svc.recent(db(), user))


@bp.route("/<int:pause_id>/resume", methods=["POST"])
@login_required
def resume(pause_id: int):
    """End a pause: what was on its way goes on; what fell due meanwhile waits for a decision below."""
    result = svc.resume(db(), me(), pause_id)
    message = f"Publishing resumed. {len(result.released)} post(s) on their way before the pause go on."
    if result.awaiting:
        message += (f" {len(result.awaiting)} post(s) whose time passed during the pause wait for you: send "
                    "each now, or withdraw it, below.")
    flash(message, "success")
    return redirect(url_for("pauses.index") + ("#late" if result.awaiting else ""))


@bp.route("/targets/<int:target_id>/send-now", methods=["POST"])
@login_required
def send_now(target_id: int):
    """Confirm a late post: it goes out on the worker's next pass."""
    target = svc.send_now(db(), me(), target_id)
    flash(f"Post {target.post_id} goes to {target.channel.name} now.", "success")
    return redirect(url_for("pauses.index") + "#late")


@bp.route("/targets/<int:target_id>/withdraw", methods=["POST"])
@login_required
def withdraw(target_id: int):
    """Withdraw a late post from this channel: it is not sent."""
    target = svc.withdraw(db(), me(), target_id)
    flash(f"Post {target.post_id} will not go to {target.channel.name}.", "success")
    return redirect(url_for("pauses.index") + "#late")
