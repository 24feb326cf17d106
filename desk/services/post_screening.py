"""Screening a post where it is written, submitted and approved.

Each target is screened with its own unit's policy, on what its platform will be given
(`post_content.content_of`: the text, the link, the title, description and tags, the media's alt text). A
finding is placed on the form field whose words matched, so the author sees it next to the text,
and on its channel, so the approver sees it beside that channel's preview. What the findings
require is decided in the domain (`desk.screening_gate`); this module only gathers them.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from ..domain import screening_gate as gate
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed
from ..domain.screening import Finding, screen
from ..models import Post, Target
from . import post_content
from .screening_policy import policy_of

EXTRA_FIELDS = {"title": "the title", "description": "the description", "tags": "the tags"}


@dataclass(frozen=True)
class Located:
    """A finding, where it is: the channel, the form field, and the words that field holds."""

    channel_id: int
    field: str
    where: str
    text: str
    finding: Finding

    def as_dict(self) -> dict:
        return {**self.finding.as_dict(), "label": self.finding.label, "channel_id": self.channel_id,
                "field": self.field, "where": self.where}


def _parts(target: Target) -> Iterator[tuple[str, str, str]]:
    """(form field, where in words, text) for everything of this target that goes out."""
    content = post_content.content_of(target)
    cid = target.channel_id
    yield (post_content.target_field(cid, "text") if target.text else "body"), "the text", content.text
    if content.link:
        yield "link", "the link", content.link
    for name, where in EXTRA_FIELDS.items():
        value = content.extra.get(name)
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        if isinstance(value, str) and value.strip():
            yield post_content.target_field(cid, name), where, value
    for item in content.media:
        if item.alt_text and item.alt_text.strip():
            yield post_content.target_field(cid, "media"), f"the alt text of {item.filename or 'a file'}", item.alt_text


def screen_target(target: Target, now: datetime | None = None) -> list[Located]:
    policy = policy_of(target.channel.unit)
    today = (now or utcnow()).date()
    return [Located(target.channel_id, key, where, text, f)
            for key, where, text in _parts(target)
            for f in screen(text, policy=policy, today=today)]


@dataclass
class PostScreening:
    items: list[Located]

    def for_channel(self, channel_id: int) -> list[Located]:
        return [i for i in self.items if i.channel_id == channel_id]

    def in_text(self, channel_id: int) -> list[Finding]:
        """The findings in a channel's text, for marking the words in its preview."""
        return [i.finding for i in self.for_channel(channel_id) if i.where == "the text"]

    def by_field(self) -> dict[str, list[Located]]:
        """Per form field, each finding once (the post's body is screened for every channel it goes to)."""
        out: dict[str, list[Located]] = {}
        seen = set()
        for i in self.items:
            key = (i.field, i.finding)
            if key not in seen:
                seen.add(key)
                out.setdefault(i.field, []).append(i)
        return out

    def gate(self, channel_ids: Iterable[int] | None = None) -> gate.Requirement:
        wanted = None if channel_ids is None else set(channel_ids)
        return gate.requirement(i.finding for i in self.items if wanted is None or i.channel_id in wanted)

    @property
    def warnings(self) -> list[Located]:
        return [i for i in self.items if not i.finding.blocking]


def screen_post(post: Post, now: datetime | None = None) -> PostScreening:
    return PostScreening([item for t in post.targets for item in screen_target(t, now)])


def add_problems(post: Post, now: datetime, problems: dict[str, list[str]]) -> None:
    """Blocking findings stop a submission, so they are problems, next to the words they are about."""
    for key, items in screen_post(post, now).by_field().items():
        for i in items:
            if i.finding.blocking:
                message = gate.describe(i.finding)
                msgs = problems.setdefault(key, [])
                if message not in msgs:
                    msgs.append(message)


def problems_of(post: Post, now: datetime) -> dict[str, list[str]]:
    """Every platform's limits, the schedule and the screening, checked for each target; keyed by form field."""
    problems = post_content.limit_problems(post, now)
    add_problems(post, now, problems)
    return problems


def refuse_if_blocked(post: Post, now: datetime) -> None:
    """At submit: a blocking finding refuses the submission, naming the words and why."""
    refusal = gate.submission_refusal(screen_post(post, now).gate())
    if refusal:
        raise ValidationFailed(refusal, field_errors=problems_of(post, now))


def for_approval(post: Post, channel_ids: Iterable[int], acknowledged: bool, now: datetime) -> list[Located]:
    """The warnings an approver acknowledges on the channels they approve for; refuses when they may not."""
    channel_ids = set(channel_ids)
    result = screen_post(post, now)
    gate.check_approval(result.gate(channel_ids), acknowledged)
    return [i for i in result.warnings if i.channel_id in channel_ids]


def acknowledged_json(items: list[Located]) -> str | None:
    return json.dumps([i.as_dict() for i in items], ensure_ascii=False) if items else None


def audit_details(items: list[Located]) -> dict:
    return {"acknowledged_findings": [i.as_dict() for i in items]} if items else {}


# ---- the worker: the policy as it is when the post falls due ------------------------------------------

HOLD_PREFIX = "Screening: "


def publish_block_reason(target: Target, now: datetime) -> str | None:
    """Why a due target may not go out under its unit's policy as it is now (a term added after the
    approval, say); None when nothing blocks it. The reason is what the post's page shows."""
    try:
        blocking = [i.finding for i in screen_target(target, now) if i.finding.blocking]
    except ValidationFailed as exc:
        return HOLD_PREFIX + exc.message
    if not blocking:
        return None
    words = ", ".join(dict.fromkeys(f"“{f.matched}” ({f.label.lower()})" for f in blocking))
    return (f"{HOLD_PREFIX}the unit's policy now blocks {words}, so nothing was sent. It goes out by itself if "
            "the policy changes back; otherwise its author edits it for approval again, or an approver withdraws it.")


def still_blocked(target: Target, now: datetime) -> bool:
    """A target held by the screening stays held while the screening still blocks it."""
    return (target.status == wf.T_HELD and (target.held_reason or "").startswith(HOLD_PREFIX)
            and publish_block_reason(target, now) is not None)
