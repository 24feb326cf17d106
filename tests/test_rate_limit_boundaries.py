"""Pacing at its edges: each platform's default spacing, each of Facebook's usage counters (calls, CPU time,
total time) and the exact percentages where it slows down, a time to regain access of one minute, headers
that say nothing usable, waits in the past, and what is stored when X said nothing. tests/test_rate_limits.py
has the rest.
"""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from desk.domain import rate_limits as rl

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def after_call(platform, responses, **kwargs):
    return rl.after_call(platform, responses, NOW, wall=NOW, **kwargs)


def wait_after(platform, responses, **kwargs) -> float:
    return (after_call(platform, responses, **kwargs).next_send_at - NOW).total_seconds()


def app_usage(**usage) -> dict[str, str]:
    return {"X-App-Usage": json.dumps(usage)}


def business_usage(*usages, business="1234") -> dict[str, str]:
    return {"X-Business-Use-Case-Usage": json.dumps({business: list(usages)})}


@pytest.mark.parametrize("platform, seconds", [
    ("training", 0), ("x", 1), ("facebook", 1), ("youtube", 1), ("flickr", 1), ("mastodon", 1),
])
def test_each_platform_waits_its_own_small_spacing_when_nothing_was_said(platform, seconds):
    assert wait_after(platform, []) == seconds


def test_when_x_said_nothing_of_its_budget_nothing_is_stored():
    pacing = after_call("x", [{"content-type": "application/json"}])
    assert pacing.remaining is None and pacing.reset_at is None


@pytest.mark.parametrize("counter", ["call_count", "total_cputime", "total_time"])
@pytest.mark.parametrize("used, seconds", [(74, 1), (75, 10), (84, 10), (85, 60), (94, 60), (95, 600), (100, 600)])
def test_each_facebook_counter_alone_slows_the_channel_from_75_85_and_95_percent(counter, used, seconds):
    others = {c: 1 for c in ("call_count", "total_cputime", "total_time") if c != counter}
    assert wait_after("facebook", [app_usage(**{counter: used}, **others)]) == seconds
    assert wait_after("facebook", [business_usage({"type": "pages", counter: used, **others})]) == seconds


def test_the_cpu_time_counter_counts_even_when_few_calls_were_made():
    usage = {"call_count": 3, "total_cputime": 96, "total_time": 40}
    assert wait_after("facebook", [business_usage({"type": "pages", **usage})]) == 600
    assert wait_after("facebook", [app_usage(**usage)]) == 600


def test_only_the_three_counters_are_percentages_of_the_budget():
    usage = {"type": "pages", "call_count": 10, "total_cputime": 5, "total_time": 5,
             "estimated_time_to_regain_access": 0, "reset_time_duration": 3000}
    assert wait_after("facebook", [business_usage(usage)]) == 1
    assert wait_after("facebook", [app_usage(call_count="99", total_cputime=None)]) == 1  # not numbers


def test_a_usage_without_any_counter_is_no_reason_to_wait():
    assert wait_after("facebook", [business_usage({"type": "pages", "estimated_time_to_regain_access": 0})]) == 1


def test_the_busiest_business_and_the_longest_time_to_regain_access_decide():
    busy = {"1": [{"type": "pages", "call_count": 90}], "2": [{"type": "pages", "call_count": 10}]}
    assert wait_after("facebook", [{"x-business-use-case-usage": json.dumps(busy)}]) == 60
    assert wait_after("facebook", [business_usage({"call_count": 1, "estimated_time_to_regain_access": 1})]) == 60
    assert wait_after("facebook", [business_usage({"call_count": 99, "estimated_time_to_regain_access": 30})]) == 1800
    # A time to regain access that is not a number of minutes is no time at all.
    assert wait_after("facebook", [business_usage({"call_count": 1, "estimated_time_to_regain_access": "25"})]) == 1


def test_facebook_usage_that_is_not_an_object_is_ignored():
    assert wait_after("facebook", [{"X-App-Usage": json.dumps([{"call_count": 99}])}]) == 1
    assert wait_after("facebook", [{"X-Business-Use-Case-Usage": json.dumps({"1": ["not a usage", 99]})}]) == 1
    assert wait_after("facebook", [{"X-App-Usage": ""}]) == 1


def test_an_x_budget_needs_both_the_remaining_calls_and_the_reset_as_numbers():
    reset = str(int((NOW + timedelta(minutes=5)).timestamp()))
    for headers in ({"x-rate-limit-remaining": "0"}, {"x-rate-limit-reset": reset},
                    {"x-rate-limit-remaining": "none", "x-rate-limit-reset": reset},
                    {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "soon"}):
        pacing = after_call("x", [headers])
        assert pacing.next_send_at == NOW + timedelta(seconds=1) and pacing.remaining is None


def test_an_x_budget_whose_reset_has_passed_is_stored_and_waits_nothing_extra():
    past = NOW - timedelta(seconds=30)
    pacing = after_call("x", [{"x-rate-limit-remaining": "7", "x-rate-limit-reset": str(int(past.timestamp()))}])
    assert pacing.next_send_at == NOW + timedelta(seconds=1)
    assert pacing.remaining == 7 and pacing.reset_at == past


def test_a_retry_after_in_the_past_or_below_zero_waits_nothing():
    t = NOW.timestamp()
    assert rl.retry_after_seconds({"Retry-After": format_datetime(NOW - timedelta(minutes=5), usegmt=True)}, t) == 0
    assert rl.retry_after_seconds({"x-rate-limit-reset": str(int(t) - 60)}, t) == 0
    assert wait_after("training", [], retry_after=-5) == 0
    assert wait_after("training", [], retry_after=0.5) == 0.5


def test_a_retry_after_date_without_a_zone_is_not_read_as_a_date():
    assert rl.retry_after_seconds({"Retry-After": "Mon, 01 Jun 2026 09:05:00 -0000"}, NOW.timestamp()) is None
    # ... and then an x-rate-limit-reset alongside it is what counts.
    reset = {"Retry-After": "Mon, 01 Jun 2026 09:05:00 -0000", "x-rate-limit-reset": str(int(NOW.timestamp()) + 40)}
    assert rl.retry_after_seconds(reset, NOW.timestamp()) == 40


def test_a_retry_after_is_counted_from_the_real_clock_when_no_moment_is_given():
    soon = datetime.now(UTC) + timedelta(seconds=120)
    waited = rl.retry_after_seconds({"Retry-After": format_datetime(soon, usegmt=True)})
    assert 115 <= waited <= 120
    reset = {"x-rate-limit-reset": str(int(time.time()) + 90)}
    assert 85 <= rl.retry_after_seconds(reset) <= 90
    assert rl.retry_after_seconds({"Retry-After": "30"}) == 30


def test_a_retry_after_header_on_any_response_pushes_the_channel_but_a_reset_alone_does_not():
    reset = str(int((NOW + timedelta(minutes=10)).timestamp()))
    spread = {"x-rate-limit-remaining": "100", "x-rate-limit-reset": reset}
    assert wait_after("x", [spread]) == 6
    assert wait_after("x", [spread, {"retry-after": "45"}]) == 45


def test_observing_again_after_an_error_starts_empty_and_stops_collecting():
    with pytest.raises(RuntimeError), rl.observing() as seen:
        rl.observe({"A": "1"})
        raise RuntimeError("the call failed")
    assert seen == [{"a": "1"}]
    rl.observe({"B": "2"})
    assert seen == [{"a": "1"}]
    with rl.observing() as again:
        rl.observe({"C": 3})
    assert again == [{"c": "3"}]
