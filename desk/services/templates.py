"""Use cases of operational templates: write, approve (four-eyes), suspend, and post an update from one.

An approved template stands in for the second approval of what its approver read: its own words and choice
lists. What may change is only its fields' values, each typed and limited, and screened like any post: when
the screening warns about what was filled in, the update goes to an approver like any post instead
(`domain/template_gate.py`). Editing a template makes it a draft again (a new version) that an approver
other than its last editor must approve. One transaction each, with its audit event.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from ..domain import permissions as perm
from ..domain import post_templates as domain
from ..domain import screening_gate as gate
from ..domain import template_gate
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed, WorkflowConflict
from ..domain.screening import Finding, screen
from ..models import AuditEvent, Channel, Post, PostTemplate, Target, Unit, User
from . import audit_trail
from . import posts as post_service
from .common import ensure, lock
from .grants import load_access
from .screening_policy import policy_of

DRAFT, APPROVED, SUSPENDED = "draft", "approved", "suspended"
EDITS = ("template.created", "template.edited")


@dataclass
class TemplateInput:
    name: str
    body: str
    fields: list[dict] = field(default_factory=list)  # [{name, label, type, limit, choices}]
    channel_ids: list[int] = field(default_factory=list)


@dataclass
class Published:
    """The update made: approved and queued on the template's approval, or in review for an approver."""

    post: Post
    decision: template_gate.Decision

    @property
    def sent_for_approval(self) -> bool:
        return self.decision.needs_approver

    @property
    def warnings(self) -> list[Finding]:
        return [*self.decision.unread, *self.decision.covered]


def fields_of(template: PostTemplate) -> tuple[domain.FieldSpec, ...]:
    return domain.fields_from_json(template.fields)


def channel_ids_of(template: PostTemplate) -> list[int]:
    return [int(c) for c in json.loads(template.channel_ids or "[]")]


def channels_of(session: Session, template: PostTemplate) -> list[Channel]:
    ids = channel_ids_of(template)
    return list(session.scalars(select(Channel).where(Channel.id.in_(ids)).order_by(Channel.name))) if ids else []


def last_editor_id(session: Session, template: PostTemplate) -> int | None:
    """Who wrote the current version: the trail records it with every edit (the table keeps only the creator)."""
    return session.scalar(select(AuditEvent.actor_id).where(
        AuditEvent.object_type == "template", AuditEvent.object_id == str(template.id),
        AuditEvent.action.in_(EDITS)).order_by(AuditEvent.seq.desc()).limit(1))


def history(session: Session, template: PostTemplate) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "template", AuditEvent.object_id == str(template.id)).order_by(AuditEvent.seq)))


def suspension(session: Session, template: PostTemplate) -> AuditEvent | None:
    """The event that suspended it (its reason is on the trail), while it is suspended."""
    if template.status != SUSPENDED:
        return None
    return session.scalar(select(AuditEvent).where(
        AuditEvent.object_type == "template", AuditEvent.object_id == str(template.id),
        AuditEvent.action == "template.suspended").order_by(AuditEvent.seq.desc()).limit(1))


def findings_of(template: PostTemplate, now: datetime | None = None) -> list[Finding]:
    """The template's own words screened, each field shown as its label, and each value of its choice lists:
    what an approver vouches for, so what an update from it may say without a second approval."""
    specs, policy, today = fields_of(template), policy_of(unit_of(template)), (now or utcnow()).date()
    found = screen(domain.sample(template.body, specs).text, policy=policy, today=today)
    for choice in dict.fromkeys(c for s in specs if s.type == domain.CHOICE for c in s.choices):
        found += screen(choice, policy=policy, today=today)
    return found


def read_at_approval(session: Session, template: PostTemplate) -> list[dict]:
    """The warnings the approver of this version acknowledged: the trail keeps them with the approval."""
    for details in session.scalars(select(AuditEvent.details).where(
            AuditEvent.object_type == "template", AuditEvent.object_id == str(template.id),
            AuditEvent.action == "template.approved").order_by(AuditEvent.seq.desc())):
        approved = json.loads(details or "{}")
        if approved.get("version") == template.version:
            return list(approved.get("acknowledged_findings") or [])
    return []


def unit_of(template: PostTemplate) -> Unit:
    return object_session(template).get(Unit, template.unit_id)


def _channels(session: Session, unit_id: int, ids: list[int]) -> list[Channel]:
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        raise ValidationFailed("Choose the channels the template is for.",
                               field_errors={"channel_ids": ["Choose at least one of the unit's channels."]})
    found = {c.id: c for c in session.scalars(select(Channel).where(Channel.id.in_(ids)))}
    wrong = [i for i in ids if i not in found or found[i].unit_id != unit_id]
    if wrong:
        raise ValidationFailed("A template is for its own unit's channels only.",
                               field_errors={"channel_ids": [f"Channel {wrong[0]} is not one of the unit's."]})
    archived = [c.name for c in found.values() if c.status == "archived"]
    if archived:
        raise ValidationFailed(f"{', '.join(archived)} is archived and takes no posts.",
                               field_errors={"channel_ids": [f"{', '.join(archived)} is archived."]})
    return [found[i] for i in ids]


def _snapshot(t: PostTemplate) -> dict:
    return {"name": t.name, "body": t.body, "fields": json.loads(t.fields), "channel_ids": channel_ids_of(t),
            "version": t.version, "content_hash": t.content_hash, "status": t.status}


def _refuse_writer(session, actor, unit_id, channels, action, object_id=None, now=None):
    load_access(session, actor)
    ensure(session, perm.can_write_template(actor, channels, now), actor, action,
           "Only an approver of every channel of the template may write or approve it.",
           object_type="template", object_id=object_id, unit_id=unit_id)


def _checked(session, actor, unit_id, data: TemplateInput, action, template_id, current: list[Channel], now):
    """The channels and fields, with every problem of the form said at once; the writer's right checked
    on the channels chosen (and, for an edit, on those the template had)."""
    errors: dict[str, list[str]] = {}
    try:
        channels = _channels(session, unit_id, data.channel_ids)
        _refuse_writer(session, actor, unit_id, channels + current, action, template_id, now)
    except ValidationFailed as exc:
        channels, errors = [], dict(exc.field_errors)
    try:
        specs = domain.check(data.name, data.body, data.fields)
    except ValidationFailed as exc:
        errors.update(exc.field_errors)
    if errors:
        raise ValidationFailed("The template was not saved: put right what is marked. What you typed is kept.",
                               field_errors=errors)
    return channels, specs


def create_template(session: Session, actor, unit_id: int, data: TemplateInput,
                    now: datetime | None = None) -> PostTemplate:
    now = now or utcnow()
    channels, specs = _checked(session, actor, unit_id, data, "template.create", None, [], now)
    name, body = data.name.strip(), data.body.strip()
    t = PostTemplate(unit_id=unit_id, name=name, body=body, fields=domain.fields_to_json(specs),
                     channel_ids=json.dumps([c.id for c in channels]), status=DRAFT, version=1,
                     content_hash=domain.content_hash(name, body, specs, [c.id for c in channels]),
                     created_by_id=actor.id, created_at=now, updated_at=now)
    session.add(t)
    session.flush()
    audit_trail.record(session, actor, "template.created", "template", t.id, unit_id=unit_id, now=now,
                       details=_snapshot(t))
    session.commit()
    return t


def update_template(session: Session, actor, template_id: int, data: TemplateInput,
                    now: datetime | None = None) -> PostTemplate:
    """Edit: a new version, a draft again, to be approved again by someone other than its editor."""
    now = now or utcnow()
    t = lock(session, PostTemplate, template_id, "template")
    channels, specs = _checked(session, actor, t.unit_id, data, "template.edit", t.id, channels_of(session, t), now)
    name, body, ids = data.name.strip(), data.body.strip(), [c.id for c in channels]
    new_hash = domain.content_hash(name, body, specs, ids)
    if new_hash == t.content_hash and sorted(ids) == sorted(channel_ids_of(t)):
        session.rollback()  # nothing changed: the approval stands
        return t
    before = {"previous_version": t.version, "previous_status": t.status, "previous_hash": t.content_hash}
    t.name, t.body, t.fields, t.channel_ids = name, body, domain.fields_to_json(specs), json.dumps(ids)
    t.version += 1
    t.status, t.approved_by_id, t.approved_at = DRAFT, None, None
    t.content_hash, t.updated_at = new_hash, now
    audit_trail.record(session, actor, "template.edited", "template", t.id, unit_id=t.unit_id, now=now,
                       details={**before, **_snapshot(t)})
    session.commit()
    return t


def approve_template(session: Session, actor, template_id: int, expected_hash: str | None = None,
                     acknowledge_warnings: bool = False, now: datetime | None = None) -> PostTemplate:
    now = now or utcnow()
    t = lock(session, PostTemplate, template_id, "template")
    _refuse_writer(session, actor, t.unit_id, channels_of(session, t), "template.approve", t.id, now)
    editor = last_editor_id(session, t)
    ensure(session, editor != actor.id, actor, "template.approve",
           "You wrote this version of the template: another approver must approve it.",
           object_type="template", object_id=t.id, unit_id=t.unit_id)
    if t.status == APPROVED:
        raise WorkflowConflict("This version of the template is already approved.")
    if expected_hash and expected_hash != t.content_hash:
        raise WorkflowConflict("The template changed after you opened it. Read the new version before approving.")
    acknowledged = gate.check_approval(gate.requirement(findings_of(t, now)), acknowledge_warnings)
    previous = t.status
    t.status, t.approved_by_id, t.approved_at, t.updated_at = APPROVED, actor.id, now, now
    details = {"version": t.version, "content_hash": t.content_hash, "previous_status": previous}
    if acknowledged:
        details["acknowledged_findings"] = [f.as_dict() for f in acknowledged]
    audit_trail.record(session, actor, "template.approved", "template", t.id, unit_id=t.unit_id, now=now,
                       details=details)
    session.commit()
    return t


def suspend_template(session: Session, actor, template_id: int, reason: str,
                     now: datetime | None = None) -> PostTemplate:
    """Stop a template at once: no update can be posted from it from this moment."""
    now = now or utcnow()
    t = lock(session, PostTemplate, template_id, "template")
    load_access(session, actor)
    ensure(session, perm.can_suspend_template(actor, t.unit_id, channels_of(session, t), now), actor,
           "template.suspend", "Only an approver of the template's channels or a unit administrator may suspend it.",
           object_type="template", object_id=t.id, unit_id=t.unit_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed("Say why the template is suspended: it goes on the record.",
                               field_errors={"reason": ["Say why it is suspended."]})
    if t.status == SUSPENDED:
        raise WorkflowConflict("The template is already suspended.")
    previous = t.status
    t.status, t.updated_at = SUSPENDED, now
    audit_trail.record(session, actor, "template.suspended", "template", t.id, unit_id=t.unit_id, now=now,
                       details={"version": t.version, "reason": reason, "previous_status": previous})
    session.commit()
    return t


def _screened(session: Session, t: PostTemplate, rendered: domain.Rendered, send_to_approver: bool,
              now: datetime) -> template_gate.Decision:
    """Screen the filled text: a blocking finding stops it, naming the words and the field they are in; a
    warning the template's approval does not cover stops it until the person says to send it to an approver."""
    findings = screen(rendered.text, policy=policy_of(unit_of(t)), today=now.date())
    decision = template_gate.decide(findings, rendered, fields_of(t),
                                    read_at_approval(session, t) if findings else [])
    template_gate.refuse(decision, send_to_approver)
    return decision


def publish_from_template(session: Session, actor, template_id: int, values: dict, scheduled_at: datetime | None = None,
                          acknowledge_warnings: bool = False, now: datetime | None = None) -> Published:
    """Post an update from an approved template: approved at once (the template was), queued for its time; or,
    when the screening warns about what was filled in and the person ticked to send it on
    (`acknowledge_warnings`), submitted for the usual approvals of its channels, like any post."""
    now = now or utcnow()
    # a suspension at the same moment waits for this, or stops it
    t = lock(session, PostTemplate, template_id, "template")
    channels = channels_of(session, t)
    load_access(session, actor)
    ensure(session, perm.can_publish_template(actor, channels, now), actor, "template.publish",
           "You may not post to every channel of this template: ask for access to them under Access.",
           object_type="template", object_id=t.id, unit_id=t.unit_id)
    if t.status != APPROVED:
        why = ("it is suspended" if t.status == SUSPENDED else "this version has not been approved yet")
        raise WorkflowConflict(f"Nothing was published: {why}. Ask an approver of the unit, or write a "
                               "post for approval instead.")
    wf.check_schedule(scheduled_at, now, field="scheduled_at")
    clean = domain.validate_values(fields_of(t), values or {})
    rendered = domain.render(t.body, clean)
    decision = _screened(session, t, rendered, acknowledge_warnings, now)
    to_approver = decision.needs_approver
    post = Post(author_id=actor.id, body=rendered.text, status=wf.IN_REVIEW if to_approver else wf.APPROVED,
                version=1, created_at=now, updated_at=now, submitted_at=now, template_id=t.id,
                template_version=t.version, template_values=json.dumps(clean, sort_keys=True, ensure_ascii=False))
    for c in channels:
        target = Target(channel_id=c.id, scheduled_at=scheduled_at, status=wf.T_PENDING if to_approver else wf.T_QUEUED,
                        attempts=0)
        target.channel = c
        post.targets.append(target)
    post.content_hash = wf.content_hash(post.body, None, [wf.TargetSpec(c.id, None, scheduled_at) for c in channels])
    problems = post_service.problems_of(post, now)
    if problems:
        words = "; ".join(m for msgs in problems.values() for m in msgs)
        raise ValidationFailed(f"Nothing was published: {words}", field_errors={
            ("body" if k in ("body", "link") or k.endswith("-text") else k): v for k, v in problems.items()})
    session.add(post)
    session.flush()
    approver = session.get(User, t.approved_by_id) if t.approved_by_id else None
    # The action itself says which way it went; the details say why, and which warnings.
    action = "post.submitted_from_template" if to_approver else "post.published_from_template"
    audit_trail.record(session, actor, action, "post", post.id, post_id=post.id,
                       unit_id=t.unit_id, now=now, details={
                           "template_id": t.id, "template_name": t.name, "template_version": t.version,
                           "template_hash": t.content_hash,
                           "template_approved_by": approver.email if approver else None,
                           "values": clean, "text": post.body, "content_hash": post.content_hash,
                           "channels": [c.id for c in channels],
                           "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
                           "approval": "approver" if to_approver else "template",
                           "approval_reason": template_gate.approval_reason(decision),
                           "warnings": decision.reasons(),
                           "covered_warnings": [f.as_dict() for f in decision.covered],
                           **({"approvals_required": {str(c.id): c.approvals_required for c in channels}}
                              if to_approver else {})})
    session.commit()
    return Published(post, decision)


ORIGIN_ACTIONS = ("post.published_from_template", "post.submitted_from_template")


def origin_of(session: Session, post: Post) -> tuple[PostTemplate, dict, dict] | None:
    """(template, values, the trail's account of how it was made) for a post made from a template; None for
    any other post. Posts made before updates could be sent to an approver have no `approval`: the template."""
    if not post.template_id:
        return None
    t = session.get(PostTemplate, post.template_id)
    if t is None:
        return None
    made = session.scalar(select(AuditEvent.details).where(
        AuditEvent.post_id == post.id, AuditEvent.action.in_(ORIGIN_ACTIONS)).order_by(AuditEvent.seq).limit(1))
    details = json.loads(made or "{}")
    details.setdefault("approval", "template")
    return t, json.loads(post.template_values or "{}"), details


def visible_templates(session: Session, user) -> list[PostTemplate]:
    """The templates of the units this person has a role in, or holds a grant for one of their channels."""
    rows = session.scalars(select(PostTemplate).order_by(PostTemplate.unit_id, PostTemplate.name)).all()
    if user.is_admin or user.is_auditor:
        return list(rows)
    load_access(session, user)
    granted = {g.channel_id for g in perm.access_grants(user)}
    return [t for t in rows if t.unit_id in user.roles_by_unit or granted & set(channel_ids_of(t))]
