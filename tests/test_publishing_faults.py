"""Faults injected by the fake X, met by the real worker one pass at a time, on both databases.

Each test says what the platform did wrong, then checks what the issue promises: the attempts (the desk's
publish_attempts rows and the posts the fake received) never above the maximum, retries no sooner than
the backoff or the platform allows, the right final state, and nothing lost or posted twice.
Passes run with an explicit `now`; where X's own headers give absolute times (an HTTP date, a reset in
Unix seconds) the passes run on the real clock's time, so that both speak of the same moment.
"""
from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select, update
from test_connections import Desk, _loopback  # noqa: F401  (_loopback: an autouse fixture, used here too)
from test_worker import approved, fresh

from desk import crypto
from desk.domain import lateness
from desk.domain import workflow as wf
from desk.models import AuditEvent, Channel, Post, PublishAttempt, Target
from desk.services import worker_status
from desk.services.audit_trail import verify
from desk.worker import run_pass
from tests.fakes.fake_x import FakeX, http_date
from tests.fakes.server import FakeServer

WORKER = "faults-host:1"
TWEETS = "/2/tweets"
SECOND = timedelta(seconds=1)


class XDesk(Desk):
    """The fake X, a channel connected to it through the real consent, and the worker's passes."""

    def __init__(self, *args):
        super().__init__(*args)
        self.worker_context = self.context()
        # Short, so that a read timeout costs the test half a second, not the production thirty.
        self.worker_context.timeout = (0.3, 0.5)
        self.settings = self.worker_context.settings

    def point_at(self, base_url: str) -> None:
        self.settings.extra["platform_env"]["DESK_X_API_BASE"] = base_url

    def run(self, now):
        return run_pass(self.sessions, self.worker_context, WORKER, self.settings, now=now)

    def posts_sent(self) -> int:
        return len(self.server.received("POST", TWEETS))

    def ticks(self, start, end, step=timedelta(seconds=5), until=None) -> list[datetime]:
        """Passes every `step` from start to end, as the worker's clock would run them; the time of the
        pass that sent each post X received."""
        sent_at, at = [], start
        while at <= end:
            before = self.posts_sent()
            self.run(at)
            sent_at += [at] * (self.posts_sent() - before)
            if until is not None and until():
                break
            at += step
        return sent_at


@pytest.fixture
def t0():
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def x(world, sessions, t0):
    fake = FakeX()
    with FakeServer(fake) as server:
        yield XDesk(fake, server, world, sessions, t0)


def attempts_of(session, target_id) -> list[PublishAttempt]:
    session.expire_all()
    return list(session.scalars(select(PublishAttempt).where(PublishAttempt.target_id == target_id)
                                .order_by(PublishAttempt.number)))


def target_story(session, target_id) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "target",
                                                                 AuditEvent.object_id == str(target_id))
                                .order_by(AuditEvent.seq)))


def assert_backed_off(sent_at: list[datetime], settings) -> None:
    """Each attempt came no sooner after the one before than the least its backoff allows (half the delay)."""
    for n, (before, after) in enumerate(zip(sent_at, sent_at[1:]), start=1):
        assert after - before >= timedelta(seconds=settings.retry_base_seconds * 2 ** (n - 1) / 2)


def tweets_with(fake: FakeX, text: str) -> list[dict]:
    return [t for t in fake.live_tweets() if t["text"] == text]


# ---- 5xx -----------------------------------------------------------------------------------------------

def test_503s_for_a_while_back_off_within_the_jitter_then_publish_once(x, t0):
    s = x.world.session
    body = "The M4 is closed westbound between junctions 3 and 4."
    tid = approved(x.world, t0, body, channel=x.connect()).targets[0].id
    x.fake.fail_next(503, times=2, path=TWEETS, method="POST")
    at = t0
    for n in (1, 2):
        assert x.run(at).outcomes == {tid: wf.T_RETRYING}
        t = fresh(s, Target, tid)
        delay = x.settings.retry_base_seconds * 2 ** (n - 1)
        assert at + timedelta(seconds=delay / 2) <= t.next_attempt_at <= at + timedelta(seconds=delay)
        assert "had a problem of its own" in t.error_message and "try again by itself" in t.error_message
        assert x.run(t.next_attempt_at - timedelta(seconds=1)).outcomes == {}  # not a moment early
        assert x.posts_sent() == n
        at = t.next_attempt_at
    assert x.run(at).outcomes == {tid: wf.T_PUBLISHED}
    assert [a.outcome for a in attempts_of(s, tid)] == [wf.T_RETRYING, wf.T_RETRYING, wf.T_PUBLISHED]
    assert x.posts_sent() == 3 and len(tweets_with(x.fake, body)) == 1
    assert fresh(s, Target, tid).remote_id == tweets_with(x.fake, body)[0]["id"]
    x.run(at + timedelta(hours=1))
    assert x.posts_sent() == 3
    assert verify(s).ok


def test_503s_for_ever_fail_after_the_maximum_in_words(x, t0):
    s = x.world.session
    post = approved(x.world, t0, "Appeal: have you seen this van?", channel=x.connect())
    tid = post.targets[0].id
    x.fake.fail_next(503, times=1000, path=TWEETS, method="POST")
    sent_at = x.ticks(t0, t0 + timedelta(hours=2), step=timedelta(seconds=5),
                      until=lambda: fresh(s, Target, tid).status == wf.T_FAILED)
    limit = x.settings.max_attempts
    assert len(sent_at) == limit and len(attempts_of(s, tid)) == limit
    assert_backed_off(sent_at, x.settings)
    t = fresh(s, Target, tid)
    assert t.status == wf.T_FAILED and t.attempts == limit
    assert "had a problem of its own" in t.error_message and f"gave up after {limit} attempts" in t.error_message
    assert fresh(s, Post, post.id).status == wf.FAILED
    x.ticks(sent_at[-1], sent_at[-1] + timedelta(hours=3), step=timedelta(minutes=30))
    assert x.posts_sent() == limit  # never above the maximum, however long the worker runs


def test_a_500_after_x_took_the_post_is_reconciled_not_reposted(x, t0):
    s = x.world.session
    body = "Officers are at the scene of a collision on the A40."
    tid = approved(x.world, t0, body, channel=x.connect()).targets[0].id
    x.fake.fail_next(500, path=TWEETS, method="POST", after_handling=True)
    x.ticks(t0, t0 + timedelta(minutes=5), until=lambda: fresh(s, Target, tid).status == wf.T_PUBLISHED)
    [tweet] = tweets_with(x.fake, body)
    t = fresh(s, Target, tid)
    assert t.status == wf.T_PUBLISHED and t.remote_id == tweet["id"] and t.attempts == 1
    assert x.posts_sent() == 1 and x.server.received("GET", f"/2/users/{x.fake.account.id}/tweets")
    assert target_story(s, tid)[-3:] == ["target.sending", "target.unknown", "target.reconciled_published"]


def test_500s_for_ever_on_the_post_itself_stop_at_the_maximum(x, t0):
    """X's 500 on a post is ambiguous (it may have been created), so each one is reconciled first; not found,
    it is tried again, but with backoff and never more than the maximum number of attempts."""
    s = x.world.session
    tid = approved(x.world, t0, "Roadworks on the A3 tonight.", channel=x.connect()).targets[0].id
    x.fake.fail_next(500, times=1000, path=TWEETS, method="POST")
    sent_at = x.ticks(t0, t0 + timedelta(minutes=5), step=timedelta(seconds=5),
                      until=lambda: fresh(s, Target, tid).status == wf.T_FAILED)
    limit = x.settings.max_attempts
    assert len(sent_at) <= limit and len(attempts_of(s, tid)) <= limit
    assert_backed_off(sent_at, x.settings)
    t = fresh(s, Target, tid)
    assert t.status == wf.T_FAILED and "X" in t.error_message and x.fake.live_tweets() == []


# ---- the connection never opens --------------------------------------------------------------------

@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 where nothing listens: the connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_port():
    """A port on 127.0.0.1 whose listener never accepts and whose queue is full: connecting times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}"
    for sock in fillers + [listener]:
        sock.close()


@pytest.mark.parametrize("unreachable", ["closed_port", "silent_port"])
def test_no_connection_is_retried_and_nothing_is_lost(x, t0, request, unreachable):
    s = x.world.session
    body = "The march will now finish at Parliament Square."
    tid = approved(x.world, t0, body, channel=x.connect()).targets[0].id
    x.point_at(request.getfixturevalue(unreachable))
    at = t0
    for _ in range(2):
        assert x.run(at).outcomes == {tid: wf.T_RETRYING}
        t = fresh(s, Target, tid)
        assert t.error_code == "connect" and "nothing was sent" in t.error_message
        at = t.next_attempt_at
    assert x.posts_sent() == 0
    x.point_at(x.server.url)  # X is reachable again
    assert x.run(at).outcomes == {tid: wf.T_PUBLISHED}
    assert len(attempts_of(s, tid)) == 3 == x.settings.max_attempts
    assert x.posts_sent() == 1 and len(tweets_with(x.fake, body)) == 1


# ---- the answer never comes -------------------------------------------------------------------------

def test_a_read_timeout_after_x_took_the_post_is_reconciled_not_reposted(x, t0):
    s = x.world.session
    body = "Stay away from the area around Oxford Circus."
    tid = approved(x.world, t0, body, channel=x.connect()).targets[0].id
    held = x.server.stall("POST", TWEETS, when="after")  # X stores the post, its answer never arrives in time
    try:
        x.ticks(t0, t0 + timedelta(minutes=5), until=lambda: fresh(s, Target, tid).status == wf.T_PUBLISHED)
        assert held.arrived.is_set()
    finally:
        held.release()
    [tweet] = tweets_with(x.fake, body)
    t = fresh(s, Target, tid)
    assert t.status == wf.T_PUBLISHED and t.remote_id == tweet["id"] and t.attempts == 1
    [attempt] = attempts_of(s, tid)
    assert attempt.outcome == wf.T_UNKNOWN and attempt.error_code == "timeout"
    assert target_story(s, tid)[-3:] == ["target.sending", "target.unknown", "target.reconciled_published"]
    x.run(t0 + timedelta(hours=1))
    assert x.posts_sent() == 1 and len(tweets_with(x.fake, body)) == 1


def test_a_read_timeout_while_x_is_still_storing_the_post_is_not_reposted(x, t0):
    """X took the request but had not stored the post when the desk gave up waiting; it does a moment later.
    Asking X at once would find nothing and send it again: the desk must give X time before it asks."""
    s = x.world.session
    body = "Disruption expected on the Victoria line."
    tid = approved(x.world, t0, body, channel=x.connect()).targets[0].id
    slow = x.server.stall("POST", TWEETS, when="before")
    try:
        x.run(t0)
        assert slow.arrived.is_set() and x.fake.tweets == {}
    finally:
        slow.release()
    deadline = time.monotonic() + 5
    while not tweets_with(x.fake, body) and time.monotonic() < deadline:
        time.sleep(0.02)
    x.ticks(t0 + timedelta(seconds=5), t0 + timedelta(minutes=10),
            until=lambda: fresh(s, Target, tid).status not in (wf.T_QUEUED, wf.T_RETRYING, wf.T_UNKNOWN))
    [tweet] = tweets_with(x.fake, body)
    t = fresh(s, Target, tid)
    assert t.status == wf.T_PUBLISHED and t.remote_id == tweet["id"]
    assert x.posts_sent() == 1


# ---- rate limits --------------------------------------------------------------------------------------

def _two_posts(x, t0):
    channel = x.connect()
    first = approved(x.world, t0, "First: the bridge is closed.", channel=channel).targets[0].id
    second = approved(x.world, t0, "Second: use the diversion via Kew.", channel=channel).targets[0].id
    return first, second


def test_a_429_with_retry_after_seconds_pauses_the_whole_channel(x, t0):
    s = x.world.session
    first, second = _two_posts(x, t0)
    # X's 429 also says when its window resets: here the same moment, so that Retry-After is what is tested.
    x.fake.rate_limit_next(retry_after="120", reset=int(t0.timestamp()) + 120, path=TWEETS, method="POST")
    x.run(t0)
    assert x.posts_sent() == 1  # the 429 stops the channel: the second post is not sent after it
    t = fresh(s, Target, first)
    assert t.status == wf.T_RETRYING and t.next_attempt_at >= t0 + timedelta(seconds=120)
    assert "slow down" in t.error_message and "Nothing was lost" in t.error_message
    sent_at = x.ticks(t0 + timedelta(seconds=2), t0 + timedelta(minutes=5), step=2 * SECOND,
                      until=lambda: fresh(s, Target, second).status == wf.T_PUBLISHED
                      and fresh(s, Target, first).status == wf.T_PUBLISHED)
    assert len(sent_at) == 2 and min(sent_at) >= t0 + timedelta(seconds=120)
    assert [len(attempts_of(s, first)), len(attempts_of(s, second))] == [2, 1]
    assert len(x.fake.live_tweets()) == 2


def test_a_429_with_retry_after_as_an_http_date_is_honoured(x):
    s = x.world.session
    start = datetime.now(UTC)
    first, second = _two_posts(x, start)
    retry_after = http_date(90)
    moment = parsedate_to_datetime(retry_after)
    x.fake.rate_limit_next(retry_after=retry_after, reset=int(moment.timestamp()), path=TWEETS, method="POST")
    start = datetime.now(UTC)  # the real clock: the date X sends is on it
    x.run(start)
    assert x.posts_sent() == 1
    t = fresh(s, Target, first)
    # HTTP dates have whole seconds, and the test's clock stands still during a pass: a second's leeway.
    assert moment - timedelta(seconds=1) <= t.next_attempt_at <= moment + timedelta(seconds=1)
    sent_at = x.ticks(start + timedelta(seconds=1), moment + timedelta(minutes=2), step=2 * SECOND,
                      until=lambda: len(x.fake.live_tweets()) == 2)
    assert len(sent_at) == 2 and min(sent_at) >= moment - timedelta(seconds=1)
    assert {fresh(s, Target, first).status, fresh(s, Target, second).status} == {wf.T_PUBLISHED}


def test_x_saying_no_calls_left_until_its_reset_spaces_the_next_post(x):
    s = x.world.session
    start = datetime.now(UTC)
    first, second = _two_posts(x, start)
    reset = int(start.timestamp()) + 60
    x.fake.limit_next(remaining=0, reset=reset, path=TWEETS, method="POST")
    start = datetime.now(UTC)
    x.run(start)
    assert fresh(s, Target, first).status == wf.T_PUBLISHED
    assert x.posts_sent() == 1  # X said none are left: the second waits for the window to reset
    reset_at = datetime.fromtimestamp(reset, UTC)
    sent_at = x.ticks(start + timedelta(seconds=1), reset_at + timedelta(minutes=2), step=2 * SECOND,
                      until=lambda: fresh(s, Target, second).status == wf.T_PUBLISHED)
    assert len(sent_at) == 1 and sent_at[0] >= reset_at - timedelta(seconds=1)
    assert len(attempts_of(s, second)) == 1  # waited, not refused and retried


# ---- authorisation ------------------------------------------------------------------------------------

def test_an_expired_oauth2_token_is_refreshed_once_then_the_post_goes(x, t0):
    s = x.world.session
    channel = x.connect(DESK_X_AUTH="oauth2")
    before = crypto.decrypt_json(channel.credentials)
    tid = approved(x.world, t0, "Lost dog found near the station.", channel=channel).targets[0].id
    x.fake.expire_tokens()
    x.server.clear()
    assert x.run(t0).outcomes == {tid: wf.T_PUBLISHED}
    assert [r.path for r in x.server.received("POST")] == [TWEETS, "/2/oauth2/token", TWEETS]  # one refresh
    assert len(attempts_of(s, tid)) == 1 and len(x.fake.live_tweets()) == 1
    s.expire_all()
    after = crypto.decrypt_json(s.get(Channel, channel.id).credentials)
    assert after["refresh_token"] != before["refresh_token"] and s.get(Channel, channel.id).status == "active"


def _reconnect(x, channel, now, **env):
    state, args = x.consent(x.begin(channel_id=channel.id, now=now, **env))
    assert x.complete(state, args, now=now, **env).reconnected


def test_a_refused_refresh_holds_the_channel_without_a_retry_storm_until_reconnected(x, t0):
    s, w = x.world.session, x.world
    channel = x.connect(DESK_X_AUTH="oauth2")
    first = approved(w, t0, "Traffic update: the A40 is clear.", channel=channel).targets[0].id
    x.fake.refresh_tokens.clear()  # the refresh token was revoked on X
    x.fake.expire_tokens()
    x.server.clear()
    assert x.run(t0).outcomes == {first: wf.T_HELD}
    assert [r.path for r in x.server.requests] == [TWEETS, "/2/oauth2/token"]  # one refresh, refused
    s.expire_all()
    c = s.get(Channel, channel.id)
    assert c.status == "needs_reconnect" and "reconnect the channel" in c.status_reason
    [told] = s.scalars(select(AuditEvent).where(AuditEvent.action == "channel.needs_reconnect")).all()
    assert told.unit_id == w.unit.id and told.channel_id == channel.id  # on the unit's trail and channel page
    assert "reconnect" in fresh(s, Target, first).held_reason

    second = approved(w, t0 + timedelta(minutes=1), "Traffic update: the A3 is clear.", channel=channel).targets[0].id
    seen = len(x.server.requests)
    for minutes in (1, 2, 10, 30, 50):
        x.run(t0 + timedelta(minutes=minutes))
    assert len(x.server.requests) == seen  # no call at all while the channel waits for a person
    assert fresh(s, Target, second).status == wf.T_HELD
    # The unit's administrators see it on the publishing status page, scoped to their units; others do not.
    [row] = worker_status.snapshot(s, t0 + timedelta(minutes=50), x.settings, unit_ids={w.unit.id}).needs_reconnect
    assert (row.id, row.held) == (channel.id, 2) and "reconnect" in row.reason
    assert worker_status.snapshot(s, t0, x.settings, unit_ids={w.other_unit.id}).needs_reconnect == []
    assert len(attempts_of(s, first)) == 1 and attempts_of(s, second) == []

    reconnected = t0 + timedelta(minutes=55)
    _reconnect(x, channel, reconnected, DESK_X_AUTH="oauth2")
    assert x.run(reconnected).released == 2
    x.ticks(reconnected, reconnected + timedelta(minutes=5), step=SECOND,  # the channel's pace decides how fast
            until=lambda: {fresh(s, Target, first).status, fresh(s, Target, second).status} == {wf.T_PUBLISHED})
    assert {fresh(s, Target, first).status, fresh(s, Target, second).status} == {wf.T_PUBLISHED}
    assert x.posts_sent() == 3 and len(x.fake.live_tweets()) == 2
    assert len(attempts_of(s, first)) == 2 and len(attempts_of(s, second)) == 1
    assert verify(s).ok


def test_a_revoked_oauth1_token_needs_a_reconnect_at_once_and_a_long_wait_needs_a_person(x, t0):
    s, w = x.world.session, x.world
    channel = x.connect()
    s.execute(update(Channel).where(Channel.id == channel.id).values(late_after_minutes=30))
    s.commit()
    approved_at, later = t0 - timedelta(minutes=10), t0 + timedelta(minutes=100)
    stale = approved(w, approved_at, "Road closed until 10am.", when=t0, channel=channel).targets[0].id
    still_fine = approved(w, approved_at, "Road open again.", when=later, channel=channel).targets[0].id
    x.fake.expire_tokens()  # OAuth 1.0a tokens do not expire: this one was revoked
    assert x.run(t0).outcomes == {stale: wf.T_HELD}
    assert x.posts_sent() == 1 and x.server.received("POST", "/2/oauth2/token") == []  # nothing to refresh
    assert fresh(s, Channel, channel.id).status == "needs_reconnect"
    seen = len(x.server.requests)
    x.run(later)
    assert fresh(s, Target, still_fine).status == wf.T_HELD and len(x.server.requests) == seen

    reconnected = later + timedelta(minutes=20)  # the stale one is 120 minutes late, the other 20
    _reconnect(x, channel, reconnected)
    result = x.run(reconnected)
    assert result.outcomes == {still_fine: wf.T_PUBLISHED}
    t = fresh(s, Target, stale)
    assert t.status == wf.T_HELD and lateness.awaits_person(t.held_reason) and "30 minutes" in t.held_reason
    x.run(reconnected + timedelta(hours=1))
    assert fresh(s, Target, stale).status == wf.T_HELD
    assert [tw["text"] for tw in x.fake.live_tweets()] == ["Road open again."]
    assert len(attempts_of(s, stale)) == 1
