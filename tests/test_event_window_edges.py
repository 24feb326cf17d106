"""The edges of a channel's event window, met by the real worker one pass at a time, on both databases.

The window opens at live_from exactly and is closed at live_until exactly (tests/test_event_feeds.py checks
the rule on plain objects and the refusal at submit). Here: a target due a second before it opens is held
with the reason shown and goes out at the opening itself; one due at the opening or inside the window goes
out at its time, never held; one due at the close or after it is held, whatever brought it there.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from test_worker import approved, fresh, one_pass, publications, settings  # noqa: F401  (fixtures)

from desk.config import Settings
from desk.domain import workflow as wf
from desk.domain.errors import ValidationFailed
from desk.models import AuditEvent, Post, Target
from desk.platforms import PlatformContext
from desk.services import admin, posts
from desk.services.posts import PostInput, TargetInput
from desk.worker import run_pass

from conftest import OPERATOR, login

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
OPENS, CLOSES = T0 + timedelta(days=1), T0 + timedelta(days=3)
SECOND = timedelta(seconds=1)
NOT_LIVE_YET = "The event feed is not live yet."


def windowed(world, kind: str, live_from=OPENS, live_until=CLOSES):
    """DPA's training channel with a window: an event feed, or a plain channel whose window holds posts."""
    feed = {"is_event_feed": True, "operation_name": "Operation Meadow"} if kind == "event_feed" else {}
    return admin.update_channel(world.session, OPERATOR, world.channel.id, live_from=live_from,
                                live_until=live_until, now=T0, **feed)


def move_window(world, channel, **bounds):
    """An administrator moves the window after the post was approved (the operation starts later, ends sooner)."""
    admin.update_channel(world.session, OPERATOR, channel.id, now=T0, **bounds)


def story(session, target_id) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "target",
                                                                 AuditEvent.object_id == str(target_id))
                                .order_by(AuditEvent.seq)))


KINDS = ["event_feed", "window"]


@pytest.mark.parametrize("kind", KINDS)
def test_due_a_second_before_it_opens_is_held_then_goes_at_the_opening(world, one_pass, kind):
    s = world.session
    channel = windowed(world, kind, live_from=OPENS - timedelta(hours=1))
    post = approved(world, T0, "The camp's welfare tent opens at nine.", when=OPENS - SECOND, channel=channel)
    tid = post.targets[0].id
    move_window(world, channel, live_from=OPENS)

    result = one_pass(OPENS - SECOND)
    assert result.held == 1 and result.outcomes == {}
    t = fresh(s, Target, tid)
    assert t.status == wf.T_HELD and t.held_reason.startswith(NOT_LIVE_YET) and t.attempts == 0
    assert publications(s, tid) == 0

    result = one_pass(OPENS)
    assert result.released == 1 and result.outcomes == {tid: wf.T_PUBLISHED}
    t = fresh(s, Target, tid)
    assert t.published_at == OPENS and t.held_reason is None and publications(s, tid) == 1
    assert story(s, tid) == ["target.held", "target.released", "target.sending", "target.published"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("when", [OPENS, OPENS + timedelta(hours=5), CLOSES - SECOND],
                         ids=["at-the-opening", "inside", "last-second"])
def test_due_inside_the_window_goes_out_at_its_time_never_held(world, one_pass, kind, when):
    s = world.session
    channel = windowed(world, kind)
    tid = approved(world, T0, "Road closures around the camp.", when=when, channel=channel).targets[0].id
    assert one_pass(when - SECOND).outcomes == {}
    assert fresh(s, Target, tid).status == wf.T_QUEUED
    assert one_pass(when).outcomes == {tid: wf.T_PUBLISHED}
    assert fresh(s, Target, tid).published_at == when and publications(s, tid) == 1
    assert "target.held" not in story(s, tid)


@pytest.mark.parametrize("kind", KINDS)
def test_due_at_the_close_or_after_it_is_held_and_never_sent(world, one_pass, kind):
    s = world.session
    channel = windowed(world, kind)
    at_close = approved(world, T0, "Last update from the camp.", when=CLOSES - timedelta(hours=2), channel=channel)
    after = approved(world, T0, "The camp is cleared.", when=CLOSES - timedelta(hours=1), channel=channel)
    # The operation ends sooner than planned: one target is now due at the close exactly, one after it.
    move_window(world, channel, live_until=CLOSES - timedelta(hours=2))
    ids = [at_close.targets[0].id, after.targets[0].id]

    for now in (CLOSES - timedelta(hours=2), CLOSES - timedelta(hours=1), CLOSES + timedelta(days=1)):
        assert one_pass(now).outcomes == {}
    for tid in ids:
        t = fresh(s, Target, tid)
        assert t.status == wf.T_HELD and t.held_reason and t.attempts == 0 and publications(s, tid) == 0
    reasons = {fresh(s, Target, tid).held_reason for tid in ids}
    if kind == "window":
        assert reasons == {"The event feed's window has closed. The post is held for a person to decide."}
    else:  # the feed went dormant at its end: the reason says so, and what the administrator can do
        assert all("dormant" in r for r in reasons)


def test_a_retry_that_falls_after_the_close_is_held_not_sent(world, one_pass, settings):
    s = world.session
    channel = windowed(world, "window")
    due = CLOSES - 5 * SECOND  # inside; its retry comes at least retry_base/2 later, after the close
    tid = approved(world, T0, "Rehearsal [fail:transient]", when=due, channel=channel).targets[0].id
    assert one_pass(due).outcomes == {tid: wf.T_RETRYING}
    retry_at = fresh(s, Target, tid).next_attempt_at
    assert retry_at > CLOSES
    assert one_pass(retry_at).outcomes == {}
    t = fresh(s, Target, tid)
    assert t.status == wf.T_HELD and "window has closed" in t.held_reason and t.attempts == 1


def test_a_feed_refuses_at_submit_a_post_for_the_close_or_after_but_takes_the_last_second(world):
    s = world.session
    channel = windowed(world, "event_feed")
    key = f"target-{channel.id}-scheduled_at"

    def submitted(when):
        post = posts.save_draft(s, world.author, PostInput(body="Closing message from the camp.",
                                                           targets=[TargetInput(channel.id, scheduled_at=when)]),
                                now=OPENS).post
        return posts.submit(s, world.author, post.id, now=OPENS)

    assert submitted(CLOSES - SECOND).status == wf.IN_REVIEW
    for when in (CLOSES, CLOSES + timedelta(days=1)):
        with pytest.raises(ValidationFailed) as refused:
            submitted(when)
        assert "takes no post after then" in refused.value.field_errors[key][0]


def test_the_reason_a_target_is_held_is_on_the_posts_page(app, web_world, client):
    """What the author sees, on SQLite (the web app's database; the pass itself runs on both above)."""
    sessions = app.extensions["desk.sessions"]
    channel = windowed(web_world, "window", live_from=OPENS - timedelta(hours=1))
    post = approved(web_world, T0, "The camp's welfare tent opens at nine.", when=OPENS - SECOND, channel=channel)
    move_window(web_world, channel, live_from=OPENS)
    settings = Settings(database_url="(the test engine)", secret_key="test")
    run_pass(sessions, PlatformContext(settings, sessions), "test-host:1", settings, now=OPENS - SECOND)

    assert login(client, "author@desk.test").status_code == 200
    page = client.get(f"/posts/{post.id}").get_data(as_text=True)
    assert f"Held: {NOT_LIVE_YET}" in page and "Nothing is lost" in page
    with sessions() as s:
        assert s.get(Post, post.id).targets[0].status == wf.T_HELD
