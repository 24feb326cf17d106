"""HTTP helpers every adapter shares: timeouts on every call, and failures turned into PlatformError.

What a failure means for the worker depends on whether the platform may have acted on the request:
- the connection never opened (refused, DNS, TLS, connect timeout): the request never left -> transient;
- the request was sent but no reply came (read timeout, connection dropped): a POST may have taken
  effect -> ambiguous, so the worker reconciles before trying again; an idempotent request (GET, PUT,
  DELETE) is simply retried -> transient;
- 5xx -> transient; 429 -> rate_limited, with the wait taken from Retry-After (seconds or an HTTP date)
  or x-rate-limit-reset (Unix seconds).
Messages never carry URLs or headers: they can hold tokens.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from datetime import datetime

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError, ProtocolError

from ..domain import rate_limits
from .base import AMBIGUOUS, AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError

# requests-oauthlib and oauthlib log token requests and replies at DEBUG: credentials never reach a log.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.INFO)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
DEFAULT_TIMEOUT = (5.0, 30.0)


def _never_left(exc: requests.ConnectionError) -> bool:
    """Whether a ConnectionError happened before the request was sent."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError, requests.exceptions.ProxyError)):
        return True
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)  # MaxRetryError wraps the real cause
    if isinstance(inner, (NewConnectionError, NameResolutionError, ConnectionRefusedError)):
        return True
    if isinstance(inner, ProtocolError) or isinstance(reason, ProtocolError):
        return False
    # Unknown shapes: treat as sent, the cautious reading for a non-idempotent request.
    return False


@contextmanager
def translated(label: str, *, idempotent: bool):
    """Turn requests' exceptions raised inside the block into the desk's PlatformError."""
    try:
        yield
    except requests.ConnectionError as exc:
        if _never_left(exc):
            raise PlatformError(TRANSIENT, f"The desk could not reach {label} (no connection could be made); "
                                "nothing was sent. It will try again by itself.", code="connect") from None
        if idempotent:
            raise PlatformError(TRANSIENT, f"{label} closed the connection before answering. The desk will try "
                                "again by itself.", code="dropped") from None
        raise PlatformError(AMBIGUOUS, f"{label} closed the connection after the desk had sent the request, so "
                            "it may or may not have taken effect. The desk will check with "
                            f"{label} before trying again, so nothing goes out twice.", code="dropped") from None
    except requests.Timeout:  # a connect timeout is a ConnectionError, handled above: this one is a read timeout
        if idempotent:
            raise PlatformError(TRANSIENT, f"{label} did not answer in time. The desk will try again by itself.",
                                code="timeout") from None
        raise PlatformError(AMBIGUOUS, f"{label} did not answer in time after the desk had sent the request, so "
                            "it may or may not have taken effect. The desk will check with "
                            f"{label} before trying again, so nothing goes out twice.", code="timeout") from None
    except requests.exceptions.ChunkedEncodingError:
        raise PlatformError(AMBIGUOUS if not idempotent else TRANSIENT,
                            f"{label}'s answer was cut off. The desk will check before trying again.",
                            code="truncated") from None
    except requests.RequestException as exc:
        raise PlatformError(PERMANENT, f"The desk could not make a valid request to {label} "
                            f"({type(exc).__name__}); tell the desk's administrator.", code="request") from None


def send(session: requests.Session, method: str, url: str, *, label: str, timeout=DEFAULT_TIMEOUT,
         idempotent: bool | None = None, **kwargs) -> requests.Response:
    """One HTTP call with a timeout, exceptions translated; the response is returned whatever its status."""
    method = method.upper()
    if idempotent is None:
        idempotent = method in IDEMPOTENT_METHODS
    with translated(label, idempotent=idempotent):
        response = session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    rate_limits.observe(response.headers)  # the worker paces the channel from what the platform said
    return response


def retry_after_seconds(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """How long to wait before retrying, from Retry-After (seconds or HTTP date) or x-rate-limit-reset."""
    return rate_limits.retry_after_seconds(headers, now())


def unix_time(value, default: float) -> float:
    """A platform's ISO 8601 time ('...Z' included) as Unix seconds; `default` when it is missing or unreadable."""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def json_body(response: requests.Response) -> dict:
    """The response's JSON object, or {} when it has none (an HTML error page, an empty body)."""
    try:
        value = response.json()
    except (ValueError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {"data": value}


def generic_error(response: requests.Response, label: str, *, code: str | None = None,
                  now: Callable[[], float] = time.time) -> PlatformError:
    """The class every platform shares for a status; adapters refine messages and platform codes first."""
    status = response.status_code
    code = code or str(status)
    if status == 429:
        wait = retry_after_seconds(response.headers, now)
        when = f" in about {max(1, round(wait / 60))} minute(s)" if wait is not None else " later"
        return PlatformError(RATE_LIMITED, f"{label} asks the desk to slow down (too many requests). Nothing was "
                             f"lost: the desk will try again{when}.", code=code, retry_after=wait)
    if status >= 500:
        return PlatformError(TRANSIENT, f"{label} had a problem of its own (error {status}). The desk will try "
                             "again by itself.", code=code)
    if status == 401:
        return PlatformError(AUTH, f"{label} no longer accepts the channel's authorisation: an administrator "
                             "must reconnect the channel.", code=code)
    return PlatformError(PERMANENT, f"{label} refused the request (error {status}). Check the post, or tell "
                         "the desk's administrator.", code=code)
