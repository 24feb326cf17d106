"""The template pages: each unit's templates, writing and approving them, suspending one at once, and
the fast "post an update" form that shows unit staff only the fields to fill in during an event (an update
whose values draw a screening warning goes to an approver instead, once the person ticks to send it)."""
from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..domain import permissions as perm
from ..domain import post_templates as domain
from ..domain import screening_gate as gate
from ..domain.clock import utcnow
from ..domain.errors import DeskError, NotFound, PermissionDenied, ValidationFailed, WorkflowConflict
from ..domain.timezones import parse_local
from ..models import Channel, PostTemplate, Unit
from ..services import templates as service
from ..services.common import ensure, get_or_404
from .context import db, settings
from .template_forms import (
    ApproveTemplateForm,
    SuspendForm,
    apply_errors,
    data_of,
    publish_form,
    rows_of,
    template_form,
    values_of,
)

bp = Blueprint("update_templates", __name__, url_prefix="/templates")


@bp.app_template_global("template_origin_of")
def template_origin_of(post) -> tuple | None:
    """(template, values, how it was made) for a post made from a template; None for any other post."""
    return service.origin_of(db(), post) if post is not None else None


@bp.app_template_filter("fromjson")
def from_json(text: str | None) -> dict:
    """An audit event's details, for showing a reason or a version on the page."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def me():
    return current_user._get_current_object()  # its grants were loaded with it (load_user)


def _visible(template_id: int) -> PostTemplate:
    t = get_or_404(db(), PostTemplate, template_id, "template")
    ensure(db(), t in service.visible_templates(db(), me()), me(), "template.view",
           "This template belongs to a unit you have no role or grant in.", object_type="template",
           object_id=t.id, unit_id=t.unit_id)
    return t


def _unit_channels(unit_id: int) -> list[Channel]:
    return list(db().scalars(select(Channel).where(Channel.unit_id == unit_id, Channel.status != "archived")
                             .order_by(Channel.name)))


def _writable_channels(unit_id: int) -> list[Channel]:
    now = utcnow()
    return [c for c in _unit_channels(unit_id) if perm.can_approve_for(me(), c, now)]


@bp.route("/")
@login_required
def index():
    """The templates of the units this person works for, and what they may do with each."""
    rows = service.visible_templates(db(), me())
    units = {u.id: u for u in db().scalars(select(Unit).order_by(Unit.code))}
    groups: dict[int, list] = {}
    for t in rows:
        groups.setdefault(t.unit_id, []).append(t)
    writable = [u for u in units.values() if _writable_channels(u.id)]
    return render_template("update_templates/index.html", groups=[(units[k], v) for k, v in groups.items()],
                           writable=writable, may_post=_may_post, labels=domain.STATUSES)


def _may_post(t: PostTemplate) -> bool:
    return t.status == service.APPROVED and perm.can_publish_template(me(), service.channels_of(db(), t), utcnow())


def _render_form(form, unit: Unit, template: PostTemplate | None, status: int = 200):
    return render_template("update_templates/form.html", form=form, unit=unit, template=template,
                           types=domain.FIELD_TYPES), status


def _save(unit: Unit, template: PostTemplate | None, channels: list[Channel]):
    form = template_form(channels)
    if not form.validate_on_submit():
        return _render_form(form, unit, template, 400)
    data = service.TemplateInput(form.name.data or "", form.body.data or "", rows_of(form), form.channel_ids.data or [])
    try:
        if template is None:
            template = service.create_template(db(), me(), unit.id, data)
        else:
            template = service.update_template(db(), me(), template.id, data)
    except ValidationFailed as exc:
        # Row numbers count the filled rows: give them back to the rows as shown.
        filled = [e.name for e in form.fields if any((e.form[k].data or "").strip() for k in e.form._fields)]
        aliases = {f"fields-{i}-{a}": f"{name}-{a}" for i, name in enumerate(filled)
                   for a in ("name", "label", "type", "limit", "choices")}
        apply_errors(form, exc.field_errors, aliases)
        form.form_errors.append(exc.message)
        return _render_form(form, unit, template, 400)
    flash("Saved. An approver other than you must approve this version before anyone can post from it.", "success")
    return redirect(url_for(".view", template_id=template.id))


@bp.route("/units/<int:unit_id>/new", methods=["GET", "POST"])
@login_required
def new(unit_id: int):
    """Write a template for one unit's channels."""
    unit = get_or_404(db(), Unit, unit_id, "unit")
    channels = _writable_channels(unit.id)
    ensure(db(), bool(channels), me(), "template.create", "Only an approver of the unit's channels may write "
           "its templates.", object_type="template", unit_id=unit.id)
    if request.method == "POST":
        return _save(unit, None, channels)
    return _render_form(template_form(channels, data={"fields": []}), unit, None)


@bp.route("/<int:template_id>/edit", methods=["GET", "POST"])
@login_required
def edit(template_id: int):
    """Edit a template: a new version, which must be approved again."""
    t = _visible(template_id)
    unit = db().get(Unit, t.unit_id)
    channels = _writable_channels(unit.id)
    ensure(db(), perm.can_write_template(me(), service.channels_of(db(), t), utcnow()), me(), "template.edit",
           "Only an approver of every channel of the template may edit it.", object_type="template",
           object_id=t.id, unit_id=t.unit_id)
    if request.method == "POST":
        return _save(unit, t, channels)
    data = data_of(t, service.fields_of(t), service.channel_ids_of(t))
    return _render_form(template_form(channels, data=data), unit, t)


def _render_view(t: PostTemplate, approve_form=None, suspend_form=None, status: int = 200):
    user, now = me(), utcnow()
    channels = service.channels_of(db(), t)
    try:
        findings = service.findings_of(t, now)
    except ValidationFailed as exc:  # the unit's policy cannot be read: approving is refused with the reason
        findings = []
        flash(exc.message, "error")
    editor = service.last_editor_id(db(), t)
    may = {
        "edit": perm.can_write_template(user, channels, now),
        "approve": t.status != service.APPROVED and perm.can_write_template(user, channels, now) and editor != user.id,
        "suspend": t.status == service.APPROVED and perm.can_suspend_template(user, t.unit_id, channels, now),
        "post": _may_post(t),
    }
    approve_form = approve_form or ApproveTemplateForm(formdata=None, expected_hash=t.content_hash)
    return render_template(
        "update_templates/view.html", t=t, unit=db().get(Unit, t.unit_id), channels=channels,
        specs=service.fields_of(t), sample=domain.sample(t.body, service.fields_of(t)).text, findings=findings,
        needs_ack=gate.requirement(findings).needs_acknowledgement, may=may, editor_is_me=editor == user.id,
        free_text=domain.has_free_text(service.fields_of(t)),
        approve_form=approve_form, suspend_form=suspend_form or SuspendForm(formdata=None),
        suspension=service.suspension(db(), t), history=service.history(db(), t), labels=domain.STATUSES,
    ), status


@bp.route("/<int:template_id>")
@login_required
def view(template_id: int):
    """A template: its text, fields, channels, screening, state and history."""
    return _render_view(_visible(template_id))


@bp.route("/<int:template_id>/approve", methods=["POST"])
@login_required
def approve(template_id: int):
    """Approve the version that was read (never one's own)."""
    form = ApproveTemplateForm()
    if not form.validate_on_submit():
        return _render_view(_visible(template_id), approve_form=form, status=400)
    try:
        service.approve_template(db(), me(), template_id, expected_hash=form.expected_hash.data,
                                 acknowledge_warnings=form.acknowledge_warnings.data)
    except ValidationFailed as exc:
        apply_errors(form, exc.field_errors)
        flash(exc.message, "error")
        return _render_view(_visible(template_id), approve_form=form, status=400)
    except WorkflowConflict as exc:
        flash(exc.message, "error")
        return redirect(url_for(".view", template_id=template_id))
    flash("Approved. Staff who may post to its channels can now post updates from it without a second approval, "
          "unless the screening warns about what they type in: those go to an approver.", "success")
    return redirect(url_for(".view", template_id=template_id))


@bp.route("/<int:template_id>/suspend", methods=["POST"])
@login_required
def suspend(template_id: int):
    """Stop a template at once, with the reason on the record."""
    form = SuspendForm()
    if not form.validate_on_submit():
        return _render_view(_visible(template_id), suspend_form=form, status=400)
    try:
        service.suspend_template(db(), me(), template_id, form.reason.data)
    except WorkflowConflict as exc:
        flash(exc.message, "error")
        return redirect(url_for(".view", template_id=template_id))
    flash("Suspended. Nobody can post from it until an approver approves it again.", "success")
    return redirect(url_for(".view", template_id=template_id))


def _render_publish(t: PostTemplate, form, warned: bool = False, status: int = 200):
    specs = service.fields_of(t)
    return render_template("update_templates/publish.html", t=t, form=form, specs=specs,
                           channels=service.channels_of(db(), t), sample=domain.sample(t.body, specs).text,
                           warned=warned, value_field=lambda s: form[f"value_{s.name}"]), status


def _local(text: str):
    try:
        return parse_local(text, settings().zone)
    except ValidationFailed as exc:  # a time that does not exist or is ambiguous here: said next to the field
        raise ValidationFailed(exc.message, field_errors={"scheduled_at": [exc.message]}) from None


@bp.route("/<int:template_id>/post", methods=["GET", "POST"])
@login_required
def publish(template_id: int):
    """Post an update: fill in the fields, and it goes out at once (or at its time) without a second approval,
    unless the screening warns about what was filled in: then, once ticked, it goes to an approver."""
    t = _visible(template_id)
    specs = service.fields_of(t)
    if request.method == "GET":
        if t.status != service.APPROVED:
            flash("Nothing can be posted from this template: " + domain.STATUSES[t.status].split(": ")[1] + ".",
                  "error")
            return redirect(url_for(".view", template_id=t.id))
        return _render_publish(t, publish_form(specs, bind=False))
    form = publish_form(specs)
    if not form.validate_on_submit():
        return _render_publish(t, form, status=400)
    try:
        when = None
        if form.when.data == "later":
            if not form.scheduled_at.data:
                raise ValidationFailed("Say when it should go out, or choose 'As soon as possible'.",
                                       field_errors={"scheduled_at": ["Choose a time."]})
            when = _local(form.scheduled_at.data)
        result = service.publish_from_template(db(), me(), t.id, values_of(form, specs), when,
                                               acknowledge_warnings=form.acknowledge_warnings.data)
    except (PermissionDenied, NotFound):
        raise
    except DeskError as exc:
        apply_errors(form, exc.field_errors)
        form.form_errors.append(exc.message)
        return _render_publish(t, form, warned=gate.ACKNOWLEDGE_FIELD in exc.field_errors,
                               status=exc.http_status)
    post = result.post
    names = ", ".join(tg.channel.name for tg in post.targets)
    if result.sent_for_approval:
        flash(f"Sent for approval: the screening warned about what was filled in, which the template's approval "
              f"does not cover. An approver of {names} must approve it before it goes out; it is in their "
              "approvals queue, and this page shows when it is decided.", "success")
    else:
        flash(("Posted: it goes out within seconds" if when is None else "Scheduled: it goes out at its time")
              + f" on {names}.", "success")
    return redirect(url_for("posts.view_post", post_id=post.id))
