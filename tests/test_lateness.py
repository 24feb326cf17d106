"""How late is too late: the rule in plain Python, then the worker holding a late post for a person."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from test_worker import approved, fresh

from desk.domain import lateness
from desk.domain import workflow as wf
from desk.domain.person_decisions import LATE, kind_of
from desk.models import AuditEvent, Channel, Target
from desk.services import admin, publishing

T0 = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
WORKER = "test-host:1:core"


def test_the_channel_setting_wins_over_the_desk_default():
    assert lateness.allowed_lateness(None) == timedelta(minutes=lateness.DEFAULT_LATE_AFTER_MINUTES)
    assert lateness.allowed_lateness(None, 15) == timedelta(minutes=15)
    assert lateness.allowed_lateness(240, 15) == timedelta(minutes=240)
    assert lateness.allowed_lateness(-5) == timedelta(0)


def test_too_late_only_past_the_allowance():
    assert not lateness.too_late(T0, T0 + timedelta(minutes=60), None)        # exactly the allowance: fine
    assert lateness.too_late(T0, T0 + timedelta(minutes=60, seconds=1), None)
    assert not lateness.too_late(T0, T0 + timedelta(hours=3), 240)
    assert lateness.too_late(T0, T0 + timedelta(minutes=1), 0)
    assert not lateness.too_late(None, T0 + timedelta(days=9), 0)             # nothing to measure from


def test_the_late_reason_says_when_it_was_due_and_what_to_do():
    reason = lateness.late_reason("Thu 15 Jan 2026 08:00 GMT", None, 45)
    assert reason.startswith(lateness.LATE_PREFIX) and "08:00 GMT" in reason and "45 minutes" in reason
    assert "send it now, or withdraw it" in reason
    assert lateness.awaits_person(reason) and not lateness.awaits_person("The channel is dormant.")
    assert not lateness.awaits_person(None)


def test_a_post_held_too_long_waits_for_a_person_and_the_worker_leaves_it(world):
    s = world.session
    post = approved(world, T0 - timedelta(minutes=5), when=T0)
    tid = post.targets[0].id
    admin.update_channel(s, world.admin, world.channel.id, status="dormant", now=T0 - timedelta(minutes=1))
    assert publishing.hold_and_release(s, WORKER, now=T0) == (1, 0, 0)
    assert fresh(s, Target, tid).status == wf.T_HELD

    later = T0 + timedelta(hours=2)
    admin.update_channel(s, world.admin, world.channel.id, status="active", now=later)
    zone = ZoneInfo("Europe/London")
    assert publishing.hold_and_release(s, WORKER, now=later, zone=zone, late_after_minutes=60) == (0, 0, 1)
    t = fresh(s, Target, tid)
    assert t.status == wf.T_HELD and lateness.awaits_person(t.held_reason)
    assert "Thu 15 Jan 2026 08:00 GMT" in t.held_reason and "60 minutes" in t.held_reason
    assert kind_of(t.status, t.held_reason) == LATE
    event = s.scalars(select(AuditEvent).where(AuditEvent.action == "target.held")
                      .order_by(AuditEvent.seq.desc())).first()
    assert '"late":true' in event.details

    # From then on the worker neither releases nor claims it.
    assert publishing.hold_and_release(s, WORKER, now=later + timedelta(minutes=1)) == (0, 0, 0)
    assert publishing.claim_due(s, WORKER, now=later + timedelta(minutes=1)) == []
    assert fresh(s, Target, tid).held_reason == t.held_reason


def test_a_post_held_briefly_goes_out_by_itself_and_the_channel_can_allow_more(world):
    s = world.session
    post = approved(world, T0 - timedelta(minutes=5), when=T0)
    tid = post.targets[0].id
    admin.update_channel(s, world.admin, world.channel.id, status="dormant", now=T0 - timedelta(minutes=1))
    publishing.hold_and_release(s, WORKER, now=T0)
    s.get(Channel, world.channel.id).late_after_minutes = 240
    s.commit()
    later = T0 + timedelta(hours=3)  # past the desk's hour, within the channel's four
    admin.update_channel(s, world.admin, world.channel.id, status="active", now=later)
    assert publishing.hold_and_release(s, WORKER, now=later, late_after_minutes=60) == (0, 1, 0)
    assert fresh(s, Target, tid).status == wf.T_QUEUED
    [claim] = publishing.claim_due(s, WORKER, now=later)
    assert claim.target_id == tid


@pytest.mark.parametrize("released_after, outcome", [(60, (0, 1, 0)), (62, (0, 0, 1))])
def test_as_soon_as_approved_counts_from_when_it_was_held(world, released_after, outcome):
    s = world.session
    admin.update_channel(s, world.admin, world.channel.id, status="dormant", now=T0)
    post = approved(world, T0)  # no time of its own: as soon as approved, while the channel is dormant
    assert publishing.hold_and_release(s, WORKER, now=T0 + timedelta(minutes=1)) == (1, 0, 0)
    admin.update_channel(s, world.admin, world.channel.id, status="active", now=T0)
    assert publishing.hold_and_release(s, WORKER, now=T0 + timedelta(minutes=released_after)) == outcome
    t = fresh(s, Target, post.targets[0].id)
    assert (t.status == wf.T_QUEUED) == (outcome[1] == 1)
