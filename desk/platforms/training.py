"""The training channel: publishes into the desk itself, so the whole flow works with no credentials.

Staff learning the desk can rehearse failures too: a text containing [fail:transient],
[fail:permanent] or [fail:auth] makes the channel answer as a real platform would.
"""
from __future__ import annotations

import secrets

from sqlalchemy import select

from ..domain.clock import utcnow
from ..models import TrainingPublication
from .base import (
    AUTH,
    PERMANENT,
    TRANSIENT,
    Content,
    PlatformError,
    Problem,
    Publisher,
    PublishRequest,
    RemoteRef,
    register,
)

MAX_TEXT = 500

_REHEARSALS = {
    "[fail:transient]": (TRANSIENT, "training-503",
                         "The training platform is busy (a rehearsed outage). The desk will try again by itself."),
    "[fail:permanent]": (PERMANENT, "training-400",
                         "The training platform refused the post (a rehearsed refusal). Edit the post and submit it "
                         "again."),
    "[fail:auth]": (AUTH, "training-401",
                    "The training channel's authorisation has lapsed (rehearsed): an administrator must reconnect it."),
}


@register
class TrainingPublisher(Publisher):
    platform = "training"
    label = "Training"

    @classmethod
    def validate(cls, content: Content) -> list[Problem]:
        problems = []
        if not content.text.strip():
            problems.append(Problem("text", "Write something: an empty post cannot be published."))
        if len(content.text) > MAX_TEXT:
            problems.append(Problem(
                "text", f"The training channel takes at most {MAX_TEXT} characters; this text has "
                        f"{len(content.text)}. Shorten it by {len(content.text) - MAX_TEXT}."))
        if content.link and not content.link.startswith(("http://", "https://")):
            problems.append(Problem("link", "A link must start with http:// or https://."))
        return problems

    def publish(self, request: PublishRequest) -> RemoteRef:
        for marker, (error_class, code, message) in _REHEARSALS.items():
            if marker in request.content.text:
                raise PlatformError(error_class, message, code=code)
        request.before_create(self.context.timeout)  # the fence, as on every platform
        remote_id = "trn_" + secrets.token_hex(8)
        with self.context.session_factory() as session:
            session.add(TrainingPublication(
                channel_id=request.channel_id, remote_id=remote_id, target_id=request.target_id,
                text=request.content.text, link=request.content.link, published_at=utcnow()))
            session.commit()
        return RemoteRef(remote_id, self._url(remote_id))

    def _url(self, remote_id: str) -> str:
        return f"/training/{self.channel.id}#{remote_id}"

    def delete(self, ref: RemoteRef) -> None:
        with self.context.session_factory() as session:
            row = session.scalar(select(TrainingPublication).where(TrainingPublication.remote_id == ref.id))
            if row is None:
                raise PlatformError(PERMANENT, "The training channel has no such post.", code="training-404")
            if row.deleted_at is None:
                row.deleted_at = utcnow()
                session.commit()

    def fetch_metrics(self, ref: RemoteRef) -> dict[str, int]:
        return {"views": 0, "likes": 0, "shares": 0, "comments": 0}

    def find_published(self, request: PublishRequest) -> RemoteRef | None:
        with self.context.session_factory() as session:
            row = session.scalar(select(TrainingPublication).where(
                TrainingPublication.target_id == request.target_id, TrainingPublication.deleted_at.is_(None)))
            return RemoteRef(row.remote_id, self._url(row.remote_id)) if row else None
