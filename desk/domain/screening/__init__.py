"""Screening a post's text before approval: personal data, operational security, offensive
language and links. Plain Python: no Flask, no database, no network.

    findings = screen(text, policy=Policy(opsec_terms=("Op Nightjar",)))

Each Finding names its rule, its severity, the exact words matched (with their place in the text)
and one sentence on why it matters. A post with a blocking finding cannot be submitted; an
approver may approve over a warning only after ticking that they have read it.

Default severities (a unit may change any of them, except operational security, which always
blocks), and why:

| rule                  | default | why this default                                              |
| --------------------- | ------- | ------------------------------------------------------------- |
| phone_number          | warn    | appeals carry incident-room and partner numbers; the approver |
|                       |         | checks it is not a private one (the force's own numbers, 101, |
|                       |         | 999 and Crimestoppers are allowed and never reported)         |
| email_address         | warn    | as for phones; addresses at the force's domains are allowed   |
| postcode              | warn    | event venues and road closures have postcodes too; the        |
|                       |         | approver checks it is not someone's home                      |
| ni_number             | block   | never has a place in a post                                   |
| vehicle_registration  | warn    | a suspect or stolen vehicle's mark is a normal appeal         |
| date_of_birth         | block   | the force names people with their age, never a birth date     |
| card_number           | block   | never has a place in a post (Luhn-checked, so few false hits) |
| operational_security  | block   | fixed: a match with the unit's list must never be published   |
| offensive_language    | block   | nothing offensive goes out in the force's name; words a force |
|                       |         | needs ("rape", "sex offender") are not on the list, and a     |
|                       |         | unit can allow a place name such as "Cock Lane"               |
| link_domain           | warn    | partners' sites are fine once someone has looked              |
| link_shortener        | warn    | the approver should ask for the real address                  |

Speed: regular expressions are compiled once; each rule first makes a cheap check (a digit, an
"@", a dot, seven digits in a row for the phone matcher, a quick word check before the
profanity library) and skips its expensive step when that fails. bench/screening.py measures it.
"""
from __future__ import annotations

from datetime import date

from . import links as _links
from . import offensive as _offensive
from . import opsec as _opsec
from . import personal as _personal
from .phone_numbers import allowed_numbers
from .rules import BLOCK, FIXED, RULES, SEVERITIES, WARN, Finding, Policy, PolicyError, Rule

__all__ = ["BLOCK", "FIXED", "RULES", "SEVERITIES", "WARN", "Finding", "Policy", "PolicyError",
           "Rule", "screen", "blocking"]


def screen(text: str, *, policy: Policy, today: date | None = None) -> list[Finding]:
    """Every finding in the text, in reading order. `today` dates the birth-date rule."""
    if not text or not text.strip():
        return []
    hits = []
    digits = _personal.digit_count(text)
    if digits:
        hits += _personal.phones(text, allowed_numbers(
            policy.allowed_phone_numbers, policy.region), policy.region)
        hits += _personal.postcodes(text)
        hits += _personal.ni_numbers(text)
        hits += _personal.vehicles(text)
        hits += _personal.birth_dates(text, today or date.today())
        if digits >= 13:
            hits += _personal.cards(text)
    hits += _personal.emails(text, policy.allowed_email_domains)
    hits += _opsec.opsec(text, _opsec.compiled(policy.opsec_terms, policy.opsec_patterns))
    hits += _offensive.offensive(text, policy.allowed_phrases)
    hits += _links.links(text, policy.allowed_link_domains)
    return [Finding(rule, policy.severity_of(rule), text[start:end], start, end, RULES[rule].why)
            for rule, start, end in sorted(set(hits), key=lambda h: (h[1], h[2], h[0]))]


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocking]
