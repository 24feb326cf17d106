"""Credentials at rest: encryption, key rotation, the refusals, and secrets kept out of reprs and logs."""
from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from desk import crypto
from desk.crypto import CredentialsUnreadable, SecretDict, TokenKeyError, cipher_from_env

CREDS = {"oauth_token": "tok-123", "oauth_token_secret": "very-secret-456", "user_id": "42"}


def _key() -> str:
    return Fernet.generate_key().decode()


def test_round_trip_and_the_stored_form_hides_the_values():
    cipher = cipher_from_env({"DESK_TOKEN_KEY": _key()})
    token = cipher.encrypt_json(CREDS)
    assert "very-secret-456" not in token and "tok-123" not in token
    assert cipher.decrypt_json(token) == CREDS


def test_secret_dict_never_shows_its_values():
    secret = SecretDict(CREDS)
    for shown in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"c": secret})):
        assert "very-secret-456" not in shown and "tok-123" not in shown
    assert "oauth_token_secret" in repr(secret)  # the field names help debugging
    assert "very-secret" not in repr(cipher_from_env({"DESK_TOKEN_KEY": _key()}))


def test_rotation_with_the_new_key_first():
    old, new = _key(), _key()
    token = cipher_from_env({"DESK_TOKEN_KEY": old}).encrypt_json(CREDS)
    both = cipher_from_env({"DESK_TOKEN_KEY": f"{new}, {old}"})
    assert both.decrypt_json(token) == CREDS  # an old token still reads while the old key is listed
    rotated = both.rotate(token)
    assert cipher_from_env({"DESK_TOKEN_KEY": new}).decrypt_json(rotated) == CREDS
    with pytest.raises(CredentialsUnreadable, match="DESK_TOKEN_KEY"):
        cipher_from_env({"DESK_TOKEN_KEY": old}).decrypt_json(rotated)


def test_a_token_from_an_unknown_key_is_unreadable_and_cannot_be_rotated():
    token = cipher_from_env({"DESK_TOKEN_KEY": _key()}).encrypt_json(CREDS)
    other = cipher_from_env({"DESK_TOKEN_KEY": _key()})
    with pytest.raises(CredentialsUnreadable, match="Reconnect"):
        other.decrypt_json(token)
    with pytest.raises(CredentialsUnreadable, match="reconnect"):
        other.rotate(token)
    with pytest.raises(CredentialsUnreadable):
        other.decrypt_json("not a token at all")


def test_no_key_outside_development_is_refused_with_what_to_do():
    with pytest.raises(TokenKeyError) as refused:
        cipher_from_env({"DESK_ENV": "production", "DESK_SECRET_KEY": "s" * 40})
    assert "DESK_TOKEN_KEY" in str(refused.value) and "Fernet.generate_key" in str(refused.value)


def test_a_malformed_key_is_named_by_its_position():
    with pytest.raises(TokenKeyError, match="Key number 2"):
        cipher_from_env({"DESK_TOKEN_KEY": f"{_key()},not-a-key"})


def test_development_derives_a_key_from_the_secret_and_says_so_once_at_set_up(caplog):
    env = {"DESK_ENV": "development", "DESK_SECRET_KEY": "dev secret one"}
    with caplog.at_level(logging.WARNING, logger="desk.crypto"):
        cipher = cipher_from_env(env)
    # Not per process (each builds a cipher): `desk upgrade-db` says it, from startup_notices.
    assert cipher.derived and "DESK_TOKEN_KEY" not in caplog.text
    assert [n for n in crypto.startup_notices(env) if "DESK_TOKEN_KEY is not set" in n]
    assert crypto.startup_notices({**env, "DESK_TOKEN_KEY": _key()}) == []
    assert "not a Fernet key" in crypto.startup_notices({**env, "DESK_TOKEN_KEY": "nonsense"})[0]
    token = cipher.encrypt_json(CREDS)
    assert cipher_from_env({"DESK_SECRET_KEY": "dev secret one"}).decrypt_json(token) == CREDS
    with pytest.raises(CredentialsUnreadable):
        cipher_from_env({"DESK_SECRET_KEY": "another secret"}).decrypt_json(token)


def test_module_functions_use_the_configured_cipher(monkeypatch):
    monkeypatch.setattr(crypto, "_cipher", None)
    key = _key()
    crypto.configure({"DESK_TOKEN_KEY": key})
    token = crypto.encrypt_json(CREDS)
    assert isinstance(crypto.decrypt_json(token), SecretDict)
    assert cipher_from_env({"DESK_TOKEN_KEY": key}).decrypt_json(crypto.rotate(token)) == CREDS
