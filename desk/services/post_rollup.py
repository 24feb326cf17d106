"""A post's state follows its targets': published, partly published or failed once they settle.

Shared by publishing, reconciling and a person's decisions, each of which settles targets.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..domain import workflow as wf
from ..models import Post
from .audit_trail import record


def roll_up(session: Session, post: Post, actor, now: datetime) -> None:
    new = wf.rollup([t.status for t in post.targets], post.status)
    if new != post.status:
        before, post.status = post.status, new
        post.updated_at = now
        record(session, actor, f"post.{new}", "post", post.id, post_id=post.id, now=now,
               details={"previous_status": before,
                        "targets": {str(t.channel_id): t.status for t in post.targets}})
