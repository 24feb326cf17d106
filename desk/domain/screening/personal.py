"""Personal data in a post: phone numbers, e-mail addresses, postcodes, National Insurance numbers,
vehicle registrations, dates of birth next to names, and payment card numbers.

Each finder yields (rule, start, end). They are written against what a press office actually
posts: crime references ("CAD 1234/21Nov", "ref 01/123456/24"), times, years, road numbers
(A40, M25 J10) and match scores must pass without a finding.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

from .rules import BIRTH_DATE, CARD, EMAIL, NI_NUMBER, PHONE, POSTCODE, VEHICLE

Hit = tuple[str, int, int]

_DROP_DIGITS = str.maketrans("", "", "0123456789")

# -- phone numbers ---------------------------------------------------------------------------
# A run that could hold a phone number: no slashes, because "01/123456/24" is a reference.
_PHONE_RUN = re.compile(r"\+?\(?\d[\d \t().\-]{5,}\d")
_REFERENCE_BEFORE = re.compile(
    r"(?:\bref(?:erence)?|\bcad|\blog|\bcrime|\bincident|\boccurrence|\bcase|\bcollar"
    r"|\bquot(?:e|ing))\s*(?:no\.?|number|#)?\s*[:.]?\s*$", re.I)


def _worth_matching(text: str, allowed: frozenset[str]) -> bool:
    """Is there a run of 7 to 15 digits that is neither an allowed number nor a reference?
    The matcher is the slowest step of all the rules, so it runs only then."""
    for m in _PHONE_RUN.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 7 <= len(digits) <= 15 and digits not in allowed and not _REFERENCE_BEFORE.search(
                text, max(0, m.start() - 30), m.start()):
            return True
    return False


def phones(text: str, allowed: frozenset[str], region: str) -> Iterator[Hit]:
    if not _worth_matching(text, allowed):
        return
    for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID):
        if phonenumbers.format_number(match.number, PhoneNumberFormat.E164) in allowed:
            continue
        if _REFERENCE_BEFORE.search(text, max(0, match.start - 30), match.start):
            continue
        yield PHONE, match.start, match.end


# -- e-mail addresses -------------------------------------------------------------------------
_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@((?:[a-z0-9-]+\.)+[a-z]{2,})(?![\w-])", re.I | re.A)


def within(domain: str, allowed: tuple[str, ...]) -> bool:
    domain = domain.lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in allowed)


def emails(text: str, allowed: tuple[str, ...]) -> Iterator[Hit]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        if not within(m.group(1), allowed):
            yield EMAIL, m.start(), m.end()


# -- postcodes --------------------------------------------------------------------------------
# Royal Mail's format: outward code (area and district), then inward code (sector and unit).
# The inward letters never include C, I, K, M, O or V, which keeps "5PM" and "2AM" out.
_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])(?:GIR ?0AA|[A-PR-UWYZ](?:[0-9][0-9]?|[A-HK-Y][0-9][0-9]?|[0-9][A-HJKPSTUW]"
    r"|[A-HK-Y][0-9][ABEHMNPRVWXY]) ?[0-9][ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9])", re.I)


def postcodes(text: str) -> Iterator[Hit]:
    for m in _POSTCODE.finditer(text):
        code = m.group()
        if code.isupper() or code.islower():  # "Me1 2Ab" is a typing slip, not a postcode
            yield POSTCODE, m.start(), m.end()


# -- National Insurance numbers ---------------------------------------------------------------
# HMRC: the first letter is not D, F, I, Q, U or V; the second not D, F, I, O, Q, U or V;
# BG, GB, KN, NK, NT, TN and ZZ are never issued; the suffix is A to D.
_NINO = re.compile(r"(?<![A-Za-z0-9])([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d\d ?\d\d ?\d\d ?[A-D]"
                   r"(?![A-Za-z0-9])", re.I)
_NINO_NEVER = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def ni_numbers(text: str) -> Iterator[Hit]:
    for m in _NINO.finditer(text):
        if m.group(1).upper() not in _NINO_NEVER and (m.group().isupper() or m.group().islower()):
            yield NI_NUMBER, m.start(), m.end()


# -- vehicle registration marks ---------------------------------------------------------------
# Capitals only, as marks are written. Current (2001-): area letters, age 02-29/51-79, three
# letters ("AB12 CDE"). Prefix (1983-2001): "A123 BCD". Suffix (1963-1983): "ABC 123D".
_VRM = re.compile(
    r"(?<![A-Za-z0-9])(?:(?P<cur>[A-HK-PR-SVWY][A-HJ-PR-Y](?:0[2-9]|[12][0-9]|5[1-9]|[67][0-9])"
    r" ?[A-HJ-PR-Z]{3})"
    r"|(?P<pre>[A-HJ-NPR-TV-Y][1-9][0-9]{0,2}) ?(?P<pre3>[A-HJ-PR-Y]{3})"
    r"|(?P<suf3>[A-HJ-PR-Y]{3}) ?(?P<suf>[1-9][0-9]{0,2} ?[A-HJ-NPR-TV-Y]))(?![A-Za-z0-9])")
# Three capitals that are words or road shorthand: "A40 AND M4", "M6 JCT 5", "A406 RTC", "RUN 10K".
_NOT_A_MARK = frozenset(
    "AND THE FOR ARE BUT NOT ALL ANY CAN HAS HAD WAS OUR OUT OFF ONE TWO NEW NOW OLD WAY YES "
    "JCT RTC RTA MPH KPH GMT BST NHS CAD REF LOG PCN RUN AGE AVE EST VIA PER TEL APR MAY JUN "
    "JUL AUG SEP OCT NOV DEC JAN FEB MAR MON TUE WED THU FRI SAT SUN HRS MIN MIS MET PCS PSO".split())


def vehicles(text: str) -> Iterator[Hit]:
    for m in _VRM.finditer(text):
        letters = m.group("pre3") or m.group("suf3")
        if letters in _NOT_A_MARK:
            continue
        yield VEHICLE, m.start(), m.end()


# -- dates of birth next to a name ------------------------------------------------------------
_MONTHS = {m[:3]: i for i, m in enumerate(
    "january february march april may june july august september october november december"
    .split(), start=1)}
_MONTH = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    r"(?<![\d/.-])(?:(?P<d1>[0-3]?\d)[/.-](?P<m1>[01]?\d)[/.-](?P<y1>(?:19|20)\d\d)"
    r"|(?P<y2>(?:19|20)\d\d)-(?P<m2>[01]\d)-(?P<d2>[0-3]\d)"
    rf"|(?P<d3>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?P<y3>(?:19|20)\d\d)"
    rf"|{_MONTH.replace('mon', 'mon4')}\s+(?P<d4>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y4>(?:19|20)\d\d))"
    r"(?![\d/])", re.I)
_YEAR = re.compile(r"(?:19|20)\d\d")
_BIRTH_WORD = re.compile(r"(?:\bborn(?:\s+on)?|\bd\.?o\.?b\.?|\bdate\s+of\s+birth)\s*[:-]?\s*$", re.I)
_NAME_WORD = r"(?:Mc|Mac|O')?[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_NAME = re.compile(rf"\b{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}}\b")
_NAME_THEN = re.compile(rf"\b({_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}})\s*(?:,|\(|-|–|:)?\s*$")
# Capitalised words that start sentences or name places and days, not people.
_NOT_NAMES = frozenset(
    "On At In By From Since Until Between Before After During The This That A An And Or Police "
    "Officers Officer Court Crown Magistrates Station Road Street Lane Avenue Way Close Park "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May "
    "June July August September October November December Today Yesterday Update Appeal Missing "
    "Charged Sentenced Jailed Convicted Arrested Released Contact Call Anyone Please Thank "
    "Thanks We Our Us You Your It Its He She They His Her Their Mr Mrs Ms Miss Dr".split())


def _as_date(m: re.Match) -> date | None:
    g = m.groupdict()
    try:
        for n in "1234":
            if g[f"y{n}"]:
                month = g.get(f"m{n}")
                mon = g["mon"] if n == "3" else g["mon4"] if n == "4" else None
                month = int(month) if month else _MONTHS[mon[:3].lower()]
                return date(int(g[f"y{n}"]), month, int(g[f"d{n}"]))
    except ValueError:
        return None
    return None


def _is_name(words: str) -> bool:
    return not any(w in _NOT_NAMES for w in words.split())


def birth_dates(text: str, today: date) -> Iterator[Hit]:
    if not _YEAR.search(text):
        return
    for m in _DATE.finditer(text):
        when = _as_date(m)
        if when is None or when > today:
            continue
        before = text[max(0, m.start() - 60):m.start()]
        said = _BIRTH_WORD.search(before)
        if said:
            keyword = before[said.start():said.end()].strip().lower()
            context = text[max(0, m.start() - 100):m.start()] + " " + text[m.end():m.end() + 50]
            named = any(_is_name(n.group()) for n in _NAME.finditer(context))
            # "DOB" always means someone's birth; "born" counts once a person is named nearby.
            if named or not keyword.startswith("born"):
                yield BIRTH_DATE, m.start() - (len(before) - said.start()), m.end()
            continue
        name = _NAME_THEN.search(before)
        # A date at least ten years back, right after a name, is a birth date, not an event's.
        if name and _is_name(name.group(1)) and when.year <= today.year - 10:
            yield BIRTH_DATE, m.start() - (len(before) - name.start(1)), m.end()


# -- payment card numbers ---------------------------------------------------------------------
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def cards(text: str) -> Iterator[Hit]:
    for m in _CARD.finditer(text):
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "")
        # Card schemes start with 2-6; a mix of spaces and dashes is a list of numbers, not a card.
        if digits[0] in "23456" and not (" " in raw and "-" in raw) and _luhn(digits):
            yield CARD, m.start(), m.end()


def digit_count(text: str) -> int:
    return len(text) - len(text.translate(_DROP_DIGITS))
