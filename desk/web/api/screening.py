"""The screening in the API: a post's findings in its JSON, and the approver's acknowledgement of warnings."""
from __future__ import annotations

from datetime import datetime

from ...domain.errors import DeskError, ValidationFailed
from ...domain.screening_gate import ACKNOWLEDGE_FIELD
from ...models import Post
from ...services import post_screening


def take_acknowledgement(body: dict) -> bool:
    """Take `acknowledge_warnings` out of an approve body (the rest is checked as before); a boolean or absent."""
    value = body.pop(ACKNOWLEDGE_FIELD, False)
    if not isinstance(value, bool):
        raise ValidationFailed("The request has problems, so nothing was changed: see `fields`.",
                               field_errors={ACKNOWLEDGE_FIELD: ["Must be true or false."]})
    return value


def findings(post: Post, now: datetime, api_field) -> list[dict]:
    """Every finding on the post, per channel, with the field it is in (in the API's naming)."""
    try:
        items = post_screening.screen_post(post, now).items
    except DeskError:  # a unit's policy that cannot be read: said when the post is submitted or approved
        return []
    return [{**i.as_dict(), "field": api_field(i.field)} for i in items]
