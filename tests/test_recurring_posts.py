"""Recurring series on both databases: approval starts a series, the worker makes its occurrences ahead
of time and publishes them like any approved post; editing or stopping a series withdraws what has not
gone out; the clock changes neither skip nor double an occurrence."""
from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from desk.config import Settings
from desk.domain import workflow as wf
from desk.domain.errors import WorkflowConflict
from desk.models import AuditEvent, Post, Target, TrainingPublication
from desk.platforms import PlatformContext
from desk.services import posts, recurring
from desk.services.audit_trail import verify
from desk.services.posts import PostInput, RecurrenceInput, TargetInput
from desk.worker import run_pass

LONDON = ZoneInfo("Europe/London")
BODY = "Traffic and travel: the A40 is clear this morning."


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def draft(world, now, rule="daily 08:00", until=None, body=BODY):
    data = PostInput(body=body, targets=[TargetInput(world.channel.id)], recurrence=RecurrenceInput(rule, until))
    return posts.save_draft(world.session, world.author, data, now=now).post


def running(world, now, **kw):
    post = draft(world, now, **kw)
    posts.submit(world.session, world.author, post.id, now=now)
    return posts.approve(world.session, world.approver, post.id, now=now)


def occurrences(session, series_id, status=None):
    session.expire_all()
    stmt = select(Post).where(Post.series_id == series_id).order_by(Post.id)
    if status:
        stmt = stmt.where(Post.status == status)
    return session.scalars(stmt).all()


def local_times(rows):
    return [(r.occurrence_at or r.targets[0].scheduled_at).astimezone(LONDON).strftime("%d %H:%M %Z") for r in rows]


def generate(session, now, **kw):
    return recurring.generate(session, now, worker="test", zone=LONDON, **kw)


def events(session, action, post_id=None):
    stmt = select(AuditEvent).where(AuditEvent.action == action)
    if post_id is not None:
        stmt = stmt.where(AuditEvent.post_id == post_id)
    return session.scalars(stmt.order_by(AuditEvent.seq)).all()


def test_approving_a_series_starts_it_without_making_its_own_targets_publishable(world, now):
    s = world.session
    series = running(world, now)
    assert series.status == wf.RECURRING
    assert [t.status for t in series.targets] == [wf.T_PATTERN]
    assert series.recurrence_generated_until == now
    [approved] = events(s, "post.approved", series.id)
    details = json.loads(approved.details)
    assert details["series"] is True and details["recurrence"] == {"rule": "daily 08:00", "until": None}


def test_the_rule_is_part_of_what_is_approved(world, now):
    s = world.session
    series = running(world, now)
    approved_hash = series.content_hash
    data = PostInput(body=BODY, targets=[TargetInput(world.channel.id)], recurrence=RecurrenceInput("daily 07:00"))
    edited = posts.save_draft(s, world.author, data, post_id=series.id, now=now).post
    assert edited.content_hash != approved_hash
    assert edited.status == wf.DRAFT and all(a.withdrawn_at for a in edited.approvals)
    one_off = posts.save_draft(s, world.author, PostInput(body=BODY, targets=[TargetInput(world.channel.id)]),
                               now=now).post
    assert one_off.content_hash != edited.content_hash and one_off.recurrence_rule is None


def test_generation_makes_each_occurrence_once_with_its_audit_event(world, now):
    s = world.session
    series = running(world, now)  # 10:00 BST on 1 June: the first is 08:00 on 2 June
    made = generate(s, now)
    assert made == (2, 0, 0)
    rows = occurrences(s, series.id)
    assert local_times(rows) == ["02 08:00 BST", "03 08:00 BST"]
    occ = rows[0]
    assert occ.status == wf.APPROVED and occ.content_hash == series.content_hash and occ.author_id == world.author.id
    assert occ.body == BODY and occ.recurrence_rule is None
    assert [(t.channel_id, t.status, t.scheduled_at) for t in occ.targets] == [
        (world.channel.id, wf.T_QUEUED, occ.occurrence_at)]
    [event] = events(s, "post.occurrence_created", occ.id)
    details = json.loads(event.details)
    assert details["series_id"] == series.id and details["local_time"] == "Tue 02 Jun 2026 08:00 BST"
    assert details["rule"] == "daily 08:00" and details["rule_words"] == "Every day at 08:00"
    assert [a["approver"] for a in details["approvals"]] == [world.approver.name]
    # Who approved this occurrence: the series' approval of the same content.
    assert [a.approver_id for a in recurring.series_approvals(series, occ.content_hash)] == [world.approver.id]

    assert generate(s, now) == (0, 0, 0)  # run again: nothing more
    assert generate(s, now + timedelta(hours=1)) == (0, 0, 0)
    assert generate(s, now + timedelta(days=1)) == (1, 0, 0)
    assert len(occurrences(s, series.id)) == 3
    assert verify(s).ok


def test_a_weekly_series_always_has_its_next_occurrence_made(world, now):
    series = running(world, now, rule="weekly FRI 09:00")
    assert generate(world.session, now) == (1, 0, 0)
    assert local_times(occurrences(world.session, series.id)) == ["05 09:00 BST"]


def _settings():
    return Settings(database_url="(the test engine)", secret_key="test", max_attempts=3, retry_base_seconds=30,
                    worker_batch_size=10, lease_seconds=60)


def test_the_worker_never_sends_the_series_and_sends_each_occurrence_at_its_time(world, sessions, now):
    s = world.session
    settings = _settings()
    context = PlatformContext(settings, sessions)
    series = running(world, now)
    pattern_id = series.targets[0].id

    def one_pass(when):
        return run_pass(sessions, context, "test-host:1", settings, now=when)

    assert one_pass(now).outcomes == {}  # makes the occurrences; none is due yet
    first, second = occurrences(s, series.id)
    assert one_pass(first.occurrence_at - timedelta(seconds=1)).outcomes == {}
    tid = first.targets[0].id
    assert one_pass(first.occurrence_at).outcomes == {tid: wf.T_PUBLISHED}
    s.expire_all()
    assert s.get(Post, first.id).status == wf.PUBLISHED
    assert s.get(Target, pattern_id).status == wf.T_PATTERN
    assert s.scalar(select(func.count(TrainingPublication.id)).where(TrainingPublication.target_id == tid)) == 1
    assert s.scalar(select(func.count(TrainingPublication.id)).where(
        TrainingPublication.target_id == pattern_id)) == 0
    story = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.post_id == first.id)
                                         .order_by(AuditEvent.seq))]
    assert story[0] == "post.occurrence_created" and "post.published" in story
    assert s.get(Post, second.id).status == wf.APPROVED
    assert verify(s).ok


def test_editing_a_series_withdraws_what_has_not_gone_out_and_restarts_from_the_new_approval(world, now):
    s = world.session
    series = running(world, now)
    generate(s, now)
    first, second = occurrences(s, series.id)
    first.targets[0].status = wf.T_PUBLISHED  # as if the worker sent the first one
    first.status = wf.PUBLISHED
    s.commit()

    later = now + timedelta(hours=30)  # 16:00 BST on 2 June
    data = PostInput(body=BODY + " Updated.", targets=[TargetInput(world.channel.id)],
                     recurrence=RecurrenceInput("daily 08:00"))
    edited = posts.save_draft(s, world.author, data, post_id=series.id, now=later).post
    assert edited.status == wf.DRAFT
    assert [o.status for o in occurrences(s, series.id)] == [wf.PUBLISHED, wf.WITHDRAWN]
    withdrawn = s.get(Post, second.id)
    assert withdrawn.targets[0].status == wf.T_CANCELLED and withdrawn.occurrence_at is None
    [event] = events(s, "post.withdrawn", second.id)
    assert "edited" in json.loads(event.details)["reason"]
    assert generate(s, later) == (0, 0, 0)  # a series awaiting approval makes nothing

    # Re-approved two days later: nothing is back-filled, and 3 June 08:00 is made again, with the new text.
    again = later + timedelta(hours=1)
    posts.submit(s, world.author, series.id, now=again)
    posts.approve(s, world.approver, series.id, now=again)
    generate(s, again)
    fresh = occurrences(s, series.id, wf.APPROVED)
    assert local_times(fresh) == ["03 08:00 BST", "04 08:00 BST"]
    assert all(o.body.endswith("Updated.") for o in fresh)


def test_an_occurrence_cannot_be_edited_but_may_be_withdrawn_alone(world, now):
    s = world.session
    series = running(world, now)
    generate(s, now)
    first, second = occurrences(s, series.id)
    with pytest.raises(WorkflowConflict, match="edit that series instead"):
        posts.save_draft(s, world.author, PostInput(body="Changed", targets=[TargetInput(world.channel.id)]),
                         post_id=first.id, now=now)
    posts.withdraw(s, world.approver, first.id, reason="No update on the bank holiday", now=now)
    assert [o.status for o in occurrences(s, series.id)] == [wf.WITHDRAWN, wf.APPROVED]
    assert s.get(Post, series.id).status == wf.RECURRING
    # A later edit and re-approval of the series does not bring back the one a person withdrew.
    data = PostInput(body=BODY + "!", targets=[TargetInput(world.channel.id)],
                     recurrence=RecurrenceInput("daily 08:00"))
    posts.save_draft(s, world.author, data, post_id=series.id, now=now)
    posts.submit(s, world.author, series.id, now=now)
    posts.approve(s, world.approver, series.id, now=now)
    generate(s, now)
    assert local_times(occurrences(s, series.id, wf.APPROVED)) == ["03 08:00 BST"]


def test_stopping_a_series_withdraws_its_pending_occurrences(world, now):
    s = world.session
    series = running(world, now)
    generate(s, now)
    posts.withdraw(s, world.author, series.id, reason="The roadworks are over", now=now)
    assert s.get(Post, series.id).status == wf.WITHDRAWN
    assert {o.status for o in occurrences(s, series.id)} == {wf.WITHDRAWN}
    assert len(events(s, "post.withdrawn")) == 3
    assert generate(s, now + timedelta(days=3)) == (0, 0, 0)


def test_a_series_ends_by_itself_after_its_last_occurrence(world, now):
    s = world.session
    until = recurring.rules.end_of_day(datetime(2026, 6, 4).date(), LONDON)
    series = running(world, now, until=until)
    assert generate(s, now) == (2, 0, 0)
    assert generate(s, now + timedelta(days=1)) == (1, 0, 1)
    assert s.get(Post, series.id).status == wf.ENDED
    assert local_times(occurrences(s, series.id)) == ["02 08:00 BST", "03 08:00 BST", "04 08:00 BST"]
    assert len(events(s, "post.series_ended", series.id)) == 1


def test_occurrences_found_too_late_are_recorded_not_sent(world, now):
    s = world.session
    series = running(world, now)
    generate(s, now)
    # The worker was stopped for three days: 4 and 5 June are past their channel's lateness.
    assert generate(s, utc(2026, 6, 6, 6)) == (2, 2, 0)
    [missed] = events(s, "post.occurrences_missed", series.id)
    assert json.loads(missed.details)["local_times"] == ["Thu 04 Jun 2026 08:00 BST", "Fri 05 Jun 2026 08:00 BST"]
    assert local_times(occurrences(s, series.id))[-2:] == ["06 08:00 BST", "07 08:00 BST"]


@pytest.mark.parametrize("rule,start,expected", [
    ("30 1 * * *", utc(2026, 3, 27, 12), ["28 01:30 GMT", "29 02:30 BST", "30 01:30 BST", "31 01:30 BST"]),
    ("30 1 * * *", utc(2026, 10, 23, 12), ["24 01:30 BST", "25 01:30 BST", "26 01:30 GMT", "27 01:30 GMT"]),
    ("daily 08:00", utc(2026, 3, 27, 12), ["28 08:00 GMT", "29 08:00 BST", "30 08:00 BST", "31 08:00 BST"]),
    ("daily 08:00", utc(2026, 10, 23, 12), ["24 08:00 BST", "25 08:00 GMT", "26 08:00 GMT", "27 08:00 GMT"]),
])
def test_generation_across_the_clock_changes_neither_skips_nor_doubles(world, rule, start, expected):
    s = world.session
    series = running(world, start, rule=rule)
    for hour in range(0, 4 * 24, 1):  # a pass every hour, as a worker would make many
        generate(s, start + timedelta(hours=hour), horizon=timedelta(hours=6))
    rows = occurrences(s, series.id)
    assert local_times(rows)[:4] == expected
    assert len({r.occurrence_at for r in rows}) == len(rows)


def test_two_workers_generating_at_once_make_each_occurrence_once(world, sessions, now):
    series = running(world, now, rule="*/15 * * * *")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def work():
        try:
            with sessions() as s:
                barrier.wait()
                results.append(recurring.generate(s, now, worker=threading.current_thread().name, zone=LONDON))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, name=f"w{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = occurrences(world.session, series.id)
    assert len(rows) == 192 == sum(r[0] for r in results)  # 48 hours of quarter hours, each made once
    assert len({r.occurrence_at for r in rows}) == 192
    assert len(events(world.session, "post.occurrence_created")) == 192
