"""The access pages: ask for access with a business case, decide as a line manager, and every grant for
administrators and auditors (filtered down to "who could post where on date D", and as CSV)."""
from __future__ import annotations

import io
import tempfile

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..domain import grants as rules
from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed, WorkflowConflict
from ..domain.timezones import display, utc_to_local
from ..models import Channel, Unit, User
from ..services import grant_queries as queries
from ..services import grants as grant_service
from ..services.common import ensure, get_or_404
from .admin_forms import choices, fill_people_unit_channel, show_refusal
from .context import db, settings
from .grant_forms import DecideForm, GrantFilterForm, RequestForm, RevokeForm, UnitPolicyForm
from .request_checks import query_int

bp = Blueprint("grants", __name__, url_prefix="/grants")
PER_PAGE = 50
READERS = "Only desk administrators and auditors may see every grant."


def _me() -> User:
    return current_user._get_current_object()


@bp.app_context_processor
def grant_helpers():
    """For the dashboard's include and the nav: computed only when a template asks."""
    return {"grant_notices": _notices, "grant_state": lambda g: rules.state(g, utcnow()),
            "grant_labels": rules.STATE_LABELS, "grant_roles": rules.ROLE_LABELS}


def _notices() -> dict:
    user = _me()
    own, team = queries.expiring_soon(db(), user, utcnow())
    return {"own": own, "team": team, "to_decide": len(queries.to_decide(db(), user))}


def _channel_choices() -> list:
    rows = db().execute(select(Channel.id, Channel.name, Unit.code).join(Channel.unit)
                        .where(Channel.status != "archived").order_by(Unit.code, Channel.name))
    return choices(((cid, f"{code} · {name}") for cid, name, code in rows), "— choose a channel —")


def _may_see_team(user) -> bool:
    reports = db().scalar(select(User.id).where(User.line_manager_id == user.id).limit(1))
    return reports is not None or any("unit_admin" in roles for roles in user.roles_by_unit.values())


@bp.route("/", methods=["GET", "POST"])
@login_required
def mine():
    """My access: ask for a channel with a business case; my requests and grants."""
    user = _me()
    form = RequestForm()
    form.channel.choices = _channel_choices()
    if request.method == "GET":  # a renewal link names the channel and the access
        form.channel.data = query_int("channel")
        form.role.data = request.args.get("role") if request.args.get("role") in rules.GRANT_ROLES else "author"
    if form.validate_on_submit():
        try:
            grant = grant_service.request(db(), user, form.channel.data, form.role.data, form.business_case.data,
                                          form.period_days.data)
        except ValidationFailed as exc:
            show_refusal(db(), form, exc)
        else:
            deciders = db().scalars(select(User.name).where(User.id.in_(grant_service.deciders_of(db(), grant))))
            flash(f"Your request for {grant.channel.name} was sent to {', '.join(deciders)}. You will see the "
                  "decision here.", "success")
            return redirect(url_for("grants.mine"))
    return render_template("grants/mine.html", form=form, grants=queries.mine(db(), user), now=utcnow(),
                           may_see_team=_may_see_team(user),
                           may_see_all=perm.can_administer(user) or perm.can_read_audit(user))


def _render_team(forms: dict | None = None, status: int = 200):
    user = _me()
    pending = queries.to_decide(db(), user)
    forms = forms or {}
    decide_forms = {g.id: forms.get(g.id) or DecideForm(formdata=None) for g in pending}
    return render_template("grants/team.html", pending=pending, decide_forms=decide_forms,
                           grants=queries.team(db(), user), revoke_form=RevokeForm(), now=utcnow()), status


@bp.get("/team")
@login_required
def team():
    """For line managers and unit administrators: requests to decide, and their team's grants."""
    return _render_team()


@bp.post("/<int:grant_id>/decide")
@login_required
def decide(grant_id: int):
    """Approve or refuse one request, with a comment."""
    form = DecideForm()
    if not form.validate_on_submit():
        return _render_team({grant_id: form}, 400)
    try:
        grant = grant_service.decide(db(), _me(), grant_id, approve=bool(form.approve.data),
                                     comment=form.comment.data)
    except ValidationFailed as exc:
        show_refusal(db(), form, exc)
        return _render_team({grant_id: form}, 400)
    except WorkflowConflict as exc:
        flash(exc.message, "error")
    else:
        if grant.status == rules.APPROVED:
            flash(f"{grant.user.name} may now {'draft' if grant.role == 'author' else 'approve'} for "
                  f"{grant.channel.name} until {_local(grant.expires_at)}.", "success")
        else:
            flash(f"{grant.user.name}'s request for {grant.channel.name} was refused; they see your comment.",
                  "success")
    return redirect(url_for("grants.team"))


@bp.post("/<int:grant_id>/revoke")
@login_required
def revoke(grant_id: int):
    """End a grant at once, with the reason on the record."""
    form = RevokeForm()
    back = request.form.get("next") if request.form.get("next", "").startswith("/grants") else url_for("grants.team")
    if form.validate_on_submit():
        try:
            grant = grant_service.revoke(db(), _me(), grant_id, form.reason.data)
        except (ValidationFailed, WorkflowConflict) as exc:
            db().rollback()
            flash(f"Nothing was revoked: {exc.message}", "error")
        else:
            flash(f"{grant.user.name}'s access to {grant.channel.name} ended now.", "success")
    return redirect(back)


def _local(moment) -> str:
    return display(moment, settings().zone)


def _filter_form() -> GrantFilterForm:
    form = GrantFilterForm(formdata=request.args)
    fill_people_unit_channel(form, db())
    return form


def _require_reader(action: str) -> None:
    user = _me()
    ensure(db(), perm.can_administer(user) or perm.can_read_audit(user), user, action, READERS, object_type="grant")


@bp.get("/all")
@login_required
def every():
    """Every grant, filtered by person, unit, channel, access, state and the day someone could post."""
    _require_reader("grants.list")
    form = _filter_form()
    f = form.grant_filter(settings().zone)
    page = query_int("page", 1)
    rows, total = queries.search(db(), f, page, PER_PAGE) if f else ([], 0)
    args = {k: v for k, v in request.args.items() if k != "page" and v != ""}
    return render_template("grants/all.html", form=form, grants=rows, total=total, page=page, now=utcnow(),
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), args=args,
                           revoke_form=RevokeForm()), 200 if f else 400


@bp.get("/all.csv")
@login_required
def export():
    """The filtered grants as CSV, oldest first: the FOI answer to "who could post where, and when"."""
    _require_reader("grants.export")
    f = _filter_form().grant_filter(settings().zone)
    if f is None:
        return every()
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    queries.export_csv(db(), _me(), f, text)
    text.flush()
    text.detach()
    spool.seek(0)
    day = utc_to_local(utcnow(), settings().zone)
    return send_file(spool, mimetype="text/csv", as_attachment=True, download_name=f"grants-{day:%Y%m%d}.csv")


@bp.route("/units/<int:unit_id>/policy", methods=["GET", "POST"])
@login_required
def unit_policy(unit_id: int):
    """A unit's access policy: how long grants last, and whether its roles give access without one."""
    user = _me()
    unit = get_or_404(db(), Unit, unit_id, "unit")
    ensure(db(), perm.can_administer(user), user, "unit.policy", "Only a desk administrator may change a unit's "
           "access policy.", object_type="unit", object_id=unit.id, unit_id=unit.id)
    form = UnitPolicyForm(data={"grant_period_days": unit.grant_period_days,
                                "roles_grant_access": unit.roles_grant_access})
    if form.validate_on_submit():
        try:
            grant_service.update_unit_policy(db(), user, unit.id, form.grant_period_days.data or unit.grant_period_days,
                                             form.roles_grant_access.data)
        except ValidationFailed as exc:
            show_refusal(db(), form, exc)
        else:
            flash(f"Saved {unit.code}'s access policy.", "success")
            return redirect(url_for("admin.units"))
    return render_template("grants/policy.html", form=form, unit=unit)
