"""Use cases of a post: draft, submit, approve, reject, withdraw, retract. One transaction each."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import permissions as perm
from ..domain import recurrence
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..domain.errors import DeskError, ValidationFailed, WorkflowConflict
from ..models import Approval, Channel, Media, Post, Target, TargetMedia
from ..platforms import PlatformContext, PlatformError, RemoteRef, publisher_for
from . import audit_trail, post_screening, recurring
from .common import ensure, get_or_404
from .grants import load_access
from .post_content import canonical_extra, extra_of, target_field
from .post_screening import problems_of


@dataclass
class TargetInput:
    channel_id: int
    text: str | None = None
    scheduled_at: datetime | None = None  # UTC; None: as soon as approved
    extra: dict | None = None             # per-platform fields; None keeps what the target has
    media_ids: list[int] | None = None    # attached files in order; None keeps what the target has


@dataclass
class RecurrenceInput:
    rule: str
    until: datetime | None = None  # UTC; None: until someone stops it


@dataclass
class PostInput:
    body: str
    link: str | None = None
    targets: list[TargetInput] = field(default_factory=list)
    recurrence: RecurrenceInput | None = None  # a repeating series; None: a one-off post


@dataclass
class DraftResult:
    post: Post
    problems: dict[str, list[str]]


def _specs(post: Post) -> list[wf.TargetSpec]:
    return [wf.TargetSpec(t.channel_id, t.text, t.scheduled_at, t.extra or "{}",
                          tuple(link.media.sha256 for link in t.media_links)) for t in post.targets]


def _snapshot(post: Post) -> dict:
    """The version an auditor needs to see: exactly what was written, where and when."""
    return {**_recurrence_snapshot(post),
        "body": post.body, "link": post.link, "content_hash": post.content_hash,
        "targets": [{"channel_id": t.channel_id, "text": t.text,
                     "scheduled_at": t.scheduled_at.isoformat() if t.scheduled_at else None,
                     "extra": extra_of(t),
                     "media": [{"id": m.media_id, "sha256": m.media.sha256, "filename": m.media.filename}
                               for m in t.media_links]}
                    for t in post.targets],
    }


def _recurrence_snapshot(post: Post) -> dict:
    if not post.recurrence_rule:
        return {}
    until = post.recurrence_until
    return {"recurrence": {"rule": post.recurrence_rule, "until": until.isoformat() if until else None}}


def _hash_of(post: Post) -> str:
    rule = (post.recurrence_rule, post.recurrence_until) if post.recurrence_rule else None
    return wf.content_hash(post.body, post.link, _specs(post), rule)


def _apply_input(session: Session, post: Post, data: PostInput) -> None:
    post.body = data.body or ""
    post.link = (data.link or "").strip() or None
    wanted = {t.channel_id: t for t in data.targets}
    for t in list(post.targets):
        if t.channel_id not in wanted:
            post.targets.remove(t)
    existing = {t.channel_id: t for t in post.targets}
    for channel_id, spec in wanted.items():
        target = existing.get(channel_id)
        if target is None:
            target = Target(channel_id=channel_id, status=wf.T_PENDING, attempts=0)
            target.channel = session.get(Channel, channel_id)
            post.targets.append(target)
        target.text = (spec.text or "").strip() or None
        target.scheduled_at = spec.scheduled_at
        if spec.extra is not None:
            target.extra = canonical_extra(spec.extra)
        if spec.media_ids is not None:
            _attach_media(session, target, spec.media_ids)
    series = data.recurrence
    # The rule is read once here, so that one that cannot be read is never saved.
    post.recurrence_rule = recurrence.parse(series.rule).text if series else None
    post.recurrence_until = series.until if series else None
    post.content_hash = _hash_of(post)


def _media_units(session: Session, data: PostInput) -> set[int]:
    ids = {i for t in data.targets for i in (t.media_ids or [])}
    return set(session.scalars(select(Media.unit_id).where(Media.id.in_(ids)))) if ids else set()


def _attach_media(session: Session, target: Target, media_ids: list[int]) -> None:
    wanted = list(dict.fromkeys(media_ids))  # order kept, repeats dropped
    found = {m.id: m for m in session.scalars(select(Media).where(Media.id.in_(wanted)))} if wanted else {}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ValidationFailed(f"There is no media file {missing[0]}.",
                               field_errors={target_field(target.channel_id, "media"): ["Unknown media file."]})
    target.media_links.clear()
    session.flush()
    for position, media_id in enumerate(wanted):
        target.media_links.append(TargetMedia(media_id=media_id, position=position, media=found[media_id]))


def save_draft(session: Session, actor, data: PostInput, post_id: int | None = None,
               now: datetime | None = None) -> DraftResult:
    """Create or edit a post. Editing an approved or in-review post withdraws its approvals."""
    now = now or utcnow()
    channels = {c.id: c for c in session.scalars(select(Channel).where(
        Channel.id.in_([t.channel_id for t in data.targets])))} if data.targets else {}
    missing = [t.channel_id for t in data.targets if t.channel_id not in channels]
    if missing:
        raise ValidationFailed(f"There is no channel {missing[0]}.", field_errors={"channels": ["Unknown channel."]})
    load_access(session, actor)  # grants decided or revoked a moment ago count at once
    forbidden = [c.name for c in channels.values() if not perm.can_draft_for(actor, c, now)]
    ensure(session, not forbidden, actor, "post.save",
           f"You may not draft for {', '.join(forbidden)}: ask for access to it under Access, with a business "
           "case for your line manager.",
           object_type="post", object_id=post_id, post_id=post_id)
    foreign = sorted(u for u in _media_units(session, data) if u not in perm.media_unit_ids(actor, now))
    ensure(session, not foreign, actor, "post.save",
           "A media file you attached belongs to a unit whose library you may not use: use your own unit's "
           "media.",
           object_type="post", object_id=post_id, post_id=post_id)
    archived = [c.name for c in channels.values() if c.status == "archived"]
    if archived:
        raise ValidationFailed(f"{', '.join(archived)} is archived and takes no posts.",
                               field_errors={"channels": [f"{', '.join(archived)} is archived."]})
    if post_id is None:
        post = Post(author_id=actor.id, status=wf.DRAFT, version=1, created_at=now, updated_at=now)
        post.author = actor
        session.add(post)
        _apply_input(session, post, data)
        session.flush()
        audit_trail.record(session, actor, "post.created", "post", post.id, post_id=post.id,
                           details=_snapshot(post), now=now)
    else:
        post = get_or_404(session, Post, post_id, "post")
        ensure(session, perm.can_edit_post(actor, post), actor, "post.edit",
               "Only the post's author may edit it.", object_type="post", object_id=post.id, post_id=post.id)
        if post.series_id is not None:
            raise WorkflowConflict(f"This is one occurrence of the repeating post {post.series_id}: edit that "
                                   "series instead (it then needs approving again), or withdraw just this one.")
        wf.require_transition(post.status, "edit")
        if post.status == wf.RECURRING:
            post = recurring.lock_series(session, post.id)  # no worker makes occurrences of the old version now
        if any(t.status in (wf.T_SENDING, wf.T_PUBLISHED) for t in post.targets):
            raise WorkflowConflict("Part of this post is already going out: it can no longer be edited.")
        before_hash, before_status = post.content_hash, post.status
        _apply_input(session, post, data)
        if post.content_hash == before_hash and before_status in (wf.IN_REVIEW, wf.APPROVED, wf.RECURRING):
            session.rollback()  # nothing changed: nothing is withdrawn
            return DraftResult(post, problems_of(post, now))
        for t in post.targets:
            t.status = wf.T_PENDING
        withdrawn = 0
        for a in post.approvals:
            if a.withdrawn_at is None and a.decision == "approve":
                a.withdrawn_at = now
                withdrawn += 1
        post.status = wf.DRAFT
        post.version += 1
        post.updated_at = now
        audit_trail.record(session, actor, "post.edited", "post", post.id, post_id=post.id, now=now,
                           details={"previous_status": before_status, "previous_hash": before_hash,
                                    "approvals_withdrawn": withdrawn, "version": post.version, **_snapshot(post)})
        if before_status == wf.RECURRING:
            recurring.withdraw_occurrences(session, actor, post, now, free_slots=True,
                                           reason="The series was edited: its occurrences wait for the new "
                                                  "version's approval.")
    session.commit()
    return DraftResult(post, problems_of(post, now))


def _post_for(session: Session, actor, post_id: int, action: str, allowed, refusal: str) -> Post:
    """Load the post, refuse (audited) if `allowed(actor, post)` says no, and check the workflow allows it."""
    post = get_or_404(session, Post, post_id, "post")
    ensure(session, allowed(actor, post), actor, f"post.{action}", refusal, object_type="post",
           object_id=post.id, post_id=post.id)
    wf.require_transition(post.status, action)
    return post


def submit(session: Session, actor, post_id: int, now: datetime | None = None) -> Post:
    now = now or utcnow()
    post = _post_for(session, actor, post_id, "submit", perm.can_edit_post, "Only the post's author may submit it.")
    post_screening.refuse_if_blocked(post, now)  # names the words that may not be published
    problems = problems_of(post, now)
    if problems:
        raise ValidationFailed("The post cannot be submitted yet: fix the problems shown.", field_errors=problems)
    post.status = wf.IN_REVIEW
    post.submitted_at = now
    post.updated_at = now
    post.rejection_comment = None
    audit_trail.record(session, actor, "post.submitted", "post", post.id, post_id=post.id, now=now,
                       details=_snapshot(post))
    session.commit()
    return post


def votes_of(post: Post) -> list[wf.ApprovalVote]:
    return [wf.ApprovalVote(a.approver_id, frozenset(int(c) for c in a.scope.split(",") if c))
            for a in post.approvals
            if a.decision == "approve" and a.withdrawn_at is None and a.content_hash == post.content_hash]


def outstanding(post: Post) -> dict[int, int]:
    requirements = {t.channel_id: t.channel.approvals_required for t in post.targets}
    return wf.outstanding_approvals(requirements, votes_of(post), post.author_id)


def _check_version(post: Post, expected_hash: str | None) -> None:
    if expected_hash and expected_hash != post.content_hash:
        raise WorkflowConflict("The post changed after you opened it. Read the new version before deciding.")


def approve(session: Session, actor, post_id: int, expected_hash: str | None = None, comment: str | None = None,
            now: datetime | None = None, acknowledge_warnings: bool = False) -> Post:
    now = now or utcnow()
    post = get_or_404(session, Post, post_id, "post")
    reason = ("You wrote this post: another approver must approve it." if post.author_id == actor.id
              else "You are not an approver for any channel of this post.")
    load_access(session, actor)
    ensure(session, perm.can_approve_post(actor, post, now), actor, "post.approve", reason,
           object_type="post", object_id=post.id, post_id=post.id)
    wf.require_transition(post.status, "approve")
    _check_version(post, expected_hash)
    scope = perm.approvable_channel_ids(actor, post, now)
    if any(v.approver_id == actor.id for v in votes_of(post)):
        raise WorkflowConflict("You have already approved this version. It needs a different approver now.")
    if not scope & set(outstanding(post)):
        raise WorkflowConflict("The channels you approve for already have the approvals they need.")
    acknowledged = post_screening.for_approval(post, scope, acknowledge_warnings, now)  # warnings need the tick
    session.add(Approval(post_id=post.id, approver_id=actor.id, decision="approve", content_hash=post.content_hash,
                         comment=(comment or "").strip() or None, scope=",".join(str(c) for c in sorted(scope)),
                         decided_at=now, acknowledged_findings=post_screening.acknowledged_json(acknowledged)))
    session.flush()
    session.refresh(post, ["approvals"])
    left = outstanding(post)
    details = {"content_hash": post.content_hash, "channels": sorted(scope), "comment": comment or None,
               "remaining": {str(k): v for k, v in left.items()}, **post_screening.audit_details(acknowledged)}
    if left:
        audit_trail.record(session, actor, "post.approval_recorded", "post", post.id, post_id=post.id,
                           now=now, details=details)
    elif post.recurrence_rule:
        recurring.start(post, now)  # its occurrences are made ahead by the worker, from now on
        audit_trail.record(session, actor, "post.approved", "post", post.id, post_id=post.id, now=now,
                           details={**details, **_snapshot(post), "series": True})
    else:
        post.status = wf.APPROVED
        for t in post.targets:
            t.status = wf.T_QUEUED
            t.attempts = 0
            t.next_attempt_at = None
        audit_trail.record(session, actor, "post.approved", "post", post.id, post_id=post.id, now=now,
                           details={**details, **_snapshot(post)})
    post.updated_at = now
    session.commit()
    return post


def reject(session: Session, actor, post_id: int, comment: str, expected_hash: str | None = None,
           now: datetime | None = None) -> Post:
    now = now or utcnow()
    post = _post_for(session, actor, post_id, "reject", perm.can_approve_post,
                     "Only an approver of this post's channels (not its author) may reject it.")
    _check_version(post, expected_hash)
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed("Say why it is rejected, so the author can put it right.",
                               field_errors={"comment": ["Say why it is rejected."]})
    session.add(Approval(post_id=post.id, approver_id=actor.id, decision="reject", content_hash=post.content_hash,
                         comment=comment, scope="", decided_at=now))
    post.status = wf.REJECTED
    post.rejection_comment = comment
    post.updated_at = now
    audit_trail.record(session, actor, "post.rejected", "post", post.id, post_id=post.id, now=now,
                       details={"comment": comment, "content_hash": post.content_hash})
    session.commit()
    return post


def withdraw(session: Session, actor, post_id: int, reason: str | None = None, now: datetime | None = None) -> Post:
    now = now or utcnow()
    post = _post_for(session, actor, post_id, "withdraw", perm.can_withdraw,
                     "Only the author or an approver of its channels may withdraw a post.")
    if any(t.status in (wf.T_SENDING, wf.T_PUBLISHED, wf.T_UNKNOWN) for t in post.targets):
        raise WorkflowConflict("Part of this post has already gone out (or may have): retract it instead.")
    if post.status == wf.RECURRING:
        post = recurring.lock_series(session, post.id)
    before = post.status
    post.status = wf.WITHDRAWN
    for t in post.targets:
        t.status = wf.T_CANCELLED
    post.updated_at = now
    audit_trail.record(session, actor, "post.withdrawn", "post", post.id, post_id=post.id, now=now,
                       details={"previous_status": before, "reason": (reason or "").strip() or None})
    if post.recurrence_rule:
        recurring.withdraw_occurrences(session, actor, post, now, free_slots=False,
                                       reason=f"The repeating post {post.id} was stopped.")
    session.commit()
    return post


def retract(session: Session, actor, post_id: int, reason: str, context: PlatformContext,
            now: datetime | None = None) -> Post:
    """Delete a published post from its platforms; what cannot be deleted is said, and kept as is."""
    now = now or utcnow()
    post = _post_for(session, actor, post_id, "retract", perm.can_retract,
                     "Only an approver of this post's channels may retract it.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give the reason for the retraction: it goes on the record.",
                               field_errors={"reason": ["Give the reason for the retraction."]})
    failures = []
    for t in post.targets:
        if t.status == wf.T_PUBLISHED:
            try:
                publisher_for(t.channel, context).delete(RemoteRef(t.remote_id, t.remote_url))
            except PlatformError as exc:
                failures.append(f"{t.channel.name}: {exc.message}")
                audit_trail.record(session, actor, "target.retract_failed", "target", t.id, post_id=post.id,
                                   channel_id=t.channel_id, now=now,
                                   details={"error_class": exc.error_class, "code": exc.code, "message": exc.message})
                continue
            t.status = wf.T_RETRACTED
            audit_trail.record(session, actor, "target.retracted", "target", t.id, post_id=post.id,
                               channel_id=t.channel_id, now=now, details={"remote_id": t.remote_id})
        elif t.status in wf.TARGET_IN_FLIGHT - {wf.T_SENDING, wf.T_UNKNOWN}:
            t.status = wf.T_CANCELLED
    if not failures:
        post.status = wf.RETRACTED
        post.retraction_reason = reason
        audit_trail.record(session, actor, "post.retracted", "post", post.id, post_id=post.id, now=now,
                           details={"reason": reason})
    post.updated_at = now
    session.commit()
    if failures:
        raise DeskError("Some channels could not delete the post; it is still up there: " + "; ".join(failures)
                        + ". Try again, or delete it on the platform and tell the desk's administrator.")
    return post
