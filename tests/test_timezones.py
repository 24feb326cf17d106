"""Local time <-> UTC in the desk's zone, and the refusals at the clock changes."""
from datetime import UTC, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from desk.domain.errors import ValidationFailed
from desk.domain.timezones import (
    AmbiguousLocalTime,
    NonexistentLocalTime,
    display,
    local_to_utc,
    parse_iso,
    parse_local,
)

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("local, utc", [
    (datetime(2026, 1, 15, 9, 0), datetime(2026, 1, 15, 9, 0, tzinfo=UTC)),      # GMT
    (datetime(2026, 7, 15, 9, 0), datetime(2026, 7, 15, 8, 0, tzinfo=UTC)),      # BST
    (datetime(2026, 3, 29, 0, 59), datetime(2026, 3, 29, 0, 59, tzinfo=UTC)),    # last GMT minute
    (datetime(2026, 3, 29, 2, 0), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),      # first BST minute
    (datetime(2026, 10, 25, 0, 59), datetime(2026, 10, 24, 23, 59, tzinfo=UTC)),
    (datetime(2026, 10, 25, 2, 0), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
])
def test_ordinary_times_convert(local, utc):
    assert local_to_utc(local, LONDON) == utc


@pytest.mark.parametrize("minute", [0, 30, 59])
def test_time_skipped_by_clocks_going_forward_is_refused(minute):
    with pytest.raises(NonexistentLocalTime) as exc:
        local_to_utc(datetime(2026, 3, 29, 1, minute), LONDON)
    message = exc.value.message
    assert "does not exist" in message and "forward" in message
    assert f"00:{minute:02d} GMT" in message and f"02:{minute:02d} BST" in message


@pytest.mark.parametrize("minute", [0, 30, 59])
def test_time_repeated_by_clocks_going_back_is_refused(minute):
    with pytest.raises(AmbiguousLocalTime) as exc:
        local_to_utc(datetime(2026, 10, 25, 1, minute), LONDON)
    assert "happens twice" in exc.value.message and "back" in exc.value.message


def test_other_zones_have_their_own_changes():
    new_york = ZoneInfo("America/New_York")
    with pytest.raises(NonexistentLocalTime):
        local_to_utc(datetime(2026, 3, 8, 2, 30), new_york)
    assert local_to_utc(datetime(2026, 3, 29, 1, 30), new_york).hour == 5


def test_parse_local_accepts_form_formats_and_explains_bad_input():
    assert parse_local("2026-07-15T09:00", LONDON) == datetime(2026, 7, 15, 8, 0, tzinfo=UTC)
    assert parse_local("2026-07-15 09:00", LONDON) == datetime(2026, 7, 15, 8, 0, tzinfo=UTC)
    with pytest.raises(ValidationFailed) as exc:
        parse_local("tomorrow at nine", LONDON)
    assert "YYYY-MM-DD HH:MM" in exc.value.message


def test_parse_iso_needs_an_offset():
    assert parse_iso("2026-07-15T09:00:00+01:00") == datetime(2026, 7, 15, 8, 0, tzinfo=UTC)
    assert parse_iso("2026-07-15T08:00:00Z") == datetime(2026, 7, 15, 8, 0, tzinfo=UTC)
    with pytest.raises(ValidationFailed) as exc:
        parse_iso("2026-07-15T09:00:00")
    assert "offset" in exc.value.message


def test_display_shows_local_time_and_zone_name():
    assert display(datetime(2026, 7, 15, 8, 0, tzinfo=UTC), LONDON) == "Wed 15 Jul 2026 09:00 BST"
    assert display(datetime(2026, 1, 15, 8, 0, tzinfo=UTC), LONDON) == "Thu 15 Jan 2026 08:00 GMT"
    assert display(None, LONDON) == ""
