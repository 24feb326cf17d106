"""What every use case shares: loading with a clear 404, and refusing with an audit event."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from ..domain.clock import utcnow
from ..domain.errors import NotFound, PermissionDenied
from . import audit_trail


def get_or_404(session: Session, model, object_id, what: str):
    obj = session.get(model, object_id) if object_id is not None else None
    if obj is None:
        raise NotFound(f"There is no {what} {object_id}.")
    return obj


def lock(session: Session, model, object_id, what: str | None = None, *, bare: bool = False):
    """Load a row for update (only that row, not what it eagerly joins), refreshed from the database.
    With `what`, a missing row is the person's clear 404 rather than an internal error. `bare` loads
    none of its relationships until they are touched (the worker's hot path: a post's approvals and
    author cost a query each and it needs neither)."""
    stmt = select(model).where(model.id == object_id).with_for_update(of=model)
    if bare:
        stmt = stmt.options(lazyload("*"))
    rows = session.scalars(stmt.execution_options(populate_existing=True)).unique()
    if what is None:
        return rows.one()
    row = rows.one_or_none()
    if row is None:
        raise NotFound(f"There is no {what} {object_id}.")
    return row


def ensure(session: Session, allowed: bool, actor, action: str, message: str, *, object_type: str,
           object_id=None, post_id=None, unit_id=None, channel_id=None) -> None:
    """Refuse a forbidden action: the refusal itself is audited and committed, then raised."""
    if allowed:
        return
    session.rollback()
    audit_trail.record(session, actor, "access.refused", object_type, object_id,
                       details={"attempted": action, "reason": message},
                       post_id=post_id, unit_id=unit_id, channel_id=channel_id, now=utcnow())
    session.commit()
    raise PermissionDenied(message)
