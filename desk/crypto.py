"""Channel credentials at rest: Fernet-encrypted JSON, with key rotation through MultiFernet.

DESK_TOKEN_KEY holds one or more Fernet keys, comma-separated, newest first: the newest encrypts, every
key decrypts, so an old key can stay listed until `rotate` has re-encrypted everything with the new one.
In development, with no key set, a key is derived from the secret key (and `desk upgrade-db` says so); anywhere
else the desk refuses to encrypt or decrypt without one.

Credentials never reach a log or a repr: `decrypt_json` returns a `SecretDict`, whose repr shows the
names of the fields and never their values.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger("desk.crypto")

GENERATE_HINT = ("generate one with: python -c 'from cryptography.fernet import Fernet; "
                 "print(Fernet.generate_key().decode())'")


class TokenKeyError(RuntimeError):
    """The token key is missing or malformed: the message says which variable to set and how."""


class CredentialsUnreadable(RuntimeError):
    """Stored credentials cannot be decrypted with any configured key (or are not the desk's JSON)."""


class SecretDict(dict):
    """A dict of secrets whose repr and str never show the values."""

    def __repr__(self) -> str:
        return f"SecretDict(fields={sorted(self)!r}, values hidden)"

    __str__ = __repr__


class TokenCipher:
    """Encrypts and decrypts credential dicts with a list of keys, newest first."""

    def __init__(self, keys: list[bytes], *, derived: bool = False):
        if not keys:
            raise TokenKeyError("No token key given.")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self.derived = derived
        self.key_count = len(keys)

    def __repr__(self) -> str:
        return f"TokenCipher(keys={self.key_count}, derived={self.derived})"

    def encrypt_json(self, data: Mapping) -> str:
        return self._fernet.encrypt(json.dumps(dict(data), sort_keys=True).encode()).decode()

    def decrypt_json(self, token: str) -> SecretDict:
        try:
            value = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError, AttributeError):
            raise CredentialsUnreadable(
                "The stored credentials cannot be read with the configured DESK_TOKEN_KEY (was the key "
                "changed without keeping the old one listed?). Reconnect the channel, or list the old key "
                "after the new one in DESK_TOKEN_KEY.") from None
        if not isinstance(value, dict):
            raise CredentialsUnreadable("The stored credentials are not in the desk's format: reconnect the channel.")
        return SecretDict(value)

    def rotate(self, token: str) -> str:
        """The same credentials, re-encrypted with the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise CredentialsUnreadable(
                "These credentials cannot be read with any key in DESK_TOKEN_KEY, so they cannot be "
                "re-encrypted: reconnect the channel.") from None


def _parse_keys(raw: str) -> list[bytes]:
    keys = []
    for position, part in enumerate((p.strip() for p in raw.split(",")), start=1):
        if not part:
            continue
        try:
            Fernet(part.encode())
        except (ValueError, TypeError):
            raise TokenKeyError(
                f"Key number {position} in DESK_TOKEN_KEY is not a Fernet key (32 bytes, url-safe base64); "
                f"{GENERATE_HINT}") from None
        keys.append(part.encode())
    return keys


DERIVED_KEY_NOTICE = ("DESK_TOKEN_KEY is not set: in development the desk derives the token key from "
                      "DESK_SECRET_KEY. Credentials stored now become unreadable if that secret changes; "
                      "set DESK_TOKEN_KEY before going live.")


def startup_notices(env: Mapping[str, str]) -> list[str]:
    """What a person setting the desk up should read once, not once per process."""
    try:
        cipher = cipher_from_env(env)
    except TokenKeyError as exc:
        return [str(exc)]
    return [DERIVED_KEY_NOTICE] if cipher.derived else []


def derive_development_key(secret_key: str) -> bytes:
    digest = hashlib.sha256(b"desk token key (development only)\x00" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def cipher_from_env(env: Mapping[str, str]) -> TokenCipher:
    """Build the cipher from DESK_TOKEN_KEY, or (development only) from DESK_SECRET_KEY."""
    keys = _parse_keys(env.get("DESK_TOKEN_KEY", "") or "")
    if keys:
        return TokenCipher(keys)
    desk_env = env.get("DESK_ENV", "development") or "development"
    if desk_env != "development":
        raise TokenKeyError(
            "DESK_TOKEN_KEY is not set. Outside development the desk keeps no channel credentials without "
            f"it: set it to a Fernet key ({GENERATE_HINT}). Nothing was stored.")
    from .config import DEV_SECRET

    # Every process (each web worker, the worker, each command) builds a cipher: the notice is logged at
    # debug level here, and said once, where the desk is set up (`desk upgrade-db`, see startup_notices).
    log.debug(DERIVED_KEY_NOTICE)
    return TokenCipher([derive_development_key(env.get("DESK_SECRET_KEY") or DEV_SECRET)], derived=True)


_lock = threading.Lock()
_cipher: TokenCipher | None = None


def configure(env: Mapping[str, str] | None = None) -> TokenCipher:
    """Set the process-wide cipher (from the given variables, else the environment); returns it."""
    global _cipher
    cipher = cipher_from_env(os.environ if env is None else env)
    with _lock:
        _cipher = cipher
    return cipher


def current_cipher() -> TokenCipher:
    with _lock:
        cipher = _cipher
    return cipher if cipher is not None else configure()


def encrypt_json(data: Mapping) -> str:
    return current_cipher().encrypt_json(data)


def decrypt_json(token: str) -> SecretDict:
    return current_cipher().decrypt_json(token)


def rotate(token: str) -> str:
    return current_cipher().rotate(token)
