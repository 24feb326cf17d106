"""How late is too late, at its edges: the desk-wide default for channels without their own setting (for a
held post and for a series' occurrences alike), 0 (a person decides on anything late), exactly one week,
and a post held on an archived channel, which is never queued again. tests/test_lateness.py has the rest.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from test_recurring_posts import occurrences, running
from test_worker import WORKER, approved, fresh

from desk.config import Settings
from desk.domain import lateness
from desk.domain import workflow as wf
from desk.domain.errors import ValidationFailed
from desk.models import AuditEvent, Channel, Target
from desk.platforms import PlatformContext
from desk.services import admin, publishing, recurring
from desk.worker import run_pass

from conftest import OPERATOR

T0 = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
SECOND = timedelta(seconds=1)
WEEK = 7 * 24 * 60
SETTING_PROBLEM = ("Give a whole number of minutes from 0 (a person decides on anything late) to 10080 (a week), "
                   "or leave it blank for the desk's default.")


# ---- the rule --------------------------------------------------------------------------------------------

def test_a_channel_without_its_own_setting_takes_the_desks_default():
    assert lateness.allowed_lateness(None, 15) == timedelta(minutes=15)
    assert lateness.too_late(T0, T0 + timedelta(minutes=15, seconds=1), None, 15)
    assert not lateness.too_late(T0, T0 + timedelta(minutes=15), None, 15)
    assert not lateness.too_late(T0, T0 + timedelta(minutes=200), None, 240)
    # A channel's own setting wins over the desk's default, in both directions.
    assert not lateness.too_late(T0, T0 + timedelta(minutes=200), 240, 15)
    assert lateness.too_late(T0, T0 + timedelta(minutes=20), 15, 240)


def test_zero_means_a_person_decides_on_anything_late():
    assert lateness.allowed_lateness(0, 60) == timedelta(0)
    assert lateness.too_late(T0, T0 + SECOND, 0, 60)
    assert not lateness.too_late(T0, T0, 0, 60)  # on time is not late


def test_the_late_reason_names_the_channels_own_minutes_or_else_the_desks():
    assert lateness.late_reason("Thu 15 Jan 2026 08:00 GMT", None, 45) == (
        "Its time passed long ago while it was held: it was due at Thu 15 Jan 2026 08:00 GMT, more than 45 minutes "
        "ago, the most this channel allows. A person decides: send it now, or withdraw it from this channel.")
    assert "more than 240 minutes ago" in lateness.late_reason("Thu 15 Jan 2026 08:00 GMT", 240, 45)
    assert "more than 0 minutes ago" in lateness.late_reason("Thu 15 Jan 2026 08:00 GMT", 0, 45)
    assert "more than 60 minutes ago" in lateness.late_reason("Thu 15 Jan 2026 08:00 GMT", None)


def test_only_a_reason_that_starts_as_the_late_reason_waits_for_a_person():
    assert lateness.awaits_person(lateness.late_reason("x", None))
    assert not lateness.awaits_person("")
    assert not lateness.awaits_person("Held: " + lateness.LATE_PREFIX)


@pytest.mark.parametrize("minutes", [None, 0, 1, 60, WEEK - 1, WEEK])
def test_a_channels_setting_may_be_blank_or_from_0_to_a_week(minutes):
    assert lateness.late_after_problem(minutes) is None


@pytest.mark.parametrize("minutes", [-1, WEEK + 1, 1.5, "60", True, False])
def test_a_channels_setting_beyond_a_week_below_0_or_not_whole_minutes_is_refused(minutes):
    assert lateness.late_after_problem(minutes) == SETTING_PROBLEM


# ---- a held post and the desk's default ------------------------------------------------------------------------

def _held_while_dormant(world, due):
    s = world.session
    post = approved(world, due - timedelta(minutes=5), when=due)
    admin.update_channel(s, world.admin, world.channel.id, status="dormant", now=due - timedelta(minutes=1))
    assert publishing.hold_and_release(s, WORKER, now=due) == (1, 0, 0)
    return post.targets[0].id


def test_a_held_post_on_a_channel_without_a_setting_goes_out_within_the_desks_default(world):
    s = world.session
    tid = _held_while_dormant(world, T0)
    later = T0 + timedelta(hours=3)
    admin.update_channel(s, world.admin, world.channel.id, status="active", now=later)
    assert fresh(s, Channel, world.channel.id).late_after_minutes is None
    assert publishing.hold_and_release(s, WORKER, now=later, late_after_minutes=240) == (0, 1, 0)
    assert fresh(s, Target, tid).status == wf.T_QUEUED


def test_a_held_post_past_the_desks_default_waits_for_a_person_who_reads_that_default(world):
    s = world.session
    tid = _held_while_dormant(world, T0)
    later = T0 + timedelta(minutes=20)
    admin.update_channel(s, world.admin, world.channel.id, status="active", now=later)
    assert publishing.hold_and_release(s, WORKER, now=later, zone=LONDON, late_after_minutes=15) == (0, 0, 1)
    t = fresh(s, Target, tid)
    assert t.status == wf.T_HELD and lateness.awaits_person(t.held_reason)
    assert "due at Thu 15 Jan 2026 08:00 GMT, more than 15 minutes ago" in t.held_reason


def test_a_channel_set_to_0_holds_for_a_person_a_post_released_a_minute_late(world):
    s = world.session
    tid = _held_while_dormant(world, T0)
    admin.update_channel(s, world.admin, world.channel.id, status="active", late_after_minutes=0,
                         now=T0 + timedelta(minutes=1))
    assert publishing.hold_and_release(s, WORKER, now=T0 + timedelta(minutes=1), late_after_minutes=240) == (0, 0, 1)
    assert lateness.awaits_person(fresh(s, Target, tid).held_reason)


def test_a_channel_may_allow_exactly_a_week_and_no_more(world):
    s = world.session
    admin.update_channel(s, world.admin, world.channel.id, late_after_minutes=WEEK, now=T0)
    assert fresh(s, Channel, world.channel.id).late_after_minutes == WEEK
    with pytest.raises(ValidationFailed) as caught:
        admin.update_channel(s, world.admin, world.channel.id, late_after_minutes=WEEK + 1, now=T0)
    assert caught.value.message == SETTING_PROBLEM
    assert caught.value.field_errors == {"late_after_minutes": [SETTING_PROBLEM]}
    assert fresh(s, Channel, world.channel.id).late_after_minutes == WEEK


# ---- a post held on an archived channel -------------------------------------------------------------------------

def test_a_post_held_on_a_channel_that_is_then_archived_is_never_queued_again(world):
    s = world.session
    tid = _held_while_dormant(world, T0)
    admin.update_channel(s, world.admin, world.channel.id, status="archived", now=T0 + timedelta(minutes=1))
    for minutes in (2, 30, 24 * 60):
        publishing.hold_and_release(s, WORKER, now=T0 + timedelta(minutes=minutes), late_after_minutes=WEEK)
        assert publishing.claim_due(s, WORKER, now=T0 + timedelta(minutes=minutes)) == []
    t = fresh(s, Target, tid)
    assert t.status == wf.T_HELD and t.held_reason == "The channel is archived and publishes nothing."
    released = s.scalars(select(AuditEvent).where(AuditEvent.action == "target.released")).all()
    assert released == []


def test_a_post_due_on_an_archived_channel_is_held_saying_so(world):
    s = world.session
    post = approved(world, T0 - timedelta(minutes=5), when=T0)
    admin.update_channel(s, world.admin, world.channel.id, status="archived", now=T0 - timedelta(minutes=1))
    assert publishing.hold_and_release(s, WORKER, now=T0) == (1, 0, 0)
    assert publishing.hold_and_release(s, WORKER, now=T0 + timedelta(minutes=5)) == (0, 0, 0)
    t = fresh(s, Target, post.targets[0].id)
    assert (t.status, t.held_reason) == (wf.T_HELD, "The channel is archived and publishes nothing.")


def test_the_channel_block_reasons_say_why_and_none_for_a_channel_that_can_publish():
    now = T0
    assert wf.channel_block_reason("archived", None, None, now) == "The channel is archived and publishes nothing."
    assert wf.channel_block_reason("dormant", None, None, now) == (
        "The channel is dormant. The post waits until an administrator makes it active.")
    assert wf.channel_block_reason("active", None, None, now) is None


# ---- a series' occurrences and the desk's default ---------------------------------------------------------------

def _worker_pass(sessions, now, late_after_minutes):
    settings = Settings(database_url="(the test engine)", secret_key="test", max_attempts=3, retry_base_seconds=30,
                        worker_batch_size=10, lease_seconds=60, late_after_minutes=late_after_minutes)
    return run_pass(sessions, PlatformContext(settings, sessions), "test-host:1", settings, now=now)


@pytest.mark.parametrize("desk_default, missed", [
    (240, ["Thu 04 Jun 2026 08:00 BST"]),
    (60, ["Thu 04 Jun 2026 08:00 BST", "Fri 05 Jun 2026 08:00 BST"]),
])
def test_a_series_occurrence_found_late_follows_the_desks_default(world, sessions, now, desk_default, missed):
    s = world.session
    series = running(world, now, rule="daily 08:00")
    assert fresh(s, Channel, world.channel.id).late_after_minutes is None
    recurring.generate(s, now, worker="test", zone=LONDON)  # 2 and 3 June, made ahead
    # The worker was stopped until 11:00 BST on 5 June: that morning's 08:00 is three hours late.
    _worker_pass(sessions, datetime(2026, 6, 5, 10, 0, tzinfo=UTC), desk_default)
    made = {o.occurrence_at for o in occurrences(s, series.id)}
    assert (datetime(2026, 6, 5, 7, 0, tzinfo=UTC) in made) == (desk_default == 240)
    [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "post.occurrences_missed")).all()
    assert json.loads(event.details)["local_times"] == missed


def test_a_series_on_a_channel_set_to_0_makes_nothing_it_finds_late(world, now):
    s = world.session
    admin.update_channel(s, OPERATOR, world.channel.id, late_after_minutes=0, now=now)
    series = running(world, now, rule="daily 08:00")
    assert recurring.generate(s, now, worker="test", zone=LONDON, horizon=timedelta(hours=1)) == (1, 0, 0)
    one_minute_late = datetime(2026, 6, 3, 7, 1, tzinfo=UTC)  # 08:01 BST on 3 June
    assert recurring.generate(s, one_minute_late, worker="test", zone=LONDON, horizon=timedelta(hours=1),
                              late_after_minutes=240) == (1, 1, 0)
    assert [o.occurrence_at.day for o in occurrences(s, series.id)] == [2, 4]
