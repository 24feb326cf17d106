"""Recurring rules as plain Python: reading them, their instants across both clock changes, their words."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from desk.domain import recurrence as r

LONDON = ZoneInfo("Europe/London")
UTC = UTC


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def local(moments):
    return [m.astimezone(LONDON).strftime("%d %H:%M %Z") for m in moments]


def between(rule_text, start, end):
    return list(r.occurrences(r.parse(rule_text), LONDON, start, end))


@pytest.mark.parametrize("text,cron_like", [
    ("daily 08:00", "0 8 * * *"), ("weekdays 07:30", "30 7 * * MON-FRI"), ("weekly MON 09:00", "0 9 * * 1"),
    ("monthly 1 09:00", "0 9 1 * *"), ("Weekly mon,thu 9:00", "0 9 * * MON,THU"),
])
def test_plain_forms_mean_their_cron_rule(text, cron_like):
    start = utc(2026, 1, 1)
    assert r.upcoming(r.parse(text), LONDON, start, 10) == r.upcoming(r.parse(cron_like), LONDON, start, 10)


def test_daily_0800_keeps_its_wall_time_across_both_changes():
    spring = between("daily 08:00", utc(2026, 3, 27), utc(2026, 3, 31))
    assert local(spring) == ["27 08:00 GMT", "28 08:00 GMT", "29 08:00 BST", "30 08:00 BST"]
    assert spring[1] - spring[0] == timedelta(hours=24) and spring[2] - spring[1] == timedelta(hours=23)
    autumn = between("daily 08:00", utc(2026, 10, 23), utc(2026, 10, 27))
    assert local(autumn) == ["23 08:00 BST", "24 08:00 BST", "25 08:00 GMT", "26 08:00 GMT"]


def test_daily_0130_moves_forward_in_spring_and_goes_once_in_autumn():
    spring = between("30 1 * * *", utc(2026, 3, 27), utc(2026, 3, 31))
    # 01:30 on 29 March does not exist: it goes out after the gap, it is not skipped.
    assert local(spring) == ["27 01:30 GMT", "28 01:30 GMT", "29 02:30 BST", "30 01:30 BST"]
    autumn = between("30 1 * * *", utc(2026, 10, 23), utc(2026, 10, 28))
    # 01:30 on 25 October happens twice: taken once, at the first (BST) instant.
    assert local(autumn) == ["23 01:30 BST", "24 01:30 BST", "25 01:30 BST", "26 01:30 GMT", "27 01:30 GMT"]
    assert autumn[2] == utc(2026, 10, 25, 0, 30)


def test_every_30_minutes_across_both_changes_never_doubles_and_misses_only_the_missing_hour():
    rule = "*/30 * * * *"
    spring = between(rule, utc(2026, 3, 28, 23), utc(2026, 3, 29, 4))
    assert len(spring) == len(set(spring)) and spring == sorted(spring)
    # Every real half hour is there: the instants are exactly every 30 minutes, no gap, no repeat.
    assert all(b - a == timedelta(minutes=30) for a, b in zip(spring, spring[1:]))
    assert local(spring)[:7] == ["28 23:30 GMT", "29 00:00 GMT", "29 00:30 GMT", "29 02:00 BST", "29 02:30 BST",
                                 "29 03:00 BST", "29 03:30 BST"]
    autumn = between(rule, utc(2026, 10, 24, 22, 45), utc(2026, 10, 25, 4))
    assert len(autumn) == len(set(autumn)) and autumn == sorted(autumn)
    # The repeated hour goes out once: after 01:30 BST comes 02:00 GMT, an hour and a half later.
    assert local(autumn)[:5] == ["25 00:00 BST", "25 00:30 BST", "25 01:00 BST", "25 01:30 BST", "25 02:00 GMT"]
    assert autumn[4] - autumn[3] == timedelta(minutes=90)


def test_weekly_day_of_month_and_cron_or_rule():
    mondays = r.upcoming(r.parse("weekly MON 09:00"), LONDON, utc(2026, 6, 1, 12), 3)
    assert [m.astimezone(LONDON).date() for m in mondays] == [date(2026, 6, 8), date(2026, 6, 15), date(2026, 6, 22)]
    firsts = r.upcoming(r.parse("0 9 1 * *"), LONDON, utc(2026, 6, 1, 12), 2)
    assert [m.astimezone(LONDON).date() for m in firsts] == [date(2026, 7, 1), date(2026, 8, 1)]
    # Both day fields given: either may match (the 15th, or any Friday).
    either = r.upcoming(r.parse("0 9 15 * FRI"), LONDON, utc(2026, 6, 1), 4)
    assert [m.astimezone(LONDON).day for m in either] == [5, 12, 15, 19]
    months = r.upcoming(r.parse("0 9 1 JAN,JUL *"), LONDON, utc(2026, 6, 1), 2)
    assert [(m.month, m.day) for m in months] == [(7, 1), (1, 1)]


def test_until_ends_the_occurrences():
    until = r.end_of_day(date(2026, 6, 3), LONDON)
    found = list(r.occurrences(r.parse("daily 08:00"), LONDON, utc(2026, 6, 1), until))
    assert local(found) == ["01 08:00 BST", "02 08:00 BST", "03 08:00 BST"]


@pytest.mark.parametrize("text,words", [
    ("", "Write when it repeats"),
    ("every morning", "is not a rule the desk reads"),
    ("*/10 * * * *", "at most every 15 minutes"),
    ("0,5 8 * * *", "every 5 minutes"),
    ("0 25 * * *", "25 is not an hour"),
    ("0 8 * * FUN", "'FUN' is not a day of the week"),
    ("0 8 31 4 *", "never comes"),
    ("0 8 5-1 * *", "runs backwards"),
    ("0 8 * * * *", "five parts"),
    ("*/0 8 * * *", "not a step"),
])
def test_invalid_rules_are_refused_with_words(text, words):
    with pytest.raises(r.InvalidRule) as caught:
        r.parse(text)
    assert words in caught.value.message
    assert caught.value.field_errors == {"recurrence_rule": [caught.value.message]}


def test_every_15_minutes_is_the_most_often_allowed():
    assert r.parse("*/15 * * * *").minutes == (0, 15, 30, 45)
    with pytest.raises(r.InvalidRule):
        r.parse("50,59 7 * * *")
    # Across the hour counts too: 08:55 then 09:00 is five minutes apart.
    with pytest.raises(r.InvalidRule):
        r.parse("0,55 8,9 * * *")


@pytest.mark.parametrize("text,words", [
    ("daily 08:00", "Every day at 08:00"),
    ("weekly MON 09:00", "Mondays at 09:00"),
    ("weekdays 07:30", "Weekdays (Monday to Friday) at 07:30"),
    ("0 7,12,17 * * SAT,SUN", "Weekends at 07:00, 12:00 and 17:00"),
    ("*/30 * * * *", "Every day, every 30 minutes"),
    ("*/15 7-19 * * 1-5", "Weekdays (Monday to Friday), every 15 minutes from 07:00 to 19:45"),
    ("0 9 1,15 * *", "On the 1st and 15th of the month at 09:00"),
    ("0 9 1 * * ", "On the 1st of the month at 09:00"),
    ("0 10 * DEC MON", "Mondays in December at 10:00"),
])
def test_every_rule_has_words(text, words):
    assert r.describe(r.parse(text)) == words


def test_clock_change_notes_say_what_happens_to_the_affected_times_only():
    notes = r.clock_change_notes(r.parse("30 1 * * *"), LONDON, utc(2026, 1, 1))
    assert len(notes) == 2
    assert "29 March 2026" in notes[0] and "goes out at 02:30 BST" in notes[0]
    assert "25 October 2026" in notes[1] and "once, at the first 01:30 (BST)" in notes[1]
    assert r.clock_change_notes(r.parse("daily 08:00"), LONDON, utc(2026, 1, 1)) == []
    # A weekday rule never meets a Sunday change in London.
    assert r.clock_change_notes(r.parse("30 1 * * MON-FRI"), LONDON, utc(2026, 1, 1)) == []
