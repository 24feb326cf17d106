"""Sign-in rate limits, with Flask-Limiter: failed attempts counted per account and per network address.

Only failures count (a wrong password or a wrong code), so a person who signs in right is never slowed;
once a limit is reached every attempt is refused, right or wrong, until the window has moved on.
The counts live in Redis when DESK_REDIS_URL is set, so that every web process shares them; otherwise in
this process's memory (fine for one process; with several, each counts on its own).
"""
from __future__ import annotations

import logging
import time

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ..domain import two_factor as rules

log = logging.getLogger("desk.sign_in")
EXTENSION = "desk.sign_in_limits"


class SignInLimits:
    """The two limits, checked and counted through the Flask-Limiter's storage and strategy."""

    def __init__(self, limiter: Limiter, prefix: str, account: str = rules.ACCOUNT_LIMIT,
                 address: str = rules.ADDRESS_LIMIT):
        self.limiter = limiter
        self.prefix = prefix
        self.items = {"account": parse(account), "address": parse(address)}
        self._fallback = MovingWindowRateLimiter(MemoryStorage())

    def _keys(self, email: str | None, address: str | None):
        account = (email or "").strip().lower()
        if account:
            yield "account", (self.prefix, "sign-in", "account", account)
        if address:
            yield "address", (self.prefix, "sign-in", "address", address)

    def _strategy(self):
        return self.limiter.limiter

    def _call(self, name: str, *args):
        try:
            return getattr(self._strategy(), name)(*args)
        except Exception as exc:  # noqa: BLE001 - any storage failure: count in memory rather than not at all
            log.error("sign-in limit storage failed (%s: %s); counting in this process only",
                      type(exc).__name__, exc)
            return getattr(self._fallback, name)(*args)

    def refusal(self, email: str | None, address: str | None) -> rules.LimitBreach | None:
        """The limit this attempt would break (the account's first), or None: nothing is counted here."""
        for scope, key in self._keys(email, address):
            item = self.items[scope]
            if not self._call("test", item, *key):
                stats = self._call("get_window_stats", item, *key)
                return rules.LimitBreach(scope, max(1, int(stats.reset_time - time.time())))
        return None

    def failed(self, email: str | None, address: str | None) -> None:
        for scope, key in self._keys(email, address):
            self._call("hit", self.items[scope], *key)

    def clear_account(self, email: str) -> None:
        for scope, key in self._keys(email, None):
            self._call("clear", self.items[scope], *key)


def init_app(app: Flask) -> SignInLimits:
    env = app.config["DESK_SETTINGS"].extra.get("platform_env") or {}
    redis_url = (env.get("DESK_REDIS_URL") or "").strip()
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "desk")
    limiter = Limiter(key_func=get_remote_address, headers_enabled=False)
    limiter.init_app(app)
    limits = SignInLimits(limiter, app.config["RATELIMIT_KEY_PREFIX"],
                          app.config.get("DESK_SIGN_IN_ACCOUNT_LIMIT", rules.ACCOUNT_LIMIT),
                          app.config.get("DESK_SIGN_IN_ADDRESS_LIMIT", rules.ADDRESS_LIMIT))
    app.extensions[EXTENSION] = limits
    return limits


def current() -> SignInLimits:
    return current_app.extensions[EXTENSION]
