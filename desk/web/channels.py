"""The channels people post to, and the training channel's own 'platform' page."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import or_, select

from ..domain import permissions as perm
from ..domain.errors import NotFound
from ..models import Channel, TrainingPublication, Unit
from ..services.common import ensure, get_or_404
from .connect_views import connect_options
from .context import db
from .posts import me

# No url_prefix: the training feed lives at /training/<id>, the address its adapter gives out.
bp = Blueprint("channels", __name__)
FEED_SIZE = 200


@bp.route("/channels/")
@login_required
def list_channels():
    """The channels of the signed-in person's units (every channel for administrators and auditors)."""
    user = me()
    stmt = select(Channel).join(Unit, Channel.unit_id == Unit.id).order_by(Unit.code, Channel.name)
    if not (user.is_admin or user.is_auditor):
        granted = perm.granted_channel_ids(user, "author") | perm.granted_channel_ids(user, "approver")
        stmt = stmt.where(or_(Channel.unit_id.in_(list(user.roles_by_unit)), Channel.id.in_(granted)))
    return render_template("channels/list.html", channels=db().scalars(stmt).all(), connect=connect_options(user))


@bp.route("/channels/<int:channel_id>")
@login_required
def view_channel(channel_id: int):
    """One channel: its platform account (id, name, handle; never its credentials), status and Reconnect."""
    user = me()
    channel = get_or_404(db(), Channel, channel_id, "channel")
    granted = perm.granted_channel_ids(user, "author") | perm.granted_channel_ids(user, "approver")
    visible = user.is_admin or user.is_auditor or bool(perm.roles_in(user, channel.unit_id)) or channel.id in granted
    ensure(db(), visible, user, "channel.view", "This channel belongs to a unit you have no role in.",
           object_type="channel", object_id=channel.id, unit_id=channel.unit_id, channel_id=channel.id)
    return render_template("channels/view.html", channel=channel)


@bp.route("/training/<int:channel_id>")
@login_required
def training_feed(channel_id: int):
    """What the training channel 'published', newest first, as a platform would show it."""
    channel = get_or_404(db(), Channel, channel_id, "channel")
    if channel.platform != "training":
        raise NotFound(f"{channel.name} is not a training channel: its posts are on the platform itself.")
    rows = db().scalars(select(TrainingPublication).where(TrainingPublication.channel_id == channel.id)
                        .order_by(TrainingPublication.published_at.desc(), TrainingPublication.id.desc())
                        .limit(FEED_SIZE)).all()
    return render_template("channels/training_feed.html", channel=channel, publications=rows)
