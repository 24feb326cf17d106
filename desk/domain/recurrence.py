"""Recurring rules: a cron-like expression read in the desk's time zone, its occurrences, and its words.

A rule is five fields, "minute hour day-of-month month day-of-week" (lists, ranges, steps, the names
JAN-DEC and MON-SUN, cron's OR when both day fields are given), or one of a few plain forms
("daily 08:00", "weekdays 07:30", "weekly MON 09:00", "monthly 1 09:00").

The clock changes: the rule is read on the wall clock. A wall time that does not exist (the clocks
go forward over it) goes out the same length of time later, after the gap (01:30 becomes 02:30 BST);
a wall time that happens twice (the clocks go back) goes out once, at its first instant. Instants are
then deduplicated, so nothing is skipped and nothing is doubled.

Plain Python: no database, no Flask.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import ValidationFailed

MIN_GAP_MINUTES = 15
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DAY_WORDS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
MONTH_WORDS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29: a rule for 29 Feb still happens
EXAMPLES = "e.g. 'daily 08:00', 'weekdays 07:30', 'weekly MON 09:00', or cron's '0 8 * * *'"
FIELD = "recurrence_rule"
# Beyond this many years without an occurrence, a rule is taken to never happen (29 Feb on a Monday: 28 years).
SEARCH_YEARS = 30


class InvalidRule(ValidationFailed):
    code = "invalid_rule"

    def __init__(self, message: str):
        super().__init__(message, field_errors={FIELD: [message]})


@dataclass(frozen=True)
class Rule:
    text: str                   # as the person wrote it, spaces tidied
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]        # days of the month, 1-31
    months: frozenset[int]      # 1-12
    weekdays: frozenset[int]    # 0 Monday .. 6 Sunday
    days_given: bool            # the day-of-month field was not '*...'
    weekdays_given: bool

    def matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month, in_week = day.day in self.days, day.weekday() in self.weekdays
        if self.days_given and self.weekdays_given:
            return in_month or in_week  # cron's rule: either day field may match
        return in_month and in_week

    def wall_times(self) -> list[time]:
        return [time(h, m) for h in self.hours for m in self.minutes]


# ---- reading a rule --------------------------------------------------------------------------------

_PLAIN = (
    (re.compile(r"^daily (\d{1,2}):(\d{2})$", re.I), lambda m: f"{m[2]} {m[1]} * * *"),
    (re.compile(r"^weekdays (\d{1,2}):(\d{2})$", re.I), lambda m: f"{m[2]} {m[1]} * * MON-FRI"),
    (re.compile(r"^weekends (\d{1,2}):(\d{2})$", re.I), lambda m: f"{m[2]} {m[1]} * * SAT,SUN"),
    (re.compile(r"^weekly ([A-Za-z,\-]+) (\d{1,2}):(\d{2})$", re.I), lambda m: f"{m[3]} {m[2]} * * {m[1]}"),
    (re.compile(r"^monthly ([\d,\-]+) (\d{1,2}):(\d{2})$", re.I), lambda m: f"{m[3]} {m[2]} {m[1]} * *"),
)


def _a(what: str) -> str:
    return ("an " if what[0] in "aeiouh" else "a ") + what


def _number(token: str, low: int, high: int, names: tuple[str, ...], what: str, base: int) -> int:
    upper = token.upper()
    if names and upper[:3] in names and upper.isalpha():
        return names.index(upper[:3]) + base
    if not token.isdigit():
        raise InvalidRule(f"'{token}' is not {_a(what)}: use a number from {low} to {high}"
                          + (f" or a name such as {names[0]}." if names else "."))
    value = int(token)
    if not low <= value <= high:
        raise InvalidRule(f"{value} is not {_a(what)}: it must be from {low} to {high}.")
    return value


def _field(text: str, low: int, high: int, what: str, names: tuple[str, ...] = (), base: int = 0) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        rng, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise InvalidRule(f"'/{step_text}' in '{item}' is not a step: write e.g. */15.")
            step = int(step_text)
        if rng == "*":
            start, end = low, high
        elif "-" in rng:
            a, _, b = rng.partition("-")
            start, end = _number(a, low, high, names, what, base), _number(b, low, high, names, what, base)
            if names is DAYS:  # Sunday is 0 and 7: 'SUN-WED' starts the week, 'FRI-SUN' ends it
                start, end = (0 if start == 7 else start), (7 if end == 0 else end)
            if end < start:
                raise InvalidRule(f"'{rng}' runs backwards: write a range from low to high.")
        else:
            start = _number(rng, low, high, names, what, base)
            end = high if step_text else start  # 'a/step': from a to the end, every step
        values.update(range(start, end + 1, step))
    return values


def parse(text: str) -> Rule:
    """Read a rule, or say in words what is wrong with it."""
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise InvalidRule(f"Write when it repeats, {EXAMPLES}.")
    cron = cleaned
    for pattern, to_cron in _PLAIN:
        if m := pattern.match(cleaned):
            cron = to_cron(m)
            break
    parts = cron.split(" ")
    if len(parts) != 5:
        raise InvalidRule(f"'{cleaned}' is not a rule the desk reads: {EXAMPLES}. A cron rule has five parts: "
                          "minute, hour, day of the month, month, day of the week.")
    minute, hour, dom, month, dow = parts
    weekdays = {(d - 1) % 7 for d in _field(dow, 0, 7, "day of the week", DAYS, base=1)}  # cron: 0 and 7 Sunday
    rule = Rule(
        text=cleaned,
        minutes=tuple(sorted(_field(minute, 0, 59, "minute"))),
        hours=tuple(sorted(_field(hour, 0, 23, "hour"))),
        days=frozenset(_field(dom, 1, 31, "day of the month")),
        months=frozenset(_field(month, 1, 12, "month", MONTHS, base=1)),
        weekdays=frozenset(weekdays),
        days_given=not dom.startswith("*"),
        weekdays_given=not dow.startswith("*"),
    )
    _refuse_too_often(rule)
    _refuse_never(rule)
    return rule


def _refuse_too_often(rule: Rule) -> None:
    marks = [h * 60 + m for h in rule.hours for m in rule.minutes]
    gaps = [b - a for a, b in zip(marks, marks[1:])] + [marks[0] + 24 * 60 - marks[-1]]
    if min(gaps) < MIN_GAP_MINUTES:
        raise InvalidRule(f"That repeats every {min(gaps)} minute{'s' if min(gaps) != 1 else ''}: the desk repeats "
                          f"a post at most every {MIN_GAP_MINUTES} minutes. Use fewer times, e.g. */15 for the "
                          "minutes.")


def _refuse_never(rule: Rule) -> None:
    if rule.days_given and rule.weekdays_given:
        return  # any matching weekday will do
    if rule.days_given and not any(d <= MONTH_DAYS[m - 1] for m in rule.months for d in rule.days):
        raise InvalidRule("That day never comes in the months chosen (e.g. 31 in April, or 30 February): "
                          "choose a day that does.")
    if first_day(rule, date(2000, 1, 1)) is None:
        raise InvalidRule("Those days of the month never fall on the weekdays chosen: change one of them.")


def first_day(rule: Rule, start: date) -> date | None:
    day = start
    for _ in range(366 * SEARCH_YEARS):
        if rule.matches(day):
            return day
        day += timedelta(days=1)
    return None


# ---- occurrences -----------------------------------------------------------------------------------

def to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time as an instant: fold=0 gives the first of a repeated time and, for a time in the
    spring gap, the instant the same length of time after it (01:30 -> 02:30 BST)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def occurrences(rule: Rule, zone: ZoneInfo, after: datetime, until: datetime | None = None) -> Iterator[datetime]:
    """The rule's instants (UTC) strictly after `after` and, when given, no later than `until`, in order."""
    day = after.astimezone(zone).date() - timedelta(days=1)
    last = after
    idle = 0
    while True:
        if rule.matches(day):
            idle = 0
            for moment in sorted({to_utc(datetime.combine(day, t), zone) for t in rule.wall_times()}):
                if moment <= last:
                    continue  # before the start, or the same instant as a gap time already given
                if until is not None and moment > until:
                    return
                last = moment
                yield moment
        else:
            idle += 1
            if idle > 366 * SEARCH_YEARS:
                return
        if until is not None and to_utc(datetime.combine(day, time()), zone) > until:
            return
        day += timedelta(days=1)


def upcoming(rule: Rule, zone: ZoneInfo, after: datetime, count: int = 5,
             until: datetime | None = None) -> list[datetime]:
    found = []
    for moment in occurrences(rule, zone, after, until):
        found.append(moment)
        if len(found) == count:
            break
    return found


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """'Repeat until' a date: through the last minute of that day in the desk's zone."""
    return to_utc(datetime.combine(day, time(23, 59)), zone)


# ---- in words ----------------------------------------------------------------------------------------

def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _days_words(rule: Rule) -> str:
    week = sorted(rule.weekdays)
    if week == [0, 1, 2, 3, 4]:
        on_week = "Weekdays (Monday to Friday)"
    elif week == [5, 6]:
        on_week = "Weekends"
    else:
        on_week = _join([DAY_WORDS[d] for d in week])
    on_month = f"the {_join([_ordinal(d) for d in sorted(rule.days)])} of the month"
    # A step ('*/2') leaves a day field out of cron's either-or, but it still limits the days.
    month_limited, week_limited = rule.days_given or len(rule.days) < 31, len(week) < 7
    if rule.days_given and rule.weekdays_given:
        words = f"On {on_month} and on {on_week}"
    elif month_limited and week_limited:
        words = f"{on_week} that fall on {on_month}"
    elif month_limited:
        words = f"On {on_month}"
    elif week_limited:
        words = on_week
    else:
        words = "Every day"
    if len(rule.months) < 12:
        words += " in " + _join([MONTH_WORDS[m - 1] for m in sorted(rule.months)])
    return words


def _times_words(rule: Rule) -> str:
    times = rule.wall_times()
    if len(times) <= 6:
        return "at " + _join([t.strftime("%H:%M") for t in times])
    mins, hours = rule.minutes, rule.hours
    step = mins[1] - mins[0] if len(mins) > 1 else 60
    even = (60 % step == 0 and list(mins) == list(range(mins[0], 60, step))
            and list(hours) == list(range(hours[0], hours[-1] + 1)))
    if even:
        every = "every hour" if step == 60 else f"every {step} minutes"
        if len(hours) == 24 and mins[0]:  # '5/15': say where the steps start
            return every + (f" at {mins[0]} minutes past" if step == 60 else f" from {mins[0]} minutes past the hour")
        if len(hours) == 24:
            return every
        return f"{every} from {times[0]:%H:%M} to {times[-1]:%H:%M}"
    return (f"at {_join([f'{m:02d}' for m in mins])} minutes past the hour"
            f" (hours {_join([f'{h:02d}' for h in hours])})")


def describe(rule: Rule) -> str:
    """The rule in words for the post's page: 'Every day at 08:00', 'Mondays at 09:00'."""
    times = _times_words(rule)
    days = _days_words(rule)
    return f"{days} {times}" if times.startswith("at ") else f"{days}, {times}"


def clock_change_notes(rule: Rule, zone: ZoneInfo, after: datetime, years: int = 1) -> list[str]:
    """What the next clock changes do to this rule's times, in words; empty when they do nothing."""
    notes: list[str] = []
    day = after.astimezone(zone).date()
    for _ in range(366 * years):
        day += timedelta(days=1)
        if not rule.matches(day):
            continue
        for t in rule.wall_times():
            wall = datetime.combine(day, t)
            first = wall.replace(tzinfo=zone, fold=0)
            second = wall.replace(tzinfo=zone, fold=1)
            if first.utcoffset() == second.utcoffset():
                continue
            moved = to_utc(wall, zone).astimezone(zone)
            if moved.replace(tzinfo=None) != wall:
                notes.append(f"On {day:%d %B %Y} the clocks go forward over {t:%H:%M}: that occurrence goes "
                             f"out at {moved:%H:%M} {moved.tzname()} instead.")
            else:
                notes.append(f"On {day:%d %B %Y} the clocks go back and {t:%H:%M} happens twice: the occurrence "
                             f"goes out once, at the first {t:%H:%M} ({first.tzname()}).")
    return notes


POLICY = ("Times are read on the desk's clock. On the night the clocks go forward, a time in the missing hour "
          "goes out an hour later (01:30 becomes 02:30); on the night they go back, a time that happens twice "
          "goes out once, at the first.")
