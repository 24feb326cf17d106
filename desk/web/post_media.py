"""The post form's photos and videos: uploads into a unit's media library, picks from it, and which file
goes to which channel.

The form lists the post's files (`listed`), each with a checkbox per channel (`target-<id>-media`). A file
the form already showed is sent where its boxes say; a file new in this request (uploaded or picked from
the library) goes to every channel whose platform takes it, by the platform adapter's own rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ..domain import permissions as perm
from ..domain.errors import ValidationFailed
from ..models import Channel, Media, Post, Target, TargetMedia
from ..platforms import Content, MediaItem, PlatformError, publisher_class
from ..services import media as media_service
from .context import settings
from .post_forms import target_form

LIBRARY_SIZE = 50  # newest files offered per unit; older ones are rarely wanted again


@dataclass
class MediaPlan:
    ids: list[int] = field(default_factory=list)              # the post's files in order, as sent
    rows: dict[int, Media] = field(default_factory=dict)      # those this person may see, to show them
    chosen: dict[int, list[int]] = field(default_factory=dict)  # channel id -> its files, in order
    refusals: list[str] = field(default_factory=list)         # uploads refused, in words
    stored_in: str | None = None                              # "DPA" when files were uploaded

    @property
    def files(self) -> list[Media]:
        return [self.rows[i] for i in self.ids if i in self.rows]

    def goes_to(self, channel_id: int, media_id: int) -> bool:
        return media_id in self.chosen.get(channel_id, ())


def item_of(media: Media) -> MediaItem:
    return MediaItem(path=media.published_path, mime_type=media.mime_type, size=media.size,
                     filename=media.filename, duration=media.duration, alt_text=media.alt_text or "")


def refusal(platform: str, media: Media) -> str | None:
    """Why this platform would not carry the file, in its adapter's words; None when it would."""
    try:
        problems = publisher_class(platform).validate(Content(text="-", media=(item_of(media),)))
    except PlatformError as exc:
        return exc.message
    return next((p.message for p in problems if p.field == "media"), None)


class Refusals:
    """`refusal` remembered for one request: the form asks it for every channel and every file."""

    def __init__(self):
        self._seen: dict[tuple[str, int], str | None] = {}

    def __call__(self, platform: str, media: Media) -> str | None:
        key = (platform, media.id)
        if key not in self._seen:
            self._seen[key] = refusal(platform, media)
        return self._seen[key]


def _visible(session, actor, ids) -> dict[int, Media]:
    """The files among `ids` of units this person belongs to (others are never shown, only refused)."""
    if not ids:
        return {}
    units = perm.media_unit_ids(actor)
    return {m.id: m for m in session.scalars(select(Media).where(Media.id.in_(list(ids))))
            if m.unit_id in units}


def _defaults(plan: MediaPlan, channels, refused: Refusals, media_ids) -> None:
    for c in channels:
        wanted = [i for i in media_ids if i in plan.rows and refused(c.platform, plan.rows[i]) is None]
        plan.chosen.setdefault(c.id, []).extend(wanted)


def merge_orders(orders: list[list[int]]) -> list[int]:
    """One order of all files that keeps each channel's order (every channel's list was cut from the form's
    one list, so such an order exists); where nothing decides, the earlier upload first."""
    after: dict[int, set[int]] = {}
    waiting: dict[int, int] = {}
    for order in orders:
        for media_id in order:
            after.setdefault(media_id, set())
            waiting.setdefault(media_id, 0)
        for before, later in zip(order, order[1:]):
            if later not in after[before]:
                after[before].add(later)
                waiting[later] += 1
    merged = []
    ready = sorted(i for i, n in waiting.items() if n == 0)
    while ready:
        media_id = ready.pop(0)
        merged.append(media_id)
        for later in after[media_id]:
            waiting[later] -= 1
            if waiting[later] == 0:
                ready = sorted(ready + [later])
    return merged + sorted(set(waiting) - set(merged))  # a cycle only if edited elsewhere: keep every file


def plan_from_post(session, actor, post: Post | None, channels, refused: Refusals) -> MediaPlan:
    """What the form shows for a saved post: its files, where they go, and defaults for other channels."""
    plan = MediaPlan()
    for t in post.targets if post else []:
        plan.chosen[t.channel_id] = [link.media_id for link in sorted(t.media_links, key=lambda link: link.position)]
    plan.ids = merge_orders(list(plan.chosen.values()))
    plan.rows = _visible(session, actor, plan.ids)
    targets = {t.channel_id for t in post.targets} if post else set()
    _defaults(plan, [c for c in channels if c.id not in targets], refused, plan.ids)
    return plan


def _upload_unit(session, form) -> Channel | None:
    first = next(iter(form.channels.data or []), None)
    return session.get(Channel, first) if first is not None else None


def _store_uploads(session, actor, form, media_dir: str | None, plan: MediaPlan) -> list[int]:
    files = [f for f in (form.media.data or []) if getattr(f, "filename", "")]
    if not files or media_dir is None:
        return []
    channel = _upload_unit(session, form)
    if channel is None:
        plan.refusals.append("Choose a channel first: a file goes into the media library of its channel's unit. "
                             f"Nothing was uploaded; add {'them' if len(files) > 1 else 'it'} again.")
        return []
    stored = []
    for f in files:
        try:
            media = media_service.store_upload(session, actor, channel.unit_id, f.filename, f.read(), media_dir,
                                               max_pixels=settings().max_image_pixels)
        except ValidationFailed as exc:
            plan.refusals.extend(exc.field_errors.get("media") or [exc.message])
            continue
        stored.append(media.id)
    plan.stored_in = channel.unit.code if stored else None
    return stored


def plan_from_request(session, actor, form, channels, media_dir: str | None, refused: Refusals) -> MediaPlan:
    """Store the uploads (unless media_dir is None), add the picks, and read each channel's boxes;
    nothing about the post is saved."""
    plan = MediaPlan()
    listed = list(dict.fromkeys(form.listed.data or []))
    ticked = {c.id: set(sub.media.data or []) if (sub := target_form(form, c.id)) else set() for c in channels}
    unlisted_boxes = [i for boxes in ticked.values() for i in boxes if i not in listed]
    new = _store_uploads(session, actor, form, media_dir, plan) + list(form.library.data or []) + unlisted_boxes
    plan.ids = list(dict.fromkeys(listed + new))
    plan.rows = _visible(session, actor, plan.ids)

    def goes(channel, media_id) -> bool:
        if media_id in listed:
            return media_id in ticked[channel.id]
        if media_id not in plan.rows:  # another unit's file, or none at all: the service refuses it, audited
            return True
        return media_id in ticked[channel.id] or refused(channel.platform, plan.rows[media_id]) is None

    for c in channels:
        plan.chosen[c.id] = [i for i in plan.ids if goes(c, i)]
    return plan


def library(session, actor, channels, exclude) -> list[tuple]:
    """(unit, files) for each unit of the channels offered: the newest files not on the post already."""
    units = {c.unit_id: c.unit for c in channels}
    shelves = []
    for unit_id, unit in units.items():
        files = [m for m in media_service.unit_library(session, actor, unit_id)[:LIBRARY_SIZE] if m.id not in exclude]
        if files:
            shelves.append((unit, files))
    return shelves


def may_see(session, actor, media: Media) -> bool:
    """Members of the file's unit, and whoever may see a post that carries it (an approver of another
    unit's channel must see what they approve)."""
    if perm.can_use_media_of(actor, media.unit_id):
        return True
    posts = session.scalars(select(Post).join(Target, Target.post_id == Post.id)
                            .join(TargetMedia, TargetMedia.target_id == Target.id)
                            .where(TargetMedia.media_id == media.id).distinct().limit(20))
    return any(perm.can_view_post(actor, p) for p in posts)
