"""Connecting platform accounts as channels, through the connection use cases and the real X adapter
against the fake X on 127.0.0.1: both OAuth flows, reconnecting, and every refusal."""
from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import select

from desk import crypto
from desk.config import Settings
from desk.domain import workflow as wf
from desk.domain.errors import NotFound, PermissionDenied, ValidationFailed, WorkflowConflict
from desk.models import AuditEvent, Channel, ConnectionAttempt, Target
from desk.platforms import PlatformContext
from desk.services import admin, connections, posts
from desk.services.posts import PostInput, TargetInput
from desk.worker import run_pass
from tests.fakes.fake_x import Account, FakeX
from tests.fakes.server import FakeServer

from conftest import OPERATOR, PASSWORD

CALLBACK = "http://desk.test/channels/connect/x/callback"


@pytest.fixture(autouse=True)
def _loopback(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain HTTP on 127.0.0.1
    monkeypatch.setattr(crypto, "_cipher", crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()}))


class Desk:
    """The fake X, and the desk's side of a connection: its settings, the consent as a browser follows it."""

    def __init__(self, fake: FakeX, server: FakeServer, world, sessions, now):
        self.fake, self.server, self.world, self.sessions, self.now = fake, server, world, sessions, now
        self.env = {"DESK_X_API_BASE": server.url, "DESK_X_AUTHORIZE_URL": server.url + "/i/oauth2/authorize",
                    "DESK_X_CONSUMER_KEY": fake.consumer_key, "DESK_X_CONSUMER_SECRET": fake.consumer_secret,
                    "DESK_X_CLIENT_ID": fake.client_id, "DESK_X_CLIENT_SECRET": fake.client_secret}

    def context(self, **env) -> PlatformContext:
        settings = Settings(database_url="(the test engine)", secret_key="test", max_attempts=3,
                            extra={"platform_env": {**self.env, **env}})
        return PlatformContext(settings=settings, session_factory=self.sessions, timeout=(2.0, 2.0))

    def begin(self, actor=None, unit=None, channel_id=None, now=None, **env) -> str:
        return connections.begin(self.world.session, actor or self.world.admin, "x",
                                 None if channel_id else (unit or self.world.unit).id, CALLBACK, self.context(**env),
                                 channel_id=channel_id, now=now or self.now)

    @staticmethod
    def consent(url: str) -> tuple[str, dict]:
        """The account holder at X's consent page: where X sends the browser back, split into state and args."""
        answer = requests.get(url, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith(CALLBACK + "?")
        args = dict(parse_qsl(urlsplit(location).query))
        return args.pop("state"), args

    def complete(self, state, args, actor=None, now=None, **env):
        return connections.complete(self.world.session, actor or self.world.admin, state, args, self.context(**env),
                                    platform="x", now=now or self.now + timedelta(minutes=1))

    def connect(self, **env) -> Channel:
        state, args = self.consent(self.begin(**env))
        [channel] = self.complete(state, args, **env).channels
        return channel


@pytest.fixture
def desk(world, sessions, now):
    fake = FakeX()
    with FakeServer(fake) as server:
        yield Desk(fake, server, world, sessions, now)


def events(session, action_prefix: str) -> list[AuditEvent]:
    return [e for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))
            if e.action.startswith(action_prefix)]


def attempt_of(session, state) -> ConnectionAttempt:
    session.expire_all()
    return session.scalar(select(ConnectionAttempt).where(ConnectionAttempt.state == state))


# ---- connecting -------------------------------------------------------------------------------------------

def test_oauth1_connect_makes_a_channel_of_the_unit(desk):
    s, w = desk.world.session, desk.world
    url = desk.begin()
    assert url.startswith(desk.server.url + "/oauth/authorize?oauth_token=rt-")
    [attempt] = s.scalars(select(ConnectionAttempt)).all()
    # X returns only oauth_token and oauth_verifier: the desk's state rides in the callback it registered
    [registered] = [p["callback"] for p in desk.fake.request_tokens.values()]
    assert registered == f"{CALLBACK}?state={attempt.state}"
    token_secret = next(iter(desk.fake.request_tokens.values()))["secret"]
    assert token_secret not in attempt.pending
    assert crypto.decrypt_json(attempt.pending)["oauth_token_secret"] == token_secret

    state, args = desk.consent(url)
    assert state == attempt.state and set(args) == {"oauth_token", "oauth_verifier"}
    result = desk.complete(state, args)
    [channel] = result.channels
    assert (channel.unit_id, channel.platform, channel.status) == (w.unit.id, "x", "active")
    assert (channel.remote_account_id, channel.remote_name, channel.remote_handle) == (
        "1500000000000000001", "Met Police Events", "@MetPoliceEvents")
    assert channel.name == "Met Police Events (@MetPoliceEvents)" and channel.approvals_required == 1
    credentials = crypto.decrypt_json(channel.credentials)
    assert credentials["mode"] == "oauth1" and credentials["oauth_token"] in desk.fake.access_tokens
    assert result.message.startswith("Connected Met Police Events (@MetPoliceEvents) as a channel of DPA:")

    done = attempt_of(s, state)
    assert done.completed_at is not None and crypto.decrypt_json(done.pending) == {}
    actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions[-2:] == ["connection.started", "channel.connected"]
    details = " ".join(e.details for e in s.scalars(select(AuditEvent)))
    secrets = [credentials["oauth_token"], credentials["oauth_token_secret"], token_secret, args["oauth_verifier"]]
    assert not any(secret in details for secret in secrets)
    connected = events(s, "channel.connected")[0]
    assert connected.channel_id == channel.id and connected.unit_id == w.unit.id
    assert json.loads(connected.details)["remote_handle"] == "@MetPoliceEvents"


def test_oauth2_connect_with_pkce(desk):
    url = desk.begin(DESK_X_AUTH="oauth2")
    assert url.startswith(desk.server.url + "/i/oauth2/authorize?")
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["redirect_uri"] == CALLBACK  # OAuth 2.0: exactly the registered address, the state apart
    assert query["code_challenge_method"] == "S256"
    state, args = desk.consent(url)
    assert state == query["state"] and set(args) == {"code"}
    [channel] = desk.complete(state, args, DESK_X_AUTH="oauth2").channels
    credentials = crypto.decrypt_json(channel.credentials)
    assert credentials["mode"] == "oauth2" and credentials["access_token"] in desk.fake.bearers
    assert credentials["refresh_token"] in desk.fake.refresh_tokens
    assert channel.remote_handle == "@MetPoliceEvents"


def test_a_unit_administrator_connects_for_their_unit_only(desk):
    s, w = desk.world.session, desk.world
    admin.add_membership(s, OPERATOR, w.manager.id, w.unit.id, "unit_admin")
    s.refresh(w.manager)
    state, args = desk.consent(desk.begin(actor=w.manager))
    [channel] = desk.complete(state, args, actor=w.manager).channels
    assert channel.unit_id == w.unit.id
    with pytest.raises(PermissionDenied, match="unit's administrator"):
        desk.begin(actor=w.manager, unit=w.other_unit)
    with pytest.raises(PermissionDenied):
        desk.begin(actor=w.author)
    refused = [json.loads(e.details)["attempted"] for e in events(s, "access.refused")]
    assert refused == ["channel.connect", "channel.connect"]


def test_the_same_account_again_renews_its_channel_and_is_refused_for_another_unit(desk):
    s, w = desk.world.session, desk.world
    first = desk.connect()
    again = desk.connect()
    assert again.id == first.id and len(s.scalars(select(Channel).where(Channel.platform == "x")).all()) == 1
    state, args = desk.consent(desk.begin(unit=w.other_unit))
    with pytest.raises(connections.ConnectionFailed, match=r"already the channel .* of DPA"):
        desk.complete(state, args)
    assert attempt_of(s, state).completed_at is not None
    assert len(s.scalars(select(Channel).where(Channel.platform == "x")).all()) == 1


# ---- refusals --------------------------------------------------------------------------------------------

def test_only_the_person_who_started_it_may_finish_it(desk):
    s = desk.world.session
    other_admin = admin.create_user(s, OPERATOR, "admin2@desk.test", "Bo Admin", PASSWORD, is_admin=True)
    state, args = desk.consent(desk.begin())
    with pytest.raises(PermissionDenied, match="started by someone else"):
        desk.complete(state, args, actor=other_admin)
    assert json.loads(events(s, "access.refused")[-1].details)["attempted"] == "channel.connect"
    assert attempt_of(s, state).completed_at is None
    assert desk.complete(state, args).channels  # the one who started it still can


def test_an_expired_attempt_is_refused(desk, now):
    s = desk.world.session
    state, args = desk.consent(desk.begin(now=now))
    with pytest.raises(WorkflowConflict, match="more than 15 minutes ago and has expired"):
        desk.complete(state, args, now=now + timedelta(minutes=16))
    assert events(s, "connection.expired") and attempt_of(s, state).completed_at is not None
    assert not desk.fake.access_tokens  # the platform was not asked
    assert not s.scalars(select(Channel).where(Channel.platform == "x")).all()


def test_a_replayed_state_is_refused(desk):
    s = desk.world.session
    state, args = desk.consent(desk.begin())
    desk.complete(state, args)
    asked = len(desk.server.received("POST", "/oauth/access_token"))
    with pytest.raises(WorkflowConflict, match="already been finished"):
        desk.complete(state, args)
    assert len(desk.server.received("POST", "/oauth/access_token")) == asked
    with pytest.raises(NotFound, match="not one the desk started"):
        desk.complete("made-up-state", args)
    assert len(s.scalars(select(Channel).where(Channel.platform == "x")).all()) == 1


def test_declined_consent_connects_nothing(desk):
    s = desk.world.session
    desk.fake.deny_next_consent = True
    state, args = desk.consent(desk.begin(DESK_X_AUTH="oauth2"))
    assert args == {"error": "access_denied"}
    with pytest.raises(connections.ConsentDeclined) as declined:
        desk.complete(state, args, DESK_X_AUTH="oauth2")
    assert declined.value.message.startswith("The X consent was cancelled: nothing was connected.")
    assert json.loads(events(s, "connection.cancelled")[0].details)["platform_said"] == "access_denied"
    assert attempt_of(s, state).completed_at is not None
    # OAuth 1.0a says it with `denied`
    url = desk.begin()
    latest = s.scalars(select(ConnectionAttempt).order_by(ConnectionAttempt.id.desc())).first()
    with pytest.raises(connections.ConsentDeclined, match="The X consent was cancelled"):
        desk.complete(latest.state, {"denied": dict(parse_qsl(urlsplit(url).query))["oauth_token"]})
    assert not s.scalars(select(Channel).where(Channel.platform == "x")).all()


def test_a_platform_not_configured_says_what_to_set(desk):
    s = desk.world.session
    with pytest.raises(connections.NotConfigured, match="set DESK_X_CONSUMER_KEY and DESK_X_CONSUMER_SECRET"):
        desk.begin(DESK_X_CONSUMER_KEY="", DESK_X_CONSUMER_SECRET="", DESK_X_CLIENT_ID="")
    assert not s.scalars(select(ConnectionAttempt)).all()
    missing = connections.not_configured(desk.context(DESK_X_CONSUMER_KEY="", DESK_X_CLIENT_ID="").settings)
    assert "DESK_X_CONSUMER_KEY" in missing["x"]
    assert "x" not in connections.not_configured(desk.context().settings)
    with pytest.raises(ValidationFailed, match="cannot connect Training"):
        connections.begin(s, desk.world.admin, "training", desk.world.unit.id, CALLBACK, desk.context())


def test_a_wrong_application_key_is_explained(desk):
    with pytest.raises(connections.ConnectionFailed, match="DESK_X_CONSUMER_SECRET"):
        desk.begin(DESK_X_CONSUMER_SECRET="not-the-secret")
    assert json.loads(events(desk.world.session, "connection.failed")[0].details)["stage"] == "begin"


# ---- reconnecting --------------------------------------------------------------------------------------

def _approved_post(world, channel, now, body):
    s = world.session
    post = posts.save_draft(s, world.author, PostInput(body=body, targets=[TargetInput(channel.id, None, None)]),
                            now=now).post
    posts.submit(s, world.author, post.id, now=now)
    posts.approve(s, world.approver, post.id, now=now)
    return post


def test_reconnect_restores_the_channel_and_releases_its_held_posts(desk, now):
    s, w = desk.world.session, desk.world
    channel = desk.connect()
    post = _approved_post(w, channel, now, "The A40 is closed eastbound after a collision.")
    desk.fake.expire_tokens()  # the account holder revoked the desk's access on X
    context = desk.context()
    run_pass(desk.sessions, context, "test-worker", context.settings, now=now)
    s.expire_all()
    assert channel.status == "needs_reconnect" and "reconnect" in channel.status_reason
    target = s.get(Target, post.targets[0].id)
    assert target.status == wf.T_HELD

    state, args = desk.consent(desk.begin(channel_id=channel.id))
    result = desk.complete(state, args)
    assert result.reconnected and result.channels[0].id == channel.id and "waiting go out" in result.message
    s.expire_all()
    assert (channel.status, channel.status_reason) == ("active", None)
    assert crypto.decrypt_json(channel.credentials)["oauth_token"] in desk.fake.access_tokens
    reconnected = events(s, "channel.reconnected")[0]
    assert json.loads(reconnected.details)["status"] == ["needs_reconnect", "active"]

    passed = run_pass(desk.sessions, context, "test-worker", context.settings, now=now + timedelta(minutes=2))
    assert passed.released == 1 and passed.outcomes == {target.id: wf.T_PUBLISHED}
    [tweet] = desk.fake.live_tweets()
    assert tweet["text"] == "The A40 is closed eastbound after a collision."


def test_reconnecting_with_another_account_changes_nothing(desk):
    s = desk.world.session
    channel = desk.connect()
    before = channel.credentials
    desk.fake.account = Account(id="42", name="Someone Else", username="someone")
    state, args = desk.consent(desk.begin(channel_id=channel.id))
    with pytest.raises(connections.ConnectionFailed, match=r"Someone Else \(@someone\), not to @MetPoliceEvents"):
        desk.complete(state, args)
    s.expire_all()
    assert channel.credentials == before and channel.remote_account_id == "1500000000000000001"
    assert events(s, "connection.refused")


# ---- Facebook: one login, several Pages, the administrator picks ------------------------------------------

FB_CALLBACK = "http://desk.test/channels/connect/facebook/callback"


@pytest.fixture
def facebook(world, sessions):
    from tests.fakes.fake_facebook import FakeFacebook

    fake = FakeFacebook()
    with FakeServer(fake) as graph:
        env = {"DESK_FACEBOOK_GRAPH_BASE": graph.url, "DESK_FACEBOOK_VIDEO_BASE": graph.url,
               "DESK_FACEBOOK_DIALOG_URL": graph.url + f"/{fake.version}/dialog/oauth",
               "DESK_FACEBOOK_APP_ID": fake.app_id, "DESK_FACEBOOK_APP_SECRET": fake.app_secret}
        settings = Settings(database_url="(the test engine)", secret_key="test", extra={"platform_env": env})
        yield fake, PlatformContext(settings=settings, session_factory=sessions, timeout=(2.0, 2.0))


def test_facebook_pages_are_chosen_and_each_becomes_a_channel(world, facebook, now):
    fake, context = facebook
    s = world.session
    url = connections.begin(s, world.admin, "facebook", world.unit.id, FB_CALLBACK, context, now=now)
    assert "state=" in url and FB_CALLBACK.replace(":", "%3A").replace("/", "%2F") in url
    answer = requests.get(url, allow_redirects=False, timeout=5)
    args = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
    state = args.pop("state")
    offered = connections.complete(s, world.admin, state, args, context, platform="facebook", now=now)
    assert offered.choose_state == state and not offered.channels and "3 accounts" in offered.message
    stash = attempt_of(s, state)
    assert stash.completed_at is None
    page_tokens = [t for p in fake.pages for t in p.tokens]
    assert page_tokens and not any(t in stash.pending for t in page_tokens)  # kept, but encrypted

    choice = connections.pages_to_choose(s, world.admin, state, now=now)
    assert [(a["name"], bool(a["taken"])) for a in choice.accounts] == [
        ("Metropolitan Police Events", False), ("Met Police Roads and Transport", False), ("Met Police Archive", True)]
    assert "does not let you publish" in choice.accounts[2]["taken"]
    assert "credentials" not in json.dumps(choice.accounts)
    events_page, roads, archive = (p.id for p in fake.pages)
    with pytest.raises(ValidationFailed) as none:
        connections.choose_pages(s, world.admin, state, [], now=now)
    assert none.value.field_errors == {"pages": ["Choose at least one Page to connect."]}
    with pytest.raises(ValidationFailed, match="does not let you publish"):
        connections.choose_pages(s, world.admin, state, [events_page, archive], now=now)
    with pytest.raises(ValidationFailed, match="Choose among the Pages listed"):
        connections.choose_pages(s, world.admin, state, ["999"], now=now)
    with pytest.raises(WorkflowConflict, match="choose the Pages"):
        connections.complete(s, world.admin, state, args, context, platform="facebook", now=now)  # a replay

    result = connections.choose_pages(s, world.admin, state, [events_page, roads], now=now + timedelta(minutes=3))
    assert [c.name for c in result.channels] == ["Metropolitan Police Events (@metpoliceevents)",
                                                 "Met Police Roads and Transport"]
    assert result.message.startswith("Connected Metropolitan Police Events (@metpoliceevents), Met Police Roads "
                                     "and Transport as channels of DPA")
    for channel, page in zip(result.channels, fake.pages):
        credentials = crypto.decrypt_json(channel.credentials)
        assert channel.remote_account_id == page.id == credentials["page_id"]
        assert credentials["page_access_token"] in page.tokens and channel.unit_id == world.unit.id
    done = attempt_of(s, state)
    assert done.completed_at is not None and crypto.decrypt_json(done.pending) == {}  # the Archive's token forgotten
    chosen = json.loads(events(s, "connection.accounts_chosen")[0].details)
    assert chosen["chosen"] == [events_page, roads] and chosen["not_chosen"] == [archive]
    assert not any(t in e.details for e in s.scalars(select(AuditEvent)) for t in page_tokens)
    with pytest.raises(WorkflowConflict, match="already been finished"):
        connections.choose_pages(s, world.admin, state, [events_page], now=now)


def test_choosing_pages_has_a_time_limit(world, facebook, now):
    fake, context = facebook
    s = world.session
    url = connections.begin(s, world.admin, "facebook", world.unit.id, FB_CALLBACK, context, now=now)
    args = dict(parse_qsl(urlsplit(requests.get(url, allow_redirects=False, timeout=5).headers["Location"]).query))
    state = args.pop("state")
    connections.complete(s, world.admin, state, args, context, platform="facebook", now=now + timedelta(minutes=5))
    with pytest.raises(WorkflowConflict, match="more than 30 minutes ago"):
        connections.choose_pages(s, world.admin, state, [fake.pages[0].id], now=now + timedelta(minutes=31))
    assert crypto.decrypt_json(attempt_of(s, state).pending) == {}
