"""Recurring rules at their edges: every name and bound of each field, ranges round Sunday, steps from a
start, the days that come only in some months (31st, 29 February, December), the 15-minute limit across
midnight, the last minute of a series' final day, the thirty years after which a rule never comes, the
words for each form, and the clock-change notes one year ahead. tests/test_recurrence.py has the rest.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from desk.domain import recurrence as r

LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
JUNE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday, in British Summer Time
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
MONTHS_IN_WORDS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                   "October", "November", "December")
DAYS_IN_WORDS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
NEVER_COMES = ("That day never comes in the months chosen (e.g. 31 in April, or 30 February): "
               "choose a day that does.")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def refusal(text) -> str:
    with pytest.raises(r.InvalidRule) as caught:
        r.parse(text)
    assert caught.value.field_errors == {"recurrence_rule": [caught.value.message]}
    return caught.value.message


def local_dates(moments, zone=LONDON):
    return [m.astimezone(zone).strftime("%a %d %b %Y %H:%M") for m in moments]


# ---- reading each field ---------------------------------------------------------------------------------

@pytest.mark.parametrize("number, name", list(enumerate(MONTH_NAMES, 1)))
def test_each_month_is_known_by_its_name_and_its_number(number, name):
    assert r.parse(f"0 9 1 {name} *").months == {number}
    assert r.parse(f"0 9 1 {number} *").months == {number}
    assert r.describe(r.parse(f"0 9 * {name.lower()} *")) == f"Every day in {MONTHS_IN_WORDS[number - 1]} at 09:00"


@pytest.mark.parametrize("weekday, name", list(enumerate(DAY_NAMES)))
def test_each_day_of_the_week_is_known_by_its_name_and_its_cron_number(weekday, name):
    assert r.parse(f"0 9 * * {name}").weekdays == {weekday}
    assert r.parse(f"0 9 * * {weekday + 1}").weekdays == {weekday}  # cron: 1 Monday .. 7 Sunday
    assert r.describe(r.parse(f"0 9 * * {name.lower()}")) == f"{DAYS_IN_WORDS[weekday]} at 09:00"


def test_sunday_is_both_0_and_7_and_a_whole_day_name_is_read_by_its_first_three_letters():
    assert r.parse("0 9 * * 0").weekdays == r.parse("0 9 * * 7").weekdays == {6}
    assert r.parse("weekly Monday 09:00").weekdays == {0}
    assert r.parse("0 9 1 September *").months == {9}


@pytest.mark.parametrize("text, field, values", [
    ("0 9 * * *", "minutes", (0,)), ("59 9 * * *", "minutes", (59,)),
    ("0 0 * * *", "hours", (0,)), ("0 23 * * *", "hours", (23,)),
    ("0 9 1 * *", "days", {1}), ("0 9 31 * *", "days", {31}),
    ("0 9 * 1 *", "months", {1}), ("0 9 * 12 *", "months", {12}),
])
def test_the_first_and_last_value_of_each_field_are_allowed(text, field, values):
    assert getattr(r.parse(text), field) == values


@pytest.mark.parametrize("text, message", [
    ("60 9 * * *", "60 is not a minute: it must be from 0 to 59."),
    ("0 24 * * *", "24 is not an hour: it must be from 0 to 23."),
    ("0 9 0 * *", "0 is not a day of the month: it must be from 1 to 31."),
    ("0 9 32 * *", "32 is not a day of the month: it must be from 1 to 31."),
    ("0 9 * 0 *", "0 is not a month: it must be from 1 to 12."),
    ("0 9 * 13 *", "13 is not a month: it must be from 1 to 12."),
    ("0 9 * * 8", "8 is not a day of the week: it must be from 0 to 7."),
    ("x 9 * * *", "'x' is not a minute: use a number from 0 to 59."),
    ("0 nine * * *", "'nine' is not an hour: use a number from 0 to 23."),
    ("0 9 first * *", "'first' is not a day of the month: use a number from 1 to 31."),
    ("0 9 * FOO *", "'FOO' is not a month: use a number from 1 to 12 or a name such as JAN."),
    ("0 9 * * MON1", "'MON1' is not a day of the week: use a number from 0 to 7 or a name such as MON."),
    ("*/x 9 * * *", "'/x' in '*/x' is not a step: write e.g. */15."),
    ("5/0 9 * * *", "'/0' in '5/0' is not a step: write e.g. */15."),
    ("*/15/2 9 * * *", "'/15/2' in '*/15/2' is not a step: write e.g. */15."),
    ("0 9-7 * * *", "'9-7' runs backwards: write a range from low to high."),
    ("0 9 * * WED-MON", "'WED-MON' runs backwards: write a range from low to high."),
    ("0 9 * DEC-JAN *", "'DEC-JAN' runs backwards: write a range from low to high."),
    ("0 1-2-3 * * *", "'2-3' is not an hour: use a number from 0 to 23."),
    ("0 25-26 * * *", "25 is not an hour: it must be from 0 to 23."),
    ("0 9-25 * * *", "25 is not an hour: it must be from 0 to 23."),
])
def test_a_value_out_of_its_field_is_refused_saying_what_the_field_takes(text, message):
    assert refusal(text) == message


@pytest.mark.parametrize("text, message", [
    ("", "Write when it repeats, e.g. 'daily 08:00', 'weekdays 07:30', 'weekly MON 09:00', or cron's '0 8 * * *'."),
    (None, "Write when it repeats, e.g. 'daily 08:00', 'weekdays 07:30', 'weekly MON 09:00', or cron's '0 8 * * *'."),
    ("every morning", "'every morning' is not a rule the desk reads: e.g. 'daily 08:00', 'weekdays 07:30', "
                      "'weekly MON 09:00', or cron's '0 8 * * *'. A cron rule has five parts: minute, hour, day of "
                      "the month, month, day of the week."),
])
def test_a_rule_that_is_no_rule_is_refused_with_examples(text, message):
    assert refusal(text) == message


def test_spaces_are_tidied_and_the_rule_kept_as_written():
    rule = r.parse("  0   9 *  * MON ")
    assert rule.text == "0 9 * * MON" and rule.weekdays == {0} and rule.hours == (9,)


# ---- ranges and steps ---------------------------------------------------------------------------------

@pytest.mark.parametrize("days, weekdays", [
    ("SUN-WED", {6, 0, 1, 2}),   # Sunday starts the range: Sunday to Wednesday, not backwards
    ("0-2", {6, 0, 1}),
    ("7-2", {6, 0, 1}),
    ("FRI-SUN", {4, 5, 6}),      # Sunday ends the range
    ("5-0", {4, 5, 6}),
    ("SAT-SUN", {5, 6}),
    ("MON-SUN", {0, 1, 2, 3, 4, 5, 6}),
    ("TUE-TUE", {1}),
    ("MON-MON", {0}),
])
def test_day_ranges_wrap_round_sunday(days, weekdays):
    assert r.parse(f"0 9 * * {days}").weekdays == weekdays


def test_sunday_to_wednesday_goes_out_on_those_four_days_only():
    found = r.upcoming(r.parse("0 9 * * SUN-WED"), LONDON, utc(2026, 6, 4), 5)  # from Thursday 4 June
    assert local_dates(found) == ["Sun 07 Jun 2026 09:00", "Mon 08 Jun 2026 09:00", "Tue 09 Jun 2026 09:00",
                                  "Wed 10 Jun 2026 09:00", "Sun 14 Jun 2026 09:00"]


def test_ranges_include_both_ends_in_every_field():
    rule = r.parse("0 7-9 10-12 JUL-SEP *")
    assert rule.hours == (7, 8, 9) and rule.days == {10, 11, 12} and rule.months == {7, 8, 9}
    assert r.parse("0 9 5-5 * *").days == {5}


def test_a_step_from_a_start_runs_to_the_end_of_the_field():
    assert r.parse("5/15 * * * *").minutes == (5, 20, 35, 50)
    assert r.parse("0 8/4 * * *").hours == (8, 12, 16, 20)
    assert r.parse("10-50/20 9 * * *").minutes == (10, 30, 50)
    assert r.parse("0 */1 * * *").hours == tuple(range(24))  # a step of 1 is a step
    assert r.parse("0 9 * */3 *").months == {1, 4, 7, 10}


def test_five_past_every_quarter_hour_goes_out_at_five_past():
    found = r.upcoming(r.parse("5/15 * * * *"), LONDON, utc(2026, 6, 1, 8, 0), 5)
    assert local_dates(found)[:5] == ["Mon 01 Jun 2026 09:05", "Mon 01 Jun 2026 09:20", "Mon 01 Jun 2026 09:35",
                                      "Mon 01 Jun 2026 09:50", "Mon 01 Jun 2026 10:05"]


# ---- the plain forms ----------------------------------------------------------------------------------

@pytest.mark.parametrize("plain, cron", [
    ("weekends 10:00", "0 10 * * SAT,SUN"),
    ("WEEKENDS 10:00", "0 10 * * 6,7"),
    ("Daily 8:05", "5 8 * * *"),
    ("weekdays 07:30", "30 7 * * 1-5"),
    ("weekly MON-WED 09:00", "0 9 * * 1-3"),
    ("monthly 1,15 09:00", "0 9 1,15 * *"),
    ("monthly 1-3 09:00", "0 9 1-3 * *"),
])
def test_each_plain_form_reads_as_its_cron_rule(plain, cron):
    a, b = r.parse(plain), r.parse(cron)
    assert (a.minutes, a.hours, a.days, a.months, a.weekdays) == (b.minutes, b.hours, b.days, b.months, b.weekdays)
    assert (a.days_given, a.weekdays_given) == (b.days_given, b.weekdays_given)


# ---- how often ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, minutes", [
    ("0,14 8 * * *", "14 minutes"),
    ("0,1 8 * * *", "1 minute"),
    ("0,55 0,23 * * *", "5 minutes"),  # 23:55 then 00:00 the next day: across midnight counts
    ("0,55 8,9 * * *", "5 minutes"),
])
def test_a_rule_more_often_than_every_15_minutes_is_refused_with_its_shortest_gap(text, minutes):
    assert refusal(text) == (f"That repeats every {minutes}: the desk repeats a post at most every 15 minutes. "
                             "Use fewer times, e.g. */15 for the minutes.")


def test_exactly_15_minutes_apart_is_allowed_across_midnight_too():
    assert r.parse("0,15 8 * * *").minutes == (0, 15)
    assert r.parse("45 23 * * *").hours == (23,)
    assert r.parse("0,45 0,23 * * *").hours == (0, 23)  # 23:45 then 00:00


# ---- days that come only in some months ------------------------------------------------------------------

def test_monthly_on_the_31st_is_a_rule_and_goes_out_in_the_months_that_have_one():
    found = r.upcoming(r.parse("monthly 31 09:00"), LONDON, JUNE, 4)
    assert local_dates(found) == ["Fri 31 Jul 2026 09:00", "Mon 31 Aug 2026 09:00", "Sat 31 Oct 2026 09:00",
                                  "Thu 31 Dec 2026 09:00"]


def test_29_february_is_a_rule_that_comes_in_leap_years():
    found = r.upcoming(r.parse("0 9 29 FEB *"), LONDON, JUNE, 2)
    assert local_dates(found) == ["Tue 29 Feb 2028 09:00", "Sun 29 Feb 2032 09:00"]


@pytest.mark.parametrize("month", ["JAN", "MAR", "MAY", "JUL", "AUG", "OCT", "DEC"])
def test_the_31st_comes_in_each_long_month(month):
    assert r.parse(f"0 9 31 {month} *").days == {31}


@pytest.mark.parametrize("month", ["APR", "JUN", "SEP", "NOV"])
def test_the_30th_comes_but_not_the_31st_in_each_short_month(month):
    assert r.parse(f"0 9 30 {month} *").days == {30}
    assert refusal(f"0 9 31 {month} *") == NEVER_COMES


def test_no_30th_of_february_ever_comes():
    assert refusal("0 9 30 FEB *") == NEVER_COMES
    assert refusal("0 9 30,31 2 *") == NEVER_COMES


def test_a_december_only_rule_is_read_and_comes_at_christmas():
    found = r.upcoming(r.parse("0 9 25 DEC *"), LONDON, JUNE, 2)
    assert local_dates(found) == ["Fri 25 Dec 2026 09:00", "Sat 25 Dec 2027 09:00"]


def test_a_rule_for_other_months_waits_for_them():
    # Started in June, a February-only rule comes the next February and nothing comes before it.
    found = r.upcoming(r.parse("0 9 1 FEB *"), LONDON, JUNE, 2)
    assert local_dates(found) == ["Mon 01 Feb 2027 09:00", "Tue 01 Feb 2028 09:00"]
    assert r.upcoming(r.parse("0 9 1 FEB *"), LONDON, JUNE, 2, until=utc(2027, 1, 31)) == []


def test_both_day_fields_mean_either_and_a_month_limits_both():
    found = r.upcoming(r.parse("0 9 15 JAN MON"), LONDON, JUNE, 6)
    assert local_dates(found) == ["Mon 04 Jan 2027 09:00", "Mon 11 Jan 2027 09:00", "Fri 15 Jan 2027 09:00",
                                  "Mon 18 Jan 2027 09:00", "Mon 25 Jan 2027 09:00", "Mon 03 Jan 2028 09:00"]


def test_one_day_field_given_with_a_step_in_the_other_means_both():
    # '*/2' in the days of the month is not 'given': the odd days AND Mondays.
    found = r.upcoming(r.parse("0 9 */2 * MON"), LONDON, JUNE, 3)
    assert local_dates(found) == ["Mon 15 Jun 2026 09:00", "Mon 29 Jun 2026 09:00", "Mon 13 Jul 2026 09:00"]


# ---- the days a rule finds -----------------------------------------------------------------------------

def _feb_29_on_mondays() -> r.Rule:
    """29 February on a Monday (2072, then not until 2112): a rule with forty years between two dates."""
    return r.Rule(text="0 9 29 2 (Mondays)", minutes=(0,), hours=(9,), days=frozenset({29}),
                  months=frozenset({2}), weekdays=frozenset({0}), days_given=True, weekdays_given=False)


def test_the_first_day_is_the_start_itself_when_it_matches_and_otherwise_the_next_that_does():
    tuesday = date(2026, 6, 2)
    assert r.first_day(r.parse("0 9 * * TUE"), tuesday) == tuesday
    assert r.first_day(r.parse("0 9 * * WED"), tuesday) == date(2026, 6, 3)
    assert r.first_day(r.parse("0 9 * * MON"), tuesday) == date(2026, 6, 8)


def test_a_rule_whose_next_day_is_more_than_thirty_years_off_never_comes():
    rule, day = _feb_29_on_mondays(), date(2112, 2, 29)
    assert r.first_day(rule, day - timedelta(days=366 * 30 - 1)) == day
    assert r.first_day(rule, day - timedelta(days=366 * 30)) is None
    # Searching from the day before the start, a date up to 366 * 30 days after that day is still found.
    start = datetime.combine(day - timedelta(days=366 * 30 - 1), time(12), UTC)
    assert r.upcoming(rule, ZoneInfo("UTC"), start, 1) == [utc(2112, 2, 29, 9)]
    assert r.upcoming(rule, ZoneInfo("UTC"), start - timedelta(days=1), 1) == []


def test_a_rule_that_never_matches_ends_its_occurrences_instead_of_searching_for_ever():
    never = r.Rule(text="31 February", minutes=(0,), hours=(9,), days=frozenset({31}), months=frozenset({2}),
                   weekdays=frozenset(range(7)), days_given=True, weekdays_given=False)
    assert list(r.occurrences(never, LONDON, JUNE)) == []


# ---- the occurrences between two moments --------------------------------------------------------------------

def test_occurrences_are_strictly_after_the_start():
    rule = r.parse("0 8,20 * * *")
    eight = utc(2026, 6, 1, 7, 0)  # 08:00 BST
    assert local_dates(r.upcoming(rule, LONDON, eight, 2)) == ["Mon 01 Jun 2026 20:00", "Tue 02 Jun 2026 08:00"]
    # Between the two times of one day: the evening's still comes.
    assert local_dates(r.upcoming(rule, LONDON, utc(2026, 6, 1, 12), 1)) == ["Mon 01 Jun 2026 20:00"]


def test_upcoming_gives_five_unless_asked_for_another_number():
    assert len(r.upcoming(r.parse("daily 08:00"), LONDON, JUNE)) == 5
    assert len(r.upcoming(r.parse("daily 08:00"), LONDON, JUNE, 2)) == 2


def test_an_occurrence_at_the_until_moment_itself_is_made():
    rule = r.parse("daily 08:00")
    until = utc(2026, 6, 3, 7, 0)  # 08:00 BST on 3 June, exactly
    assert local_dates(r.occurrences(rule, LONDON, JUNE, until)) == ["Tue 02 Jun 2026 08:00", "Wed 03 Jun 2026 08:00"]


@pytest.mark.parametrize("rule, last", [
    ("59 23 * * *", "Wed 03 Jun 2026 23:59"),
    ("30 23 * * *", "Wed 03 Jun 2026 23:30"),
    ("0 0,23 * * *", "Wed 03 Jun 2026 23:00"),
])
def test_the_last_hour_of_a_series_final_day_is_part_of_the_series(rule, last):
    until = r.end_of_day(date(2026, 6, 3), LONDON)
    assert until == utc(2026, 6, 3, 22, 59)
    found = list(r.occurrences(r.parse(rule), LONDON, JUNE, until))
    assert local_dates(found)[-1] == last


def test_a_series_until_a_day_in_winter_ends_at_that_days_last_minute_in_gmt():
    assert r.end_of_day(date(2026, 12, 24), LONDON) == utc(2026, 12, 24, 23, 59)


def test_a_weekly_rule_with_an_until_on_a_day_it_does_not_match_ends():
    until = r.end_of_day(date(2026, 6, 20), LONDON)
    found = list(r.occurrences(r.parse("weekly MON 09:00"), LONDON, JUNE, until))
    assert local_dates(found) == ["Mon 08 Jun 2026 09:00", "Mon 15 Jun 2026 09:00"]


# ---- in words ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("0 9 1,2,3,4,11 * *", "On the 1st, 2nd, 3rd, 4th and 11th of the month at 09:00"),
    ("0 9 12,13,21,22,23,31 * *", "On the 12th, 13th, 21st, 22nd, 23rd and 31st of the month at 09:00"),
    ("0 9 15 * FRI", "On the 15th of the month and on Fridays at 09:00"),
    ("0 9 * * MON-SUN", "Every day at 09:00"),
    ("0 9 * * 0-2", "Mondays, Tuesdays and Sundays at 09:00"),
    ("0 9 * JAN-MAR,OCT *", "Every day in January, February, March and October at 09:00"),
    ("0 9 1 JUN-AUG *", "On the 1st of the month in June, July and August at 09:00"),
    ("0 9 * * */2", "Tuesdays, Thursdays, Saturdays and Sundays at 09:00"),
    ("0 9 1,15 * */7", "Sundays that fall on the 1st and 15th of the month at 09:00"),
    ("0 9 */10 * MON", "Mondays that fall on the 1st, 11th, 21st and 31st of the month at 09:00"),
    ("0 9 */10 * *", "On the 1st, 11th, 21st and 31st of the month at 09:00"),
])
def test_the_days_in_words_say_which_days(text, words):
    assert r.describe(r.parse(text)) == words


@pytest.mark.parametrize("text, words", [
    ("0 8-13 * * *", "Every day at 08:00, 09:00, 10:00, 11:00, 12:00 and 13:00"),
    ("0 8-14 * * *", "Every day, every hour from 08:00 to 14:00"),
    ("0 * * * *", "Every day, every hour"),
    ("30 * * * *", "Every day, every hour at 30 minutes past"),
    ("*/30 * * * *", "Every day, every 30 minutes"),
    ("15/30 * * * *", "Every day, every 30 minutes from 15 minutes past the hour"),
    ("5/15 * * * *", "Every day, every 15 minutes from 5 minutes past the hour"),
    ("0,30 8-11 * * *", "Every day, every 30 minutes from 08:00 to 11:30"),
    ("15/30 8-11 * * *", "Every day, every 30 minutes from 08:15 to 11:45"),
    ("*/20 8-10 * * *", "Every day, every 20 minutes from 08:00 to 10:40"),
    ("0,20,45 8-10 * * *", "Every day at 00, 20 and 45 minutes past the hour (hours 08, 09 and 10)"),
    ("0,25 8-11 * * *", "Every day at 00 and 25 minutes past the hour (hours 08, 09, 10 and 11)"),
    ("*/35 8-11 * * *", "Every day at 00 and 35 minutes past the hour (hours 08, 09, 10 and 11)"),
    ("0 8,10,12,14,16,18,20 * * *", "Every day at 00 minutes past the hour (hours 08, 10, 12, 14, 16, 18 and 20)"),
])
def test_the_times_in_words_say_when(text, words):
    assert r.describe(r.parse(text)) == words


# ---- the clock-change notes ----------------------------------------------------------------------------------

def test_the_notes_name_the_day_the_time_and_what_becomes_of_it():
    notes = r.clock_change_notes(r.parse("30 1 * * *"), LONDON, utc(2026, 1, 1))
    assert notes == [
        "On 29 March 2026 the clocks go forward over 01:30: that occurrence goes out at 02:30 BST instead.",
        "On 25 October 2026 the clocks go back and 01:30 happens twice: the occurrence goes out once, at the "
        "first 01:30 (BST).",
    ]


def test_a_half_hour_clock_change_moves_a_time_by_half_an_hour():
    notes = r.clock_change_notes(r.parse("10 2 * * *"), LORD_HOWE, utc(2026, 1, 1))
    assert notes == ["On 04 October 2026 the clocks go forward over 02:10: that occurrence goes out at 02:40 +11 "
                     "instead."]


def test_the_notes_look_one_year_ahead_from_the_next_day():
    rule = r.parse("30 1 * * *")
    # From Friday 27 March 2025: the changes of 30 March and 26 October 2025; 29 March 2026 is beyond the year.
    notes = r.clock_change_notes(rule, LONDON, utc(2025, 3, 27, 12))
    assert [n[:16] for n in notes] == ["On 30 March 2025", "On 26 October 20"]
    # Two days ahead is within it.
    assert r.clock_change_notes(rule, LONDON, utc(2026, 3, 27, 12))[0].startswith("On 29 March 2026")
    assert len(r.clock_change_notes(rule, LONDON, utc(2026, 1, 1), years=2)) == 4


def test_a_rule_with_two_times_in_the_changing_hour_has_a_note_for_each():
    notes = r.clock_change_notes(r.parse("0,30 1 * * SUN"), LONDON, utc(2026, 1, 1))
    assert [n.split(": ")[0] for n in notes] == [
        "On 29 March 2026 the clocks go forward over 01:00", "On 29 March 2026 the clocks go forward over 01:30",
        "On 25 October 2026 the clocks go back and 01:00 happens twice",
        "On 25 October 2026 the clocks go back and 01:30 happens twice"]


def test_only_the_times_in_the_changing_hour_have_notes():
    notes = r.clock_change_notes(r.parse("30 0,1 * * SUN"), LONDON, utc(2026, 1, 1))
    assert [n.split(": ")[0] for n in notes] == [
        "On 29 March 2026 the clocks go forward over 01:30",
        "On 25 October 2026 the clocks go back and 01:30 happens twice"]


def test_a_repeated_wall_time_is_its_first_instant_whichever_of_the_two_it_names():
    assert r.to_utc(datetime(2026, 10, 25, 1, 30, fold=1), LONDON) == utc(2026, 10, 25, 0, 30)
    assert r.to_utc(datetime(2026, 10, 25, 1, 30), LONDON) == utc(2026, 10, 25, 0, 30)
