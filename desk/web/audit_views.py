"""The audit trail for auditors and administrators: browse and filter it, export it, verify its chain.

Anyone else is refused, and the refusal is itself written into the trail.
"""
from __future__ import annotations

import io
import json
import tempfile
from datetime import date, datetime, timedelta

from flask import Blueprint, current_app, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from ..domain import limits
from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed
from ..domain.timezones import parse_local, utc_to_local
from ..models import Channel, Unit, User
from ..services import audit_trail
from ..services.audit_trail import AuditFilter
from ..services.common import ensure
from .admin_forms import fill_people_unit_channel, optional_id
from .context import db, settings
from .request_checks import query_int

bp = Blueprint("audit", __name__, url_prefix="/audit")

PER_PAGE = 50
ONLY_AUDITORS = "Only auditors and desk administrators may read the audit trail."
FILTER_KEYS = ("person", "unit", "channel", "post", "action", "since", "until")


class FilterForm(FlaskForm):
    """Read from the query string: a filter changes nothing, so it needs no CSRF token."""

    class Meta:
        csrf = False

    person = SelectField("Person", coerce=optional_id, validate_choice=False)
    unit = SelectField("Unit", coerce=optional_id, validate_choice=False)
    channel = SelectField("Channel", coerce=optional_id, validate_choice=False)
    post = IntegerField("Post id", validators=[Optional(), NumberRange(
        min=1, max=limits.MAX_ID, message=f"A post id is a number from 1 to {limits.MAX_ID}.")])
    action = StringField("Action", validators=[Length(max=limits.SHORT_MAX)])
    since = DateField("From (date)", validators=[Optional()])
    until = DateField("Until (date, included)", validators=[Optional()])


def _filter_form() -> FilterForm:
    form = FilterForm(formdata=request.args)
    fill_people_unit_channel(form, db())
    return form


def action_pattern(text: str | None) -> str | None:
    """'post.approved' is exact; 'post' or 'post.' is the whole family; a '*' is a wildcard."""
    text = (text or "").strip()
    if not text or "*" in text:
        return text or None
    if text.endswith("."):
        return text + "*"
    return text if "." in text else text + ".*"


def _local_midnight(day: date, field) -> datetime | None:
    try:
        return parse_local(f"{day:%Y-%m-%d} 00:00", settings().zone)
    except ValidationFailed as exc:
        field.errors.append(exc.message)
        return None


def audit_filter(form: FilterForm) -> AuditFilter | None:
    """The service's filter from a valid form; dates are whole local days in the desk's zone."""
    if not form.validate():
        return None
    since = _local_midnight(form.since.data, form.since) if form.since.data else None
    until = _local_midnight(form.until.data + timedelta(days=1), form.until) if form.until.data else None
    if form.since.data and form.until.data and form.until.data < form.since.data:
        form.until.errors.append("The end date is before the start date: swap them.")
    if form.errors:
        return None
    return AuditFilter(actor_id=form.person.data, unit_id=form.unit.data, channel_id=form.channel.data,
                       post_id=form.post.data, action=action_pattern(form.action.data), since=since, until=until)


def _require_reader(action: str) -> None:
    user = current_user._get_current_object()
    ensure(db(), perm.can_read_audit(user), user, action, ONLY_AUDITORS, object_type="audit")


def pretty(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=1 if isinstance(value, dict) else None)


def _lookup(id_column, label_column, ids) -> dict:
    """Names for the ids on one page: a person, unit or channel may have been renamed, the trail keeps ids."""
    wanted = set(ids) - {None}
    return dict(db().execute(select(id_column, label_column).where(id_column.in_(wanted))).all()) if wanted else {}


def _rows(events) -> list[dict]:
    names = _lookup(User.id, User.name, (e.actor_id for e in events))
    units = _lookup(Unit.id, Unit.code, (e.unit_id for e in events))
    channels = _lookup(Channel.id, Channel.name, (e.channel_id for e in events))
    return [{
        "event": e,
        "actor_name": names.get(e.actor_id),
        "unit": units.get(e.unit_id),
        "channel": channels.get(e.channel_id),
        "details": [(k, pretty(v)) for k, v in audit_trail.details_of(e).items()],
        "post_url": url_for("posts.view_post", post_id=e.post_id) if e.post_id else None,
    } for e in events]


def _filter_args() -> dict:
    return {k: v for k, v in request.args.items() if k in FILTER_KEYS and v != ""}


def _render(report=None):
    """The trail's page; 400 when the filter cannot be read (its fields say why)."""
    form = _filter_form()
    f = audit_filter(form)
    page = query_int("page", 1)
    events, total = audit_trail.query(db(), f, page, PER_PAGE) if f else ([], 0)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template("audit/index.html", form=form, rows=_rows(events), total=total, page=page, pages=pages,
                           args=_filter_args(), filtered=bool(_filter_args()), report=report,
                           invalid=f is None), 200 if f is not None else 400


@bp.get("/")
@login_required
def index():
    """The trail, newest first, filtered by person, unit, channel, post, action and dates, 50 a page."""
    _require_reader("audit.read")
    return _render()


@bp.get("/export")
@login_required
def export():
    """The filtered trail as a CSV file, oldest first, with each row's hashes."""
    _require_reader("audit.export")
    form = _filter_form()
    f = audit_filter(form)
    if f is None:
        return _render()
    # Spooled to disk rather than held in memory: the trail grows for ever.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    audit_trail.export(db(), current_user._get_current_object(), f, text, "web download")
    text.flush()
    text.detach()
    spool.seek(0)
    day = utc_to_local(utcnow(), settings().zone)
    return send_file(spool, mimetype="text/csv", as_attachment=True, download_name=f"audit-{day:%Y%m%d}.csv")


@bp.post("/verify")
@login_required
def verify():
    """Walk the whole hash chain and say whether any row was altered, inserted or deleted."""
    _require_reader("audit.verify")
    # Its own session: the walk releases the rows it has read, which must not touch the request's objects.
    with current_app.extensions["desk.sessions"]() as session:
        report = audit_trail.verify(session)
    return _render(report)
