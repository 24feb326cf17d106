"""The screening rules' names, default severities and reasons; a finding; a unit's policy.

Plain data: no rule logic lives here, so the web pages and the audit trail can describe a finding
without importing the matchers.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType

from .phone_numbers import NotDiallable, allowed_numbers

BLOCK, WARN = "block", "warn"
SEVERITIES = (BLOCK, WARN)

PHONE, EMAIL, POSTCODE, NI_NUMBER = "phone_number", "email_address", "postcode", "ni_number"
VEHICLE, BIRTH_DATE, CARD = "vehicle_registration", "date_of_birth", "card_number"
OPSEC, OFFENSIVE = "operational_security", "offensive_language"
LINK_DOMAIN, LINK_SHORTENER = "link_domain", "link_shortener"


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    label: str
    default: str
    why: str


_RULES = (
    Rule(PHONE, "personal data", "Phone number", WARN,
         "A phone number can identify a victim, witness or officer, so only the force's public "
         "numbers belong in a post."),
    Rule(EMAIL, "personal data", "E-mail address", WARN,
         "An e-mail address outside the force's domains usually belongs to a person, who could "
         "be contacted or harassed once it is published."),
    Rule(POSTCODE, "personal data", "Postcode", WARN,
         "A full postcode narrows a place to a handful of homes, which can identify a victim, "
         "witness or suspect."),
    Rule(NI_NUMBER, "personal data", "National Insurance number", BLOCK,
         "A National Insurance number identifies one person for life and is used for identity "
         "fraud; it never belongs in a post."),
    Rule(VEHICLE, "personal data", "Vehicle registration", WARN,
         "A registration mark leads to the vehicle's keeper: an appeal may show a suspect "
         "vehicle, but never a victim's or a witness's."),
    Rule(BIRTH_DATE, "personal data", "Date of birth next to a name", BLOCK,
         "A name with a date of birth identifies a person beyond doubt; the force gives a "
         "name with an age, never a date of birth."),
    Rule(CARD, "personal data", "Payment card number", BLOCK,
         "A payment card number can be used for fraud at once; it never belongs in a post."),
    Rule(OPSEC, "operational security", "Operational security term", BLOCK,
         "This is on the unit's operational-security list (an operation name, call sign or "
         "location under watch); publishing it can compromise an operation or put people at risk."),
    Rule(OFFENSIVE, "offensive language", "Offensive or discriminatory language", BLOCK,
         "Offensive or discriminatory words in the force's name break the code of conduct and "
         "undermine public trust."),
    Rule(LINK_DOMAIN, "links", "Link outside the allowed domains", WARN,
         "This link leaves the force's trusted sites; check the page is safe and will stay as "
         "it is, because the force answers for what it links to."),
    Rule(LINK_SHORTENER, "links", "Shortened link", WARN,
         "A shortened link hides where it goes and can be changed later to point somewhere "
         "harmful; link to the page itself."),
)
RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in _RULES})
# The issue makes an operational-security match a blocking finding: no unit may soften it.
FIXED = {OPSEC: BLOCK}


@dataclass(frozen=True)
class Finding:
    """One thing the screening found: the exact words, where they are, and why they matter."""

    rule: str
    severity: str
    matched: str
    start: int
    end: int
    why: str

    @property
    def label(self) -> str:
        return RULES[self.rule].label

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCK

    def as_dict(self) -> dict:
        """For the audit trail and the API."""
        return asdict(self)


class PolicyError(ValueError):
    """A policy setting that cannot be used; `field` names the setting, the message says why."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def _strings(name: str, values) -> tuple[str, ...]:
    if isinstance(values, str):
        raise PolicyError(name, f"{name} must be a list of entries, not one piece of text.")
    return tuple(v.strip() for v in values if v and v.strip())


def _domains(name: str, values) -> tuple[str, ...]:
    out = []
    for value in _strings(name, values):
        domain = re.sub(r"^[a-z]+://", "", value.lower()).strip("/.").removeprefix("www.")
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
            raise PolicyError(name, f"'{value}' is not a domain name such as police.uk.")
        out.append(domain)
    return tuple(out)


@dataclass(frozen=True)
class Policy:
    """What one unit screens for, and how hard. Lists are stored as tuples; the policy never changes.

    severities: per-rule overrides of the default ('block' or 'warn').
    opsec_terms / opsec_patterns: the unit's operational-security words and regular expressions.
    allowed_link_domains / allowed_email_domains: a domain here also allows its subdomains.
    allowed_phone_numbers: numbers the force publishes (switchboards, 101, Crimestoppers).
    allowed_phrases: phrases that would otherwise read as offensive but are proper in this unit's
        posts, such as a local place name ("Cock Lane"); the words elsewhere are still found.
    region: where a number without a country code is dialled.
    """

    severities: Mapping[str, str] = field(default_factory=dict)
    opsec_terms: tuple[str, ...] = ()
    opsec_patterns: tuple[str, ...] = ()
    allowed_link_domains: tuple[str, ...] = ("police.uk", "gov.uk", "crimestoppers-uk.org")
    allowed_email_domains: tuple[str, ...] = ("police.uk",)
    allowed_phone_numbers: tuple[str, ...] = ("101", "999", "112", "18000", "0800 555 111")
    allowed_phrases: tuple[str, ...] = ()
    region: str = "GB"

    def __post_init__(self):
        severities = dict(self.severities)
        for rule, severity in severities.items():
            if rule not in RULES:
                raise PolicyError("severities", f"There is no screening rule called '{rule}'.")
            if severity not in SEVERITIES:
                raise PolicyError("severities", f"'{severity}' is not a severity: use block or warn.")
            if rule in FIXED and severity != FIXED[rule]:
                raise PolicyError("severities", f"{RULES[rule].label} findings always block.")
        set_ = object.__setattr__
        set_(self, "severities", MappingProxyType(severities))
        set_(self, "opsec_terms", _strings("opsec_terms", self.opsec_terms))
        set_(self, "opsec_patterns", _strings("opsec_patterns", self.opsec_patterns))
        for pattern in self.opsec_patterns:
            try:
                if re.compile(pattern).fullmatch(""):
                    raise PolicyError("opsec_patterns",
                                      f"The pattern '{pattern}' matches empty text, so it would "
                                      "flag every post; make it match at least one character.")
            except re.error as exc:
                raise PolicyError("opsec_patterns",
                                  f"The pattern '{pattern}' is not a valid regular expression "
                                  f"({exc}).") from None
        set_(self, "allowed_link_domains", _domains("allowed_link_domains", self.allowed_link_domains))
        set_(self, "allowed_email_domains",
             _domains("allowed_email_domains", self.allowed_email_domains))
        set_(self, "allowed_phone_numbers",
             _strings("allowed_phone_numbers", self.allowed_phone_numbers))
        set_(self, "allowed_phrases", _strings("allowed_phrases", self.allowed_phrases))
        set_(self, "region", (self.region or "GB").upper())
        try:
            allowed_numbers(self.allowed_phone_numbers, self.region)
        except NotDiallable as exc:
            raise PolicyError("allowed_phone_numbers", str(exc)) from None

    def severity_of(self, rule: str) -> str:
        return self.severities.get(rule, RULES[rule].default)
