"""flask --app app desk rotate-token-key: every stored credential re-encrypted with DESK_TOKEN_KEY's newest key."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timezone

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from desk import create_app, crypto
from desk.models import AuditEvent, Channel, ConnectionAttempt
from desk.services import admin

from conftest import OPERATOR, World

OLD, NEW, STRANGER = (Fernet.generate_key().decode() for _ in range(3))
SECRETS = {"mode": "oauth1", "oauth_token": "1500-token-value", "oauth_token_secret": "very-secret-value"}


@pytest.fixture(autouse=True)
def _restore_cipher(monkeypatch):
    monkeypatch.setattr(crypto, "_cipher", None)  # each app below sets its own; put the old one back after


def desk_app(engine, tmp_path, token_key: str | None):
    env = {"DESK_ENV": "development", "DESK_SECRET_KEY": "test-secret", "DESK_MEDIA_DIR": str(tmp_path / "media"),
           "DESK_DATABASE_URL": str(engine.url)}
    if token_key is not None:
        env["DESK_TOKEN_KEY"] = token_key
    return create_app({"TESTING": True, "DESK_ENGINE": engine, "ENV": env})


def cipher(keys: str) -> crypto.TokenCipher:
    return crypto.cipher_from_env({"DESK_TOKEN_KEY": keys})


@pytest.fixture
def stored(sqlite_engine, tmp_path):
    """Under the old key: two connected channels and a connection under way; one channel under a lost key."""
    app = desk_app(sqlite_engine, tmp_path, OLD)
    with app.extensions["desk.sessions"]() as s:
        w = World(s)
        ids = [admin.create_channel(s, OPERATOR, w.unit.id, "x", f"X {n}").id for n in (1, 2, 3)]
        for channel_id, key in zip(ids, (OLD, OLD, STRANGER)):
            s.execute(update(Channel).where(Channel.id == channel_id).values(
                credentials=cipher(key).encrypt_json({**SECRETS, "n": channel_id})))
        s.add(ConnectionAttempt(state="s" * 43, platform="x", unit_id=w.unit.id, user_id=w.admin.id,
                                pending=cipher(OLD).encrypt_json({"oauth_token_secret": "pending-secret"}),
                                created_at=datetime.now(UTC)))
        s.commit()
    return ids


def rows(engine):
    with engine.connect() as conn:
        channels = {i: c for i, c in conn.execute(select(Channel.id, Channel.credentials)
                                                  .where(Channel.credentials.is_not(None)))}
        pending = conn.scalar(select(ConnectionAttempt.pending))
    return channels, pending


def test_rotation_re_encrypts_everything_with_the_newest_key(sqlite_engine, tmp_path, stored):
    readable, lost = stored[:2], stored[2]
    before, _ = rows(sqlite_engine)
    app = desk_app(sqlite_engine, tmp_path, f"{NEW},{OLD}")
    result = app.test_cli_runner().invoke(args=["desk", "rotate-token-key"])
    assert result.exit_code == 0, result.output
    assert "2 channel credential(s) and 1 connection attempt(s)" in result.stdout
    assert f"channels {lost}; 0 connection(s)" in result.stderr and "Reconnect those channels" in result.stderr

    channels, pending = rows(sqlite_engine)
    only_new, only_old = cipher(NEW), cipher(OLD)
    for channel_id in readable:
        assert only_new.decrypt_json(channels[channel_id]) == {**SECRETS, "n": channel_id}
        with pytest.raises(crypto.CredentialsUnreadable):
            only_old.decrypt_json(channels[channel_id])
    assert channels[lost] == before[lost]  # left as it was, for the administrator to reconnect
    assert only_new.decrypt_json(pending) == {"oauth_token_secret": "pending-secret"}

    with app.extensions["desk.sessions"]() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "credentials.rotated")).all()
    assert event.actor.startswith("cli:")
    details = json.loads(event.details)
    assert (details["channels"], details["connection_attempts"], details["unreadable_channels"]) == (2, 1, [lost])
    assert not any(secret in event.details for secret in (*SECRETS.values(), "pending-secret", NEW, OLD))


def test_once_rotated_the_old_key_can_go(sqlite_engine, tmp_path, stored):
    app = desk_app(sqlite_engine, tmp_path, f"{NEW},{OLD}")
    with app.extensions["desk.sessions"]() as s:
        s.execute(update(Channel).where(Channel.id == stored[2]).values(credentials=None))  # reconnected meanwhile
        s.commit()
    result = app.test_cli_runner().invoke(args=["desk", "rotate-token-key"])
    assert result.exit_code == 0 and "older keys can be removed from DESK_TOKEN_KEY" in result.stdout
    channels, _ = rows(sqlite_engine)
    assert all(cipher(NEW).decrypt_json(value) for value in channels.values())


def test_without_a_token_key_there_is_nothing_to_rotate_to(sqlite_engine, tmp_path, stored):
    before = rows(sqlite_engine)
    result = desk_app(sqlite_engine, tmp_path, None).test_cli_runner().invoke(args=["desk", "rotate-token-key"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "DESK_TOKEN_KEY is not set" in result.stderr
    assert rows(sqlite_engine) == before
