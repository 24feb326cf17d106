"""Second copies of a post: sent by a worker after another had taken the post over, and removed by a person.

The worker's fence stops a worker whose claim was taken over before it creates the post; what it cannot
stop is a worker frozen (or cut off from the database) in the middle of that very call, which then
completes after another worker has published the post. Its success is recorded here, never hidden: the
post keeps the first copy, the second is audited (`target.sent_after_takeover`), listed on the post's page
and the status page with its link, and removed by one press of a button (the platform's own delete), by
those who may decide on the channel's posts. Reads for those pages are here too, each one query.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..domain.errors import DeskError, WorkflowConflict
from ..models import Channel, StrayCopy, Target
from ..platforms import PlatformContext, PlatformError, RemoteRef, publisher_class, publisher_for
from .audit_trail import record_target
from .common import ensure, get_or_404, lock

LISTED = 100


@dataclass(frozen=True)
class CopyRow:
    """One copy to remove, as the post's page and the status page show it."""

    id: int
    target_id: int
    post_id: int
    channel_id: int
    channel_name: str
    unit_code: str
    platform: str
    remote_id: str
    remote_url: str | None
    kept_remote_url: str | None  # the copy the desk keeps as the post
    sent_at: datetime
    may_remove: bool = False


def found(session: Session, actor, target: Target, worker: str, remote_id: str, remote_url: str | None,
          attempt_id: int | None, attempt_no: int, now: datetime) -> StrayCopy:
    """A worker's send succeeded after another worker had published the target: keep it as a copy to
    remove, in the caller's transaction."""
    copy = StrayCopy(target_id=target.id, attempt_id=attempt_id, worker=worker, remote_id=remote_id,
                     remote_url=remote_url, sent_at=now)
    session.add(copy)
    session.flush()
    record_target(session, actor, "target.sent_after_takeover", target, now, copy_id=copy.id, remote_id=remote_id,
                  url=remote_url, kept_remote_id=target.remote_id, attempt=attempt_no, worker=worker,
                  note="A worker sent this post after another had taken it over and published it: it is on the "
                       "platform twice. The second copy is listed on the post's page for a person to remove.")
    return copy


def remove(session: Session, actor, copy_id: int, context: PlatformContext, now: datetime | None = None) -> StrayCopy:
    """Delete the second copy from its platform and note it removed. A refusal by the platform is audited
    and said in words; the copy stays listed so that it can be tried again."""
    now = now or utcnow()
    copy = lock(session, StrayCopy, copy_id, "second copy")
    target, channel = copy.target, copy.target.channel
    ensure(session, perm.can_decide_on_target(actor, channel), actor, "target.remove_copy",
           f"Only approvers of {channel.name} and administrators of {channel.unit.code} remove a post's second "
           "copy.", object_type="target", object_id=target.id, post_id=target.post_id, channel_id=channel.id,
           unit_id=channel.unit_id)
    if copy.removed_at is not None:
        session.rollback()
        raise WorkflowConflict("Someone has removed this copy already: reload the page to see where it stands.")
    try:
        publisher_for(channel, context).delete(RemoteRef(copy.remote_id, copy.remote_url))
    except PlatformError as exc:
        record_target(session, actor, "target.copy_remove_failed", target, now, copy_id=copy.id,
                      remote_id=copy.remote_id, error_class=exc.error_class, code=exc.code, message=exc.message)
        session.commit()
        raise DeskError(f"{publisher_class(channel.platform).label} did not delete the second copy: {exc.message} "
                        "It is still listed; try again, or delete it on the platform and then press the button "
                        "again.") from None
    copy.removed_at, copy.removed_by_id = now, getattr(actor, "id", None)
    record_target(session, actor, "target.copy_removed", target, now, copy_id=copy.id, remote_id=copy.remote_id,
                  url=copy.remote_url)
    session.commit()
    return copy


def get(session: Session, copy_id: int) -> StrayCopy:
    return get_or_404(session, StrayCopy, copy_id, "second copy")


# ---- reads ----------------------------------------------------------------------------------------------

def _rows(session: Session, stmt, actor=None) -> list[CopyRow]:
    rows = session.execute(stmt.add_columns(Target.post_id, Target.channel_id, Target.remote_url, Channel)
                           .join(Target, StrayCopy.target_id == Target.id)
                           .join(Channel, Target.channel_id == Channel.id)
                           .where(StrayCopy.removed_at.is_(None)).order_by(StrayCopy.sent_at, StrayCopy.id)
                           .limit(LISTED)).all()
    return [CopyRow(c.id, c.target_id, post_id, channel_id, channel.name, channel.unit.code, channel.platform,
                    c.remote_id, c.remote_url, kept_url, c.sent_at,
                    actor is not None and perm.can_decide_on_target(actor, channel))
            for c, post_id, channel_id, kept_url, channel in rows]


def open_for_post(session: Session, post_id: int, actor=None) -> list[CopyRow]:
    """The copies of one post not yet removed (its page lists them under each channel)."""
    return _rows(session, select(StrayCopy).where(Target.post_id == post_id), actor)


def open_copies(session: Session, unit_ids: set[int] | None = None, actor=None) -> list[CopyRow]:
    """Every copy not yet removed, oldest first; with `unit_ids`, those units' channels only."""
    stmt = select(StrayCopy)
    if unit_ids is not None:
        stmt = stmt.where(Channel.unit_id.in_(unit_ids))
    return _rows(session, stmt, actor)
