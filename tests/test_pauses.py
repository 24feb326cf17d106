"""The emergency stop: a pause holds what falls due (and interrupts nothing already sending), the worker
leaves it held, a resume releases what was on its way and asks a person about what fell due meanwhile;
a unit's pause stops only that unit, a desk-wide one stops all."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from test_worker import WORKER, approved, one_pass, settings  # noqa: F401 (fixtures)

from desk.domain import pauses as rules
from desk.domain import workflow as wf
from desk.domain.errors import PermissionDenied, ValidationFailed, WorkflowConflict
from desk.models import AuditEvent, Post, Target, TrainingPublication
from desk.platforms import RemoteRef
from desk.services import admin, pauses, publishing

from conftest import OPERATOR


def count(session, action):
    return session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def published(session, target_id):
    return session.scalar(select(func.count(TrainingPublication.id)).where(TrainingPublication.target_id == target_id))


def target_of(session, post):
    session.expire_all()
    return session.get(Post, post.id).targets[0]


@pytest.fixture
def unit_admin(world):
    admin.add_membership(world.session, OPERATOR, world.manager.id, world.unit.id, "unit_admin")
    world.session.refresh(world.manager)
    return world.manager


# ---- the rules ---------------------------------------------------------------------------------------

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_a_desk_wide_pause_covers_every_unit_and_a_units_only_its_own():
    desk = rules.ActivePause(1, None, None, "Major incident", "Ada Admin", T0)
    dpa = rules.ActivePause(2, 7, "DPA", "Leak inquiry", "Mo Manager", T0)
    assert rules.covering({7: dpa}, 7) is dpa and rules.covering({7: dpa}, 8) is None
    assert rules.covering({None: desk, 7: dpa}, 7) is desk and rules.covering({None: desk}, 8) is desk
    assert rules.is_pause_hold(rules.held_reason(dpa))
    assert "for DPA (by Mo Manager): Leak inquiry" in rules.held_reason(dpa)
    assert rules.awaits_confirmation(rules.confirm_reason("DPA")) and not rules.is_pause_hold(rules.confirm_reason("x"))
    assert not rules.worker_leaves_alone("The channel is dormant.") and not rules.worker_leaves_alone(None)


def test_what_needs_a_person_after_the_pause():
    assert rules.needs_confirmation(T0 + timedelta(minutes=5), 0, T0)       # fell due during the pause
    assert rules.needs_confirmation(None, 0, T0)                            # approved during the pause
    assert not rules.needs_confirmation(T0 - timedelta(minutes=5), 0, T0)   # was due before: on its way
    assert not rules.needs_confirmation(T0 + timedelta(minutes=5), 2, T0)   # a retry of an earlier attempt


def test_overlapping_pauses_count_as_one_stop():
    h = lambda n: T0 + timedelta(hours=n)  # noqa: E731
    assert rules.paused_since([(h(0), h(3))], h(3)) == h(0)
    assert rules.paused_since([(h(0), h(2)), (h(1), h(3))], h(3)) == h(0)      # unit's, then the desk's
    assert rules.paused_since([(h(0), h(1)), (h(2), h(3))], h(3)) == h(2)      # a gap: two stops
    assert rules.paused_since([(h(0), None), (h(2), h(3))], h(3)) == h(0)


# ---- the use cases and the worker --------------------------------------------------------------------

def test_a_pause_holds_a_due_post_and_interrupts_nothing_already_sending(world, session, now, one_pass):
    sending_post = approved(world, now, body="Already on its way.")
    claims = publishing.claim_due(session, WORKER, now=now)
    assert [c.post_id for c in claims] == [sending_post.id]

    due = approved(world, now, body="Road closed on the A40.", when=now + timedelta(minutes=10))
    pauses.pause(session, world.admin, "Major incident: hold everything.", now=now + timedelta(minutes=1))
    # The call already under way completes and is recorded as usual.
    publishing.record_success(session, claims[0], WORKER, RemoteRef("r1", "https://example.test/r1"),
                              now=now + timedelta(minutes=2))
    assert target_of(session, sending_post).status == wf.T_PUBLISHED

    for minutes in (11, 12, 20):  # several passes while paused: held once, never sent, never released
        one_pass(now + timedelta(minutes=minutes))
    t = target_of(session, due)
    assert t.status == wf.T_HELD and "Major incident: hold everything." in t.held_reason
    assert published(session, t.id) == 0
    assert count(session, "target.held") == 1 and count(session, "target.released") == 0
    assert count(session, "pause.started") == 1


def test_resume_releases_what_was_on_its_way_and_asks_about_late_posts(world, session, now, one_pass):
    before = approved(world, now, body="Retrying since before the pause.")
    target = target_of(session, before)
    target.status, target.attempts, target.next_attempt_at = wf.T_RETRYING, 1, now + timedelta(minutes=5)
    session.commit()
    late = approved(world, now, body="Scheduled inside the pause.", when=now + timedelta(minutes=30))
    paused = pauses.pause(session, world.admin, "Critical incident", now=now + timedelta(minutes=1))
    one_pass(now + timedelta(minutes=40))
    assert {target_of(session, before).status, target_of(session, late).status} == {wf.T_HELD}

    result = pauses.resume(session, world.admin, paused.id, now=now + timedelta(minutes=50))
    assert result.released == [target.id] and result.awaiting == [target_of(session, late).id]
    assert rules.awaits_confirmation(target_of(session, late).held_reason)
    one_pass(now + timedelta(minutes=51))
    assert target_of(session, before).status == wf.T_PUBLISHED
    assert target_of(session, late).status == wf.T_HELD  # the worker never sends a late post by itself
    assert [t.id for t in pauses.awaiting(session, world.admin)] == result.awaiting
    assert pauses.awaiting(session, world.author) == []

    pauses.send_now(session, world.admin, result.awaiting[0], now=now + timedelta(minutes=52))
    one_pass(now + timedelta(minutes=53))
    assert target_of(session, late).status == wf.T_PUBLISHED
    assert count(session, "target.confirmed_after_pause") == 1 and count(session, "pause.ended") == 1
    with pytest.raises(WorkflowConflict):
        pauses.resume(session, world.admin, paused.id, now=now + timedelta(minutes=54))


def test_a_late_post_can_be_withdrawn_instead(world, session, now, one_pass):
    late = approved(world, now, body="Superseded by events.", when=now + timedelta(minutes=30))
    paused = pauses.pause(session, world.admin, "Critical incident", now=now)
    one_pass(now + timedelta(minutes=31))
    result = pauses.resume(session, world.admin, paused.id, now=now + timedelta(minutes=40))
    with pytest.raises(PermissionDenied):
        pauses.withdraw(session, world.author, result.awaiting[0], now=now + timedelta(minutes=41))
    pauses.withdraw(session, world.admin, result.awaiting[0], now=now + timedelta(minutes=41))
    session.expire_all()
    assert session.get(Post, late.id).status == wf.WITHDRAWN
    assert target_of(session, late).status == wf.T_CANCELLED
    with pytest.raises(WorkflowConflict):  # decided already
        pauses.send_now(session, world.admin, result.awaiting[0], now=now + timedelta(minutes=42))
    one_pass(now + timedelta(minutes=43))
    assert published(session, target_of(session, late).id) == 0


def test_a_unit_pause_stops_only_that_unit(world, session, now, one_pass, unit_admin):
    dpa = approved(world, now, body="DPA news.", when=now + timedelta(minutes=5))
    co11 = approved_in_co11(world, now + timedelta(minutes=5), now)
    with pytest.raises(PermissionDenied):
        pauses.pause(session, unit_admin, "Not mine to stop", unit_id=world.other_unit.id, now=now)
    with pytest.raises(PermissionDenied):
        pauses.pause(session, unit_admin, "The whole desk", now=now)
    paused = pauses.pause(session, unit_admin, "DPA inquiry", unit_id=world.unit.id, now=now)
    one_pass(now + timedelta(minutes=6))
    assert target_of(session, dpa).status == wf.T_HELD
    assert target_of(session, co11).status == wf.T_PUBLISHED
    assert pauses.visible_to(world.author, pauses.active(session))[0].id == paused.id
    assert pauses.visible_to(world.outsider, pauses.active(session)) == []
    result = pauses.resume(session, unit_admin, paused.id, now=now + timedelta(minutes=7))
    assert result.awaiting == [target_of(session, dpa).id]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "pause.started"))
    assert event.unit_id == world.unit.id and "DPA inquiry" in event.details


def approved_in_co11(world, when, now):
    from desk.services import posts
    from desk.services.posts import PostInput, TargetInput

    s = world.session
    admin.add_membership(s, OPERATOR, world.approver2.id, world.other_unit.id, "approver")
    s.refresh(world.approver2)
    data = PostInput(body="CO11 update.", targets=[TargetInput(world.other_channel.id, None, when)])
    post = posts.save_draft(s, world.outsider, data, now=now).post
    posts.submit(s, world.outsider, post.id, now=now)
    posts.approve(s, world.approver2, post.id, now=now)
    return post


def test_a_desk_pause_over_a_unit_pause_holds_until_both_end(world, session, now, one_pass, unit_admin):
    late = approved(world, now, body="Due between the two pauses.", when=now + timedelta(minutes=10))
    co11 = approved_in_co11(world, now + timedelta(minutes=30), now)
    unit_pause = pauses.pause(session, unit_admin, "DPA inquiry", unit_id=world.unit.id, now=now)
    one_pass(now + timedelta(minutes=11))
    desk_pause = pauses.pause(session, world.admin, "Force-wide incident", now=now + timedelta(minutes=20))
    one_pass(now + timedelta(minutes=31))
    assert target_of(session, co11).status == wf.T_HELD  # the desk-wide pause reaches CO11 too
    assert "Force-wide incident" in target_of(session, late).held_reason  # the desk-wide one speaks first

    first = pauses.resume(session, world.admin, desk_pause.id, now=now + timedelta(minutes=40))
    assert first.awaiting == [target_of(session, co11).id]
    assert target_of(session, late).status == wf.T_HELD and "DPA inquiry" in target_of(session, late).held_reason
    one_pass(now + timedelta(minutes=41))
    assert target_of(session, late).status == wf.T_HELD
    # Due at minute 10, inside the unit's pause (from minute 0), though before the desk's (minute 20).
    second = pauses.resume(session, unit_admin, unit_pause.id, now=now + timedelta(minutes=50))
    assert second.awaiting == [target_of(session, late).id] and second.released == []


def test_refusals_say_what_to_do(world, session, now, unit_admin):
    with pytest.raises(ValidationFailed) as empty:
        pauses.pause(session, world.admin, "   ", now=now)
    assert "reason" in empty.value.field_errors
    with pytest.raises(PermissionDenied):
        pauses.pause(session, world.author, "I am worried", unit_id=world.unit.id, now=now)
    with pytest.raises(ValidationFailed) as nobody:  # the operator's shell: a person must be named
        pauses.pause(session, OPERATOR, "From the console", now=now)
    assert "by" in nobody.value.field_errors
    with pytest.raises(PermissionDenied):
        pauses.pause(session, OPERATOR, "On an author's word", now=now, on_behalf_of=world.author)
    row = pauses.pause(session, OPERATOR, "From the console", now=now, on_behalf_of=world.admin)
    assert row.paused_by_id == world.admin.id
    with pytest.raises(WorkflowConflict):
        pauses.pause(session, world.admin, "Again", now=now)
    with pytest.raises(PermissionDenied):
        pauses.resume(session, unit_admin, row.id, now=now)
    assert count(session, "access.refused") == 3
