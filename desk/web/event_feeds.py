"""What the pages show of event feeds: live now, not yet, ended or dormant, and the closing reminders."""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..domain import event_feeds as rules
from ..domain.clock import utcnow
from ..services import event_feeds as feed_service
from .context import db

# No routes: event feeds are set on the administration's channel form; this gives the templates their state.
bp = Blueprint("event_feeds", __name__)


@bp.app_context_processor
def event_feed_helpers():
    """Computed only when a template asks: the channels list and the dashboard's include."""
    return {"feed_state": lambda channel: rules.state(channel, utcnow()), "feed_labels": rules.STATE_LABELS,
            "feed_reminders": lambda: feed_service.reminders_for(db(), current_user, utcnow())}
