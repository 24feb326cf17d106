"""Two-factor sign-in rules: who must use it, TOTP time steps, recovery codes, sign-in rate limits.

Plain Python (pyotp for the RFC 6238 arithmetic): no database, no Flask. The services store what these
functions compute and make the one-use checks atomic in the database.
"""
from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp

ISSUER = "The desk"
STEP_SECONDS = 30
DIGITS = 6
# Accept the step before and after the current one: phone clocks drift and people type slowly.
WINDOW = 1
RECOVERY_CODE_COUNT = 10
# Lower-case letters and digits without the easily confused ones (0/o, 1/l/i).
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_RE = re.compile(r"^[a-z0-9]{5}-?[a-z0-9]{5}$")
_TOTP_RE = re.compile(r"^\d{6}$")

# Sign-in attempts that fail (wrong password or wrong code) are counted; past these, sign-in is refused
# until the window has passed, whether the next password is right or not.
ACCOUNT_LIMIT = "5 per 15 minutes"
ADDRESS_LIMIT = "30 per 15 minutes"


def is_required(is_admin: bool, roles_by_unit: dict[int, set[str]], holds_approver_grant: bool) -> bool:
    """Approvers (by role or by grant) and administrators (desk or unit) must sign in with two factors."""
    if is_admin or holds_approver_grant:
        return True
    return any(roles & {"approver", "unit_admin"} for roles in roles_by_unit.values())


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=email, issuer_name=ISSUER)


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_for_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def normalise(code: str | None) -> str:
    """What people type, as the desk compares it: no spaces, no case, dashes kept out of TOTP codes."""
    return re.sub(r"\s+", "", code or "").lower()


def looks_like_totp(code: str) -> bool:
    return bool(_TOTP_RE.match(code))


def looks_like_recovery_code(code: str) -> bool:
    return bool(_RECOVERY_RE.match(code))


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is (within the window), or None. Constant-time comparison."""
    if not looks_like_totp(code):
        return None
    current = step_at(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(code_for_step(secret, step), code):
            found = step  # keep looping: the time taken does not say which step matched
    return found


def is_replay(step: int, last_step: int | None) -> bool:
    """A code for a step at or before the last one accepted has been used (or overtaken): refuse it."""
    return last_step is not None and step <= last_step


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Codes of 10 characters (about 49 bits each), shown as two groups of five."""
    codes = set()
    while len(codes) < count:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.add(f"{raw[:5]}-{raw[5:]}")
    return sorted(codes)


def recovery_key(code: str) -> str:
    """The form a recovery code is hashed in: lower case, without its dash."""
    return normalise(code).replace("-", "")


@dataclass(frozen=True)
class LimitBreach:
    scope: str  # "account" or "address"
    wait_seconds: int

    @property
    def wait_minutes(self) -> int:
        return max(1, -(-self.wait_seconds // 60))  # round up: "wait 0 minutes" helps nobody

    @property
    def message(self) -> str:
        whom = "this account" if self.scope == "account" else "this network address"
        minutes = f"{self.wait_minutes} minute{'s' if self.wait_minutes != 1 else ''}"
        return f"Too many sign-in attempts for {whom}: wait {minutes} or ask an administrator."
