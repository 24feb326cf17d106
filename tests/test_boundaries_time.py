"""Time zones at their edges, and the domain's times whatever the server's own zone is.

The desk reads and shows times in its zone (DESK_TIMEZONE) and keeps every instant in UTC. The server it
runs on may be set to any zone: nothing in the domain may convert through the server's zone (a bare
astimezone(), datetime.now() or fromtimestamp() without a zone). `server_clock` sets the process's own
zone for one test, far from UTC and from the desk's: Newfoundland (UTC-3:30, -2:30 in summer) and Lord
Howe Island (UTC+10:30, +11 in summer, a clock change of half an hour). The same test files also run
whole under those zones (TZ=...), see docs/testing.md.
"""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest

from desk.domain import audit, rate_limits
from desk.domain import recurrence as r
from desk.domain.errors import ValidationFailed
from desk.domain.timezones import (
    AmbiguousLocalTime,
    NonexistentLocalTime,
    display,
    local_to_utc,
    parse_iso,
    parse_local,
    utc_to_local,
)

LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
NEW_YORK = ZoneInfo("America/New_York")
SERVER_ZONES = ("America/St_Johns", "Australia/Lord_Howe")
ZERO = timedelta(0)


@contextmanager
def process_zone(name: str):
    """The process's own zone set to `name` (what TZ= does for a whole run), put back afterwards."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture(params=SERVER_ZONES)
def server_clock(request):
    """The server's clock in a zone far from UTC; the fixture checks it took, so a test cannot pass blind."""
    with process_zone(request.param):
        assert datetime(2026, 1, 15, 12, 0, tzinfo=UTC).astimezone().utcoffset() != ZERO
        yield request.param


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def in_utc(moment: datetime) -> bool:
    """An instant as the domain hands it out: aware and in UTC, not merely the same instant elsewhere."""
    return moment.tzinfo is not None and moment.utcoffset() == ZERO and moment.tzname() == "UTC"


# ---- local time <-> UTC at the clock changes --------------------------------------------------------------

def test_a_time_in_the_spring_gap_is_refused_with_the_length_of_the_gap_and_both_real_times():
    with pytest.raises(NonexistentLocalTime) as caught:
        local_to_utc(datetime(2026, 3, 29, 1, 30), LONDON)
    assert caught.value.message == (
        "29 Mar 2026 01:30 does not exist in Europe/London: the clocks go forward by 60 minutes then. "
        "Choose 00:30 GMT or 02:30 BST instead.")
    assert caught.value.code == "nonexistent_local_time"


def test_a_half_hour_clock_change_has_a_half_hour_gap():
    # Lord Howe Island puts its clocks forward by 30 minutes: 02:00 becomes 02:30.
    with pytest.raises(NonexistentLocalTime) as caught:
        local_to_utc(datetime(2026, 10, 4, 2, 10), LORD_HOWE)
    assert caught.value.message == (
        "04 Oct 2026 02:10 does not exist in Australia/Lord_Howe: the clocks go forward by 30 minutes then. "
        "Choose 01:40 +1030 or 02:40 +11 instead.")
    assert local_to_utc(datetime(2026, 10, 4, 2, 30), LORD_HOWE) == utc(2026, 10, 3, 15, 30)
    assert local_to_utc(datetime(2026, 10, 4, 1, 59), LORD_HOWE) == utc(2026, 10, 3, 15, 29)


def test_a_repeated_time_is_refused_with_the_times_on_either_side_and_their_zone_names():
    with pytest.raises(AmbiguousLocalTime) as caught:
        local_to_utc(datetime(2026, 10, 25, 1, 30), LONDON)
    assert caught.value.message == (
        "25 Oct 2026 01:30 happens twice in Europe/London: the clocks go back then. Choose a time outside the "
        "repeated hour, e.g. 00:30 BST or 02:30 GMT, so that nobody has to guess which 01:30 was meant.")
    assert caught.value.code == "ambiguous_local_time"
    with pytest.raises(AmbiguousLocalTime) as caught:
        local_to_utc(datetime(2026, 11, 1, 1, 15), NEW_YORK)
    assert "e.g. 00:15 EDT or 02:15 EST," in caught.value.message


def test_a_repeated_time_is_refused_whichever_of_the_two_it_names():
    with pytest.raises(AmbiguousLocalTime):
        local_to_utc(datetime(2026, 10, 25, 1, 30, fold=1), LONDON)


def test_the_minute_after_the_repeated_hour_is_a_plain_time():
    assert local_to_utc(datetime(2026, 10, 25, 2, 0), LONDON) == utc(2026, 10, 25, 2, 0)
    assert local_to_utc(datetime(2026, 10, 25, 0, 59), LONDON) == utc(2026, 10, 24, 23, 59)


def test_a_time_that_carries_its_offset_is_taken_as_that_instant_in_utc():
    given = datetime(2026, 7, 15, 9, 0, tzinfo=NEW_YORK)  # 09:00 EDT
    moment = local_to_utc(given, LONDON)
    assert moment == utc(2026, 7, 15, 13, 0) and in_utc(moment)


def test_a_time_without_a_zone_from_the_database_is_read_as_utc():
    assert utc_to_local(datetime(2026, 7, 15, 8, 0), LONDON) == datetime(2026, 7, 15, 9, 0, tzinfo=LONDON)
    assert utc_to_local(None, LONDON) is None
    # A time that carries its zone is that instant, shown in the desk's zone.
    assert utc_to_local(datetime(2026, 7, 15, 9, 0, tzinfo=NEW_YORK), LONDON).strftime("%H:%M %Z") == "14:00 BST"
    assert display(datetime(2026, 1, 15, 8, 0), LONDON) == "Thu 15 Jan 2026 08:00 GMT"


def test_display_without_the_zone_name_shows_the_local_time_alone():
    assert display(utc(2026, 7, 15, 8, 0), LONDON, with_zone=False) == "Wed 15 Jul 2026 09:00"
    assert display(utc(2026, 7, 15, 8, 0), LORD_HOWE) == "Wed 15 Jul 2026 18:30 +1030"


@pytest.mark.parametrize("text", ["2026-07-15 09:00:30", "  2026-07-15T09:00  ", "2026-07-15 09:00:59.5"])
def test_the_form_time_is_read_to_the_minute_whatever_follows_or_surrounds_it(text):
    assert parse_local(text, LONDON) == utc(2026, 7, 15, 8, 0)


def test_a_form_time_that_is_not_one_is_refused_quoting_what_was_written():
    with pytest.raises(ValidationFailed) as caught:
        parse_local("15/07/2026 09:00", LONDON)
    assert caught.value.message == "'15/07/2026 09:00' is not a date and time: write it as YYYY-MM-DD HH:MM."


def test_a_form_time_in_the_gap_is_refused_like_any_other_way_in():
    with pytest.raises(NonexistentLocalTime):
        parse_local("2026-03-29T01:30", LONDON)


def test_an_iso_time_is_refused_without_an_offset_and_when_it_is_not_a_time():
    with pytest.raises(ValidationFailed) as caught:
        parse_iso("2026-07-15T09:00:00")
    assert caught.value.message == ("'2026-07-15T09:00:00' has no UTC offset: add one (e.g. +01:00 or Z) so the "
                                    "time is not ambiguous.")
    with pytest.raises(ValidationFailed) as caught:
        parse_iso("next Tuesday")
    assert caught.value.message == "'next Tuesday' is not an ISO 8601 date and time."
    with pytest.raises(ValidationFailed) as caught:
        parse_iso(None)  # a JSON null where a time was expected
    assert caught.value.message == "'None' is not an ISO 8601 date and time."
    with pytest.raises(ValidationFailed):
        parse_iso("2026-07-15T08:00:00z")  # only a capital Z means UTC


def test_an_iso_time_comes_back_in_utc():
    for text in ("2026-07-15T09:00:00+01:00", "2026-07-15T08:00:00Z", "2026-07-15T04:00:00-04:00"):
        moment = parse_iso(text)
        assert moment == utc(2026, 7, 15, 8, 0) and in_utc(moment)


# ---- whatever the server's own zone ----------------------------------------------------------------------

def test_conversions_never_go_through_the_servers_zone(server_clock):
    assert in_utc(local_to_utc(datetime(2026, 7, 15, 9, 0, tzinfo=NEW_YORK), LONDON))
    assert in_utc(local_to_utc(datetime(2026, 7, 15, 9, 0), LONDON))
    assert in_utc(parse_iso("2026-07-15T09:00:00+01:00"))
    assert in_utc(parse_local("2026-01-15 09:00", LONDON))
    # A time without a zone (as SQLite gives it back) is UTC, not the server's local time.
    assert utc_to_local(datetime(2026, 1, 15, 8, 0), LONDON).hour == 8
    assert display(datetime(2026, 1, 15, 8, 0), LONDON) == "Thu 15 Jan 2026 08:00 GMT"


def test_a_series_instants_are_the_same_whatever_the_servers_zone(server_clock):
    rule = r.parse("30 1 * * *")
    found = r.upcoming(rule, LONDON, utc(2026, 3, 27, 12), 4)
    assert found == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30),
                     utc(2026, 3, 31, 0, 30)]
    assert all(in_utc(m) for m in found)
    assert in_utc(r.to_utc(datetime(2026, 7, 1, 9, 0), LONDON))
    until = r.end_of_day(date(2026, 6, 3), LONDON)
    assert until == utc(2026, 6, 3, 22, 59) and in_utc(until)


def test_a_series_starts_from_the_desks_date_not_the_servers():
    # A desk in Pago Pago (UTC-11) on a server in Kiritimati (UTC+14): at 10:30 UTC on 2 June it is 23:30 on
    # 1 June at the desk and 00:30 on 3 June on the server. The desk's 23:45 that evening is the next one.
    with process_zone("Pacific/Kiritimati"):
        pago = ZoneInfo("Pacific/Pago_Pago")
        [first] = r.upcoming(r.parse("45 23 * * *"), pago, utc(2026, 6, 2, 10, 30), 1)
    assert first == utc(2026, 6, 2, 10, 45)


def test_a_series_until_is_read_on_the_desks_days_not_the_servers():
    # A desk in Kiritimati (UTC+14) on a server in Pago Pago (UTC-11): the series' last occurrence, 00:30 on
    # 3 June at the desk, is 10:30 UTC on 2 June, when the server's 2 June is not over.
    with process_zone("Pacific/Pago_Pago"):
        kiritimati = ZoneInfo("Pacific/Kiritimati")
        last = utc(2026, 6, 2, 10, 30)
        found = list(r.occurrences(r.parse("30 0 * * *"), kiritimati, utc(2026, 5, 31, 12), last))
    assert found == [utc(2026, 6, 1, 10, 30), last]


def test_the_clock_change_notes_start_from_the_desks_date_whatever_the_servers(server_clock):
    rule = r.parse("30 1 * * *")
    # 23:30 UTC on Saturday 28 March is still Saturday in London: Sunday's change is ahead.
    notes = r.clock_change_notes(rule, LONDON, utc(2026, 3, 28, 23, 30))
    assert notes[0] == ("On 29 March 2026 the clocks go forward over 01:30: that occurrence goes out at 02:30 BST "
                        "instead.")
    # 00:30 UTC on Sunday 29 March is Sunday in London already: the next change is October's.
    notes = r.clock_change_notes(rule, LONDON, utc(2026, 3, 29, 0, 30))
    assert notes[0] == ("On 25 October 2026 the clocks go back and 01:30 happens twice: the occurrence goes out "
                        "once, at the first 01:30 (BST).")


def test_audit_times_are_written_in_utc_whatever_the_servers_zone(server_clock):
    assert audit.canonical_time(utc(2026, 6, 1, 9, 0)) == "2026-06-01T09:00:00.000000Z"
    assert audit.canonical_time(datetime(2026, 6, 1, 10, 0, tzinfo=LONDON)) == "2026-06-01T09:00:00.000000Z"


def test_a_platforms_reset_time_and_http_date_are_read_against_the_real_clock_in_any_zone(server_clock):
    now = utc(2026, 6, 1, 9, 0)  # the desk's (frozen) clock; the headers speak of the real one
    real = datetime.now(UTC)
    reset = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(real.timestamp()) + 600)}
    waited = rate_limits.after_call("x", [reset], now).next_send_at - now
    assert timedelta(seconds=590) <= waited <= timedelta(seconds=600)
    dated = {"Retry-After": format_datetime(real + timedelta(minutes=7), usegmt=True)}
    waited = rate_limits.after_call("flickr", [dated], now).next_send_at - now
    assert timedelta(seconds=410) <= waited <= timedelta(seconds=420)
    usage = {"X-App-Usage": json.dumps({"call_count": 90})}
    assert rate_limits.after_call("facebook", [usage], now).next_send_at == now + timedelta(seconds=60)
