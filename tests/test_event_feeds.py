"""Event feeds: the window's edges on plain objects, refusal at submit, and the worker's reminder and dormancy
on both databases."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from desk.config import Settings
from desk.domain import event_feeds as rules
from desk.domain.errors import ValidationFailed
from desk.models import AuditEvent, Channel
from desk.platforms import PlatformContext
from desk.services import admin, event_feeds, posts
from desk.services.posts import PostInput, TargetInput
from desk.worker import run_pass

from conftest import OPERATOR

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
OPENS, CLOSES = T0 + timedelta(days=1), T0 + timedelta(days=3)


def feed(**kw):
    base = dict(name="CO11 camp feed", is_event_feed=True, operation_name="Operation Meadow", status="active",
                live_from=OPENS, live_until=CLOSES, closing_reminder_at=None)
    return SimpleNamespace(**{**base, **kw})


# ---- the rules ----------------------------------------------------------------------------------

def test_the_window_opens_at_live_from_exactly_and_is_closed_at_live_until_exactly():
    c = feed()
    assert not rules.is_open(c, OPENS - timedelta(microseconds=1))
    assert rules.is_open(c, OPENS)
    assert rules.is_open(c, CLOSES - timedelta(microseconds=1))
    assert not rules.is_open(c, CLOSES)
    assert rules.is_open(feed(live_from=None, live_until=None), T0)  # no bounds: always open


def test_states_for_the_channels_list():
    assert rules.state(feed(), T0) == rules.UPCOMING
    assert rules.state(feed(), OPENS) == rules.LIVE
    assert rules.state(feed(), CLOSES) == rules.ENDED
    assert rules.state(feed(status="dormant"), OPENS) == rules.DORMANT
    assert rules.state(feed(is_event_feed=False), T0) is None


def test_a_post_outside_the_window_is_refused_with_when_it_goes_live():
    c = feed()
    before = rules.refusal(c, None, T0)
    assert "goes live at Tue 02 Jun 2026 09:00 UTC" in before and "Operation Meadow" in before
    assert "after the time you chose" in rules.refusal(c, OPENS - timedelta(minutes=1), T0)
    assert rules.refusal(c, OPENS, T0) is None
    assert rules.refusal(c, None, OPENS) is None
    assert "takes no post after then" in rules.refusal(c, CLOSES, OPENS)
    assert "ended" in rules.refusal(c, None, CLOSES)
    assert rules.refusal(feed(is_event_feed=False), None, T0) is None


def test_the_closing_reminder_is_due_before_the_end_and_dormancy_at_it():
    c = feed()
    due = CLOSES - rules.CLOSING_NOTICE
    assert not rules.reminder_due(c, due - timedelta(seconds=1))
    assert rules.reminder_due(c, due)
    assert not rules.reminder_due(feed(closing_reminder_at=due), due)
    short = feed(live_from=CLOSES - timedelta(hours=1))  # a window shorter than the notice: reminded as it opens
    assert not rules.reminder_due(short, CLOSES - timedelta(hours=1, seconds=1))
    assert rules.reminder_due(short, CLOSES - timedelta(hours=1))
    assert not rules.goes_dormant(c, CLOSES - timedelta(seconds=1))
    assert rules.goes_dormant(c, CLOSES)
    assert not rules.goes_dormant(feed(status="dormant"), CLOSES)


def test_an_event_feed_names_its_operation():
    assert rules.settings_problems(True, " ") == {"operation_name": [
        "Name the operation this feed is for (e.g. Operation Meadow)."]}
    assert rules.settings_problems(True, "Operation Meadow") == {}
    assert rules.settings_problems(False, None) == {}


# ---- submit, on both databases ------------------------------------------------------------------

@pytest.fixture
def camp(world):
    """CO11's channel as an event feed: world.outsider is its author, by role (CO11's policy allows it)."""
    return admin.update_channel(world.session, OPERATOR, world.other_channel.id, is_event_feed=True,
                                operation_name="Operation Meadow", live_from=OPENS, live_until=CLOSES, now=T0)


def draft(world, channel, when=None, now=T0):
    return posts.save_draft(world.session, world.outsider, PostInput(
        body="The camp's welfare tent is now open by the north gate.",
        targets=[TargetInput(channel.id, scheduled_at=when)]), now=now).post


def test_a_post_for_a_feed_that_is_not_live_is_refused_at_submit(world, camp):
    s = world.session
    early = draft(world, camp, OPENS - timedelta(minutes=1))
    key = f"target-{camp.id}-scheduled_at"
    assert "goes live at" in posts.problems_of(early, T0)[key][0]  # shown while writing
    with pytest.raises(ValidationFailed) as exc:
        posts.submit(s, world.outsider, early.id, now=T0)
    assert "goes live at" in exc.value.field_errors[key][0]
    on_time = draft(world, camp, OPENS)
    assert posts.submit(s, world.outsider, on_time.id, now=T0).status == "in_review"
    asap = draft(world, camp, None, now=CLOSES - timedelta(seconds=1))
    assert posts.submit(s, world.outsider, asap.id, now=CLOSES - timedelta(seconds=1)).status == "in_review"
    too_late = draft(world, camp, None, now=CLOSES)
    with pytest.raises(ValidationFailed, match="fix the problems"):
        posts.submit(s, world.outsider, too_late.id, now=CLOSES)
    assert "ended" in posts.problems_of(too_late, CLOSES)[key][0]


def test_a_channel_with_a_window_that_is_not_a_feed_keeps_its_old_rule(world):
    """Only event feeds refuse at submit; another channel's window holds posts at publishing time, as before."""
    windowed = admin.update_channel(world.session, OPERATOR, world.other_channel.id, live_from=OPENS,
                                    live_until=CLOSES, now=T0)
    post = draft(world, windowed, None)
    assert posts.submit(world.session, world.outsider, post.id, now=T0).status == "in_review"


def test_marking_a_feed_needs_its_operation_and_a_new_end_resets_the_reminder(world, camp):
    s = world.session
    with pytest.raises(ValidationFailed) as exc:
        admin.update_channel(s, OPERATOR, camp.id, operation_name="  ", now=T0)
    assert "operation_name" in exc.value.field_errors
    assert event_feeds.close_ended_feeds(s, CLOSES - rules.CLOSING_NOTICE) == (1, 0)
    assert s.get(Channel, camp.id).closing_reminder_at is not None
    admin.update_channel(s, OPERATOR, camp.id, live_until=CLOSES + timedelta(days=2), now=T0)
    assert s.get(Channel, camp.id).closing_reminder_at is None


# ---- the worker, on both databases --------------------------------------------------------------

def events(session, action):
    return session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def test_the_unit_is_reminded_once_and_the_feed_goes_dormant_after_the_window(world, camp):
    s = world.session
    due = CLOSES - rules.CLOSING_NOTICE
    assert event_feeds.close_ended_feeds(s, due - timedelta(seconds=1)) == (0, 0)
    assert event_feeds.reminders_for(s, world.outsider, due) == []
    assert event_feeds.close_ended_feeds(s, due) == (1, 0)
    assert event_feeds.close_ended_feeds(s, due + timedelta(minutes=30)) == (0, 0)
    assert events(s, "channel.closing_reminder") == 1
    assert [c.id for c in event_feeds.reminders_for(s, world.outsider, due)] == [camp.id]
    assert event_feeds.reminders_for(s, world.author, due) == []  # DPA's people: not their feed
    assert event_feeds.close_ended_feeds(s, CLOSES - timedelta(seconds=1)) == (0, 0)
    assert event_feeds.close_ended_feeds(s, CLOSES) == (0, 1)
    assert event_feeds.close_ended_feeds(s, CLOSES + timedelta(hours=1)) == (0, 0)
    s.expire_all()
    channel = s.get(Channel, camp.id)
    assert channel.status == "dormant" and "Operation Meadow ended" in channel.status_reason
    assert events(s, "channel.dormant") == 1 and events(s, "channel.closing_reminder") == 1
    assert rules.state(channel, CLOSES) == rules.DORMANT


def test_the_worker_pass_runs_the_grant_and_feed_housekeeping(world, camp, sessions):
    settings = Settings(database_url="(the test engine)", secret_key="test")
    context = PlatformContext(settings, sessions)
    run_pass(sessions, context, "test-host:1", settings, now=CLOSES)
    s = world.session
    s.expire_all()
    assert s.get(Channel, camp.id).status == "dormant"
    assert events(s, "channel.closing_reminder") == 1 and events(s, "channel.dormant") == 1
    event = s.scalars(select(AuditEvent).where(AuditEvent.action == "channel.dormant")).one()
    assert event.actor == "worker:test-host:1" and event.unit_id == world.other_unit.id
