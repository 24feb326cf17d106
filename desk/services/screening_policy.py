"""A unit's screening policy: read from `Unit.screening_policy` (JSON), changed by its administrators.

The policy lives in the database, not in a process's configuration, so the web pages, the API, the
CLI and the worker all screen with the same one, and a change applies everywhere at once.
"""
from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed
from ..domain.screening import FIXED, RULES, SEVERITIES, Policy, PolicyError
from ..models import Unit
from . import audit_trail
from .common import ensure, get_or_404

# The lists a unit keeps, with the words its page uses for them.
LISTS = {
    "opsec_terms": "Operational-security terms",
    "opsec_patterns": "Operational-security patterns",
    "allowed_link_domains": "Allowed link domains",
    "allowed_email_domains": "Allowed e-mail domains",
    "allowed_phone_numbers": "Allowed phone numbers",
    "allowed_phrases": "Allowed phrases",
}
SETTINGS = ("severities", *LISTS)
_DEFAULT = Policy()


@lru_cache(maxsize=256)
def _parse(text: str) -> Policy:
    data = json.loads(text or "{}")
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    return Policy(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})


def policy_of(unit: Unit) -> Policy:
    """The unit's policy. One that cannot be read stops its posts, rather than letting them pass unscreened."""
    try:
        return _parse(unit.screening_policy or "{}")
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            f"The screening policy of {unit.code} cannot be read ({exc}), so posts to its channels cannot be "
            "screened and are held back. Nothing was changed: a unit administrator must save the policy again "
            "on the unit's screening page.") from None


def settings_of(policy: Policy) -> dict:
    """The policy as plain data: what is stored, what the page shows, what the audit trail compares."""
    return {"severities": dict(sorted(policy.severities.items())),
            **{name: list(getattr(policy, name)) for name in LISTS},
            "region": policy.region}


def default_settings() -> dict:
    return settings_of(_DEFAULT)


def _check(settings: dict) -> tuple[Policy | None, dict[str, list[str]]]:
    """Every setting checked on its own, so that each field gets its own message at once."""
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(settings) - {*SETTINGS, "region"})
    if unknown:
        errors["settings"] = [f"There is no screening setting called '{unknown[0]}'."]
    for name in SETTINGS:
        if name not in settings:
            continue
        value = settings[name]
        if name == "severities":
            if not isinstance(value, dict):
                errors[name] = ["Severities must map a rule to block or warn."]
                continue
            value = {rule: sev for rule, sev in value.items() if sev}
        elif not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            errors[name] = [f"{LISTS[name]} must be a list of entries (one per line)."]
            continue
        else:
            value = tuple(value)
        try:
            Policy(**{name: value, "region": settings.get("region") or "GB"})
        except PolicyError as exc:
            errors.setdefault(exc.field, []).append(exc.message)
    if errors:
        return None, errors
    clean = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in settings.items()}
    clean["severities"] = {r: s for r, s in (settings.get("severities") or {}).items() if s}
    try:
        return Policy(**clean), {}
    except PolicyError as exc:
        return None, {exc.field: [exc.message]}


def save_policy(session: Session, actor, unit_id: int, settings: dict, now: datetime | None = None) -> Unit:
    """Replace a unit's screening settings (settings left out keep their value); audited with what changed."""
    now = now or utcnow()
    unit = get_or_404(session, Unit, unit_id, "unit")
    ensure(session, perm.can_manage_unit(actor, unit.id), actor, "unit.screening_policy",
           "Only a desk administrator or the unit's administrator may change its screening policy.",
           object_type="unit", object_id=unit.id, unit_id=unit.id)
    try:
        before = settings_of(policy_of(unit))
    except ValidationFailed:  # a damaged policy must still be repairable from its page
        before = default_settings()
    policy, errors = _check({**before, **settings})
    if errors:
        raise ValidationFailed("The screening policy was not saved: put right what is marked, the rest of what "
                               "you typed is kept.", field_errors=errors)
    after = settings_of(policy)
    changes = {k: {"before": before[k], "after": after[k]} for k in after if before.get(k) != after[k]}
    if changes:
        unit.screening_policy = json.dumps(after, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        audit_trail.record(session, actor, "unit.screening_policy_changed", "unit", unit.id, unit_id=unit.id,
                           now=now, details={"unit": unit.code, "changes": changes})
    session.commit()
    return unit


def severity_choices(rule: str) -> list[tuple[str, str]]:
    """The severities a unit may pick for a rule ('' keeps the desk's default)."""
    default = RULES[rule].default
    if rule in FIXED:
        return [("", f"{FIXED[rule]} (always)")]
    return [("", f"default ({default})"), *((s, s) for s in SEVERITIES)]
