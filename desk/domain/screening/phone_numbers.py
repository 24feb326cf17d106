"""A policy's allowed phone numbers in every form they are written in.

Shared by the policy's own check of its settings (rules.py) and by the phone finder (personal.py),
which is why it lives apart from both.
"""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberFormat


class NotDiallable(ValueError):
    """An allowed number that cannot be dialled from the policy's region."""

    def __init__(self, raw: str, region: str):
        super().__init__(f"'{raw}' is not a phone number that can be dialled from {region}.")


@lru_cache(maxsize=64)
def allowed_numbers(numbers: tuple[str, ...], region: str) -> frozenset[str]:
    """The allow-list in E.164, so "020 7230 1212" also allows "+44 20 7230 1212"; and as the
    bare digits it is written with, so the pre-check can pass it without the matcher."""
    out = set()
    for raw in numbers:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            raise NotDiallable(raw, region) from None
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        out.update((e164, e164[1:], re.sub(r"\D", "", national)))
    return frozenset(out)
