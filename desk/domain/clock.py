"""The one place the desk asks the time, so that tests can freeze it."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
