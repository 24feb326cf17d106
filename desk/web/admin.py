"""The administration pages: units, users, memberships and channels, every change through the admin services.

Desk administrators see everything; a unit administrator sees only their own units' memberships and
channels. What a page hides, the services refuse anyway, and the refusal is audited.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..domain import permissions as perm
from ..domain.errors import ValidationFailed
from ..models import Channel, Membership, Unit, User
from ..services import admin as admin_service
from ..services.common import ensure, get_or_404
from .admin_forms import (
    ROLE_LABELS,
    STATUS_LABELS,
    ChannelCreateForm,
    ChannelEditForm,
    MembershipForm,
    UnitForm,
    UserCreateForm,
    UserEditForm,
    choices,
    local_input,
    show_refusal,
)
from .context import db, settings
from .request_checks import query_int

bp = Blueprint("admin", __name__, url_prefix="/admin")

ADMIN_ONLY = "Only a desk administrator may do this. Ask one if you need the change made."
UNIT_ADMINS = "Only desk administrators and unit administrators may use the administration pages."


def _actor() -> User:
    return current_user._get_current_object()


def _refuse_unless(allowed: bool, action: str, message: str, object_type: str, **ids) -> None:
    ensure(db(), allowed, _actor(), action, message, object_type=object_type, **ids)


def managed_units(user) -> list[Unit]:
    """The units this person may manage: every unit for a desk administrator."""
    units = db().scalars(select(Unit).order_by(Unit.code)).all()
    return [u for u in units if perm.can_manage_unit(user, u.id)]


def _may_open(user, units) -> bool:
    return perm.can_administer(user) or bool(units)


@bp.app_context_processor
def administration_link():
    user = current_user
    visible = user.is_authenticated and (
        perm.can_administer(user) or any(perm.can_manage_unit(user, uid) for uid in user.roles_by_unit))
    return {"can_open_admin": visible}


def _people_choices(blank: str, *, exclude: int | None = None, active_only: bool = False) -> list:
    stmt = select(User.id, User.name, User.email).order_by(User.name, User.email)
    if active_only:
        stmt = stmt.where(User.active.is_(True))
    return choices(((uid, f"{name} <{email}>") for uid, name, email in db().execute(stmt) if uid != exclude), blank)


def _unit_choices(units: list[Unit]) -> list:
    return choices(((u.id, f"{u.code} — {u.name}") for u in units), "— choose a unit —")


def _unit_rows(units: list[Unit]) -> list:
    """Each unit with how many people hold a role in it and how many channels it owns."""
    members = (select(func.count(func.distinct(Membership.user_id))).where(Membership.unit_id == Unit.id)
               .scalar_subquery())
    channels = select(func.count(Channel.id)).where(Channel.unit_id == Unit.id).scalar_subquery()
    ids = [u.id for u in units]
    return db().execute(select(Unit, members, channels).where(Unit.id.in_(ids)).order_by(Unit.code)).all()


@bp.get("/")
@login_required
def index():
    """The overview: the units, people and channels this person may manage."""
    user = _actor()
    units = managed_units(user)
    _refuse_unless(_may_open(user, units), "admin.view", UNIT_ADMINS, "admin")
    counts = None
    if perm.can_administer(user):
        counts = {"units": len(units), "users": db().scalar(select(func.count(User.id))),
                  "channels": db().scalar(select(func.count(Channel.id)))}
    return render_template("admin/index.html", unit_rows=_unit_rows(units), counts=counts)


@bp.route("/units", methods=["GET", "POST"])
@login_required
def units():
    """List the units, and create one."""
    user = _actor()
    _refuse_unless(perm.can_administer(user), "unit.create" if request.method == "POST" else "unit.list",
                   ADMIN_ONLY, "unit")
    form = UnitForm()
    if form.validate_on_submit():
        try:
            unit = admin_service.create_unit(db(), user, form.code.data, form.name.data)
        except ValidationFailed as exc:
            show_refusal(db(), form, exc)
        else:
            flash(f"Unit {unit.code} ({unit.name}) created. Give people roles in it under Memberships, "
                  "and add its channels under Channels.", "success")
            return redirect(url_for("admin.units"))
    return render_template("admin/units.html", form=form, unit_rows=_unit_rows(managed_units(user)))


@bp.get("/users")
@login_required
def users():
    """Everyone with an account: their roles per unit, line manager and flags."""
    _refuse_unless(perm.can_administer(_actor()), "user.list", ADMIN_ONLY, "user")
    people = db().scalars(select(User).options(selectinload(User.line_manager)).order_by(User.name)).all()
    return render_template("admin/users.html", people=people, role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def new_user():
    """Create an account, with its flags and line manager."""
    actor = _actor()
    _refuse_unless(perm.can_administer(actor), "user.create", ADMIN_ONLY, "user")
    form = UserCreateForm()
    form.line_manager.choices = _people_choices("— nobody —", active_only=True)
    if form.validate_on_submit():
        manager = db().get(User, form.line_manager.data) if form.line_manager.data else None
        try:
            if form.line_manager.data and manager is None:
                raise ValidationFailed("That line manager no longer exists.",
                                       field_errors={"line_manager": ["That person no longer exists: choose again."]})
            person = admin_service.create_user(
                db(), actor, form.email.data, form.name.data, form.password.data, is_admin=form.is_admin.data,
                is_auditor=form.is_auditor.data, line_manager_email=manager.email if manager else None)
        except ValidationFailed as exc:
            show_refusal(db(), form, exc)
        else:
            flash(f"{person.name} can now sign in as {person.email}. Give them roles in their units below.",
                  "success")
            return redirect(url_for("admin.memberships", user=person.id))
    return render_template("admin/user_form.html", form=form, person=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def edit_user(user_id: int):
    """Change a person's name, flags, line manager or active state, or reset their password."""
    actor = _actor()
    _refuse_unless(perm.can_administer(actor), "user.update", ADMIN_ONLY, "user", object_id=user_id)
    person = get_or_404(db(), User, user_id, "user")
    form = UserEditForm(data={"name": person.name, "is_admin": person.is_admin, "is_auditor": person.is_auditor,
                              "active": person.active, "line_manager": person.line_manager_id})
    form.line_manager.choices = _people_choices("— nobody —", exclude=person.id)
    if form.validate_on_submit():
        try:
            admin_service.update_user(
                db(), actor, person.id, name=form.name.data, is_admin=form.is_admin.data,
                is_auditor=form.is_auditor.data, active=form.active.data, line_manager_id=form.line_manager.data,
                password=form.password.data or None)
        except ValidationFailed as exc:
            show_refusal(db(), form, exc)
            person = get_or_404(db(), User, user_id, "user")
        else:
            reset = " Their new password works from now on: give it to them by a safe route." \
                if form.password.data else ""
            flash(f"Saved {person.name}'s account.{reset}", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, person=person, role_labels=ROLE_LABELS)


@bp.route("/memberships", methods=["GET", "POST"])
@login_required
def memberships():
    """Roles per unit: list them, and give someone a role, in the units this person may manage."""
    actor = _actor()
    units = managed_units(actor)
    _refuse_unless(_may_open(actor, units), "membership.add" if request.method == "POST" else "membership.list",
                   UNIT_ADMINS, "membership")
    form = MembershipForm()
    form.user.choices = _people_choices("— choose a person —", active_only=True)
    form.unit.choices = _unit_choices(units)
    if request.method == "GET":
        form.user.data = query_int("user")
        form.unit.data = query_int("unit") or (units[0].id if len(units) == 1 else None)
    if form.validate_on_submit():
        try:
            m = admin_service.add_membership(db(), actor, form.user.data, form.unit.data, form.role.data)
        except ValidationFailed as exc:
            show_refusal(db(), form, exc)
        else:
            flash(f"{m.user.name} is now {ROLE_LABELS[m.role].lower()} in {m.unit.code}.", "success")
            return redirect(url_for("admin.memberships", unit=m.unit_id))
    shown = query_int("unit")
    unit_ids = [u.id for u in units if shown in (None, u.id)]
    rows = db().scalars(select(Membership).join(Membership.user).where(Membership.unit_id.in_(unit_ids))
                        .order_by(Membership.unit_id, User.name, Membership.role)).all()
    return render_template("admin/memberships.html", form=form, rows=rows, units=units, shown=shown,
                           role_labels=ROLE_LABELS)


@bp.post("/memberships/<int:membership_id>/remove")
@login_required
def remove_membership(membership_id: int):
    """Take one role in one unit away from one person."""
    m = get_or_404(db(), Membership, membership_id, "membership")
    said = f"{m.user.name} is no longer {ROLE_LABELS.get(m.role, m.role).lower()} in {m.unit.code}."
    unit_id = m.unit_id
    admin_service.remove_membership(db(), _actor(), membership_id)
    flash(said, "success")
    return redirect(url_for("admin.memberships", unit=unit_id))


@bp.get("/channels")
@login_required
def channels():
    """The channels of the units this person may manage."""
    actor = _actor()
    units = managed_units(actor)
    _refuse_unless(_may_open(actor, units), "channel.list", UNIT_ADMINS, "channel")
    rows = db().scalars(select(Channel).join(Channel.unit).where(Channel.unit_id.in_([u.id for u in units]))
                        .order_by(Unit.code, Channel.name)).all()
    return render_template("admin/channels.html", rows=rows, status_labels=STATUS_LABELS)


@bp.route("/channels/new", methods=["GET", "POST"])
@login_required
def new_channel():
    """Create a training channel, with its approvals and an optional event window."""
    actor = _actor()
    units = managed_units(actor)
    _refuse_unless(_may_open(actor, units), "channel.create", UNIT_ADMINS, "channel")
    form = ChannelCreateForm()
    form.unit.choices = _unit_choices(units)
    if request.method == "GET" and len(units) == 1:
        form.unit.data = units[0].id
    if form.validate_on_submit():
        try:
            window = form.window(settings().zone)
            channel = admin_service.create_channel(db(), actor, form.unit.data, "training", form.name.data,
                                                   form.approvals_required.data, **window, **form.event_feed())
        except ValidationFailed as exc:
            show_refusal(db(), form, exc)
        else:
            flash(f"Channel {channel.name} created for {channel.unit.code}: its authors can post to it now.",
                  "success")
            return redirect(url_for("admin.channels"))
    return render_template("admin/channel_form.html", form=form, channel=None)


@bp.route("/channels/<int:channel_id>", methods=["GET", "POST"])
@login_required
def edit_channel(channel_id: int):
    """Change a channel's name, status, approvals required or event window."""
    actor = _actor()
    channel = get_or_404(db(), Channel, channel_id, "channel")
    _refuse_unless(perm.can_manage_unit(actor, channel.unit_id), "channel.update",
                   f"Only a desk administrator or an administrator of {channel.unit.code} may change this channel.",
                   "channel", object_id=channel.id, channel_id=channel.id, unit_id=channel.unit_id)
    zone = settings().zone
    shown = {"live_from": local_input(channel.live_from, zone), "live_until": local_input(channel.live_until, zone)}
    form = ChannelEditForm(data={"name": channel.name, "status": channel.status,
                                 "approvals_required": channel.approvals_required, **shown,
                                 "is_event_feed": channel.is_event_feed, "operation_name": channel.operation_name,
                                 "late_after_minutes": channel.late_after_minutes})
    if form.validate_on_submit():
        try:
            window = form.window(zone, shown)
            admin_service.update_channel(db(), actor, channel.id, name=form.name.data, status=form.status.data,
                                         approvals_required=form.approvals_required.data, **window,
                                         **form.event_feed(), late_after_minutes=form.late_after_minutes.data)
        except ValidationFailed as exc:
            show_refusal(db(), form, exc)
            channel = get_or_404(db(), Channel, channel_id, "channel")
        else:
            flash(f"Saved channel {channel.name}.", "success")
            return redirect(url_for("admin.channels"))
    return render_template("admin/channel_form.html", form=form, channel=channel, status_labels=STATUS_LABELS,
                           late_default=settings().late_after_minutes)
