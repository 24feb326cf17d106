"""Pacing rules from what platforms say in their headers; plain Python, plus the HTTP helper that feeds them."""
from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from desk.domain import rate_limits as rl
from desk.platforms import http

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def unix(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def after_call(platform, responses, now=NOW, **kwargs):
    """Headers that name a moment are read against the real clock; here the real clock is NOW too."""
    return rl.after_call(platform, responses, now, wall=NOW, **kwargs)


def test_a_moment_in_a_header_is_a_wait_counted_from_the_desks_now():
    frozen = NOW - timedelta(days=100)  # a test's frozen clock, or a desk whose clock is not the platform's
    reset = NOW + timedelta(minutes=5)
    pacing = rl.after_call("x", [{"x-rate-limit-remaining": "0", "x-rate-limit-reset": unix(reset)}], frozen,
                           wall=NOW)
    assert pacing.next_send_at == frozen + timedelta(minutes=5)


def test_without_headers_each_platform_keeps_its_small_default_spacing():
    assert after_call("x", [], NOW).next_send_at == NOW + timedelta(seconds=1)
    assert after_call("training", [], NOW).next_send_at == NOW
    assert after_call("something-new", [], NOW).next_send_at == NOW + timedelta(seconds=rl.FALLBACK_SPACING)


def test_x_budget_spent_waits_for_the_reset():
    reset = NOW + timedelta(minutes=12)
    pacing = after_call("x", [{"x-rate-limit-remaining": "0", "x-rate-limit-reset": unix(reset)}], NOW)
    assert pacing.next_send_at == reset and pacing.remaining == 0 and pacing.reset_at == reset


def test_x_budget_left_is_spread_evenly_until_the_reset():
    reset = NOW + timedelta(seconds=300)
    pacing = after_call("x", [{"X-Rate-Limit-Remaining": "10", "X-Rate-Limit-Reset": unix(reset)}], NOW)
    assert pacing.next_send_at == NOW + timedelta(seconds=30) and pacing.remaining == 10
    plenty = after_call("x", [{"x-rate-limit-remaining": "5000", "x-rate-limit-reset": unix(reset)}], NOW)
    assert plenty.next_send_at == NOW + timedelta(seconds=1)  # never faster than the default spacing


def test_x_reset_already_past_means_the_default_spacing():
    past = NOW - timedelta(seconds=5)
    pacing = after_call("x", [{"x-rate-limit-remaining": "0", "x-rate-limit-reset": unix(past)}], NOW)
    assert pacing.next_send_at == NOW + timedelta(seconds=1)


def test_the_most_restrictive_of_several_responses_wins():
    upload = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": unix(NOW + timedelta(minutes=3))}
    post = {"x-rate-limit-remaining": "50", "x-rate-limit-reset": unix(NOW + timedelta(minutes=15))}
    pacing = after_call("x", [upload, post], NOW)
    assert pacing.next_send_at == NOW + timedelta(minutes=3)
    assert pacing.remaining == 50  # the budget stored is the last response's


@pytest.mark.parametrize("used, wait", [(10, 1), (76, 10), (88, 60), (99, 600)])
def test_facebook_app_usage_slows_down_as_the_hour_fills(used, wait):
    headers = {"X-App-Usage": json.dumps({"call_count": used, "total_cputime": 1, "total_time": 2})}
    assert after_call("facebook", [headers], NOW).next_send_at == NOW + timedelta(seconds=wait)


def test_facebook_business_use_case_usage_and_its_time_to_regain_access_in_minutes():
    buc = {"1234": [{"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30,
                     "estimated_time_to_regain_access": 25}]}
    pacing = after_call("facebook", [{"X-Business-Use-Case-Usage": json.dumps(buc)}], NOW)
    assert pacing.next_send_at == NOW + timedelta(minutes=25)
    calm = {"1234": [{"type": "pages", "call_count": 3, "estimated_time_to_regain_access": 0}]}
    assert after_call("facebook", [{"x-business-use-case-usage": json.dumps(calm)}], NOW).next_send_at \
        == NOW + timedelta(seconds=1)


def test_facebook_headers_that_are_not_json_are_ignored():
    assert after_call("facebook", [{"X-App-Usage": "{broken"}], NOW).next_send_at == NOW + timedelta(seconds=1)


def test_retry_after_as_seconds_and_as_an_http_date_pushes_the_channel():
    assert after_call("x", [{"Retry-After": "120"}], NOW).next_send_at == NOW + timedelta(seconds=120)
    when = NOW + timedelta(minutes=7)
    dated = after_call("flickr", [{"Retry-After": format_datetime(when, usegmt=True)}], NOW)
    assert dated.next_send_at == when
    assert after_call("youtube", [], NOW, retry_after=45).next_send_at == NOW + timedelta(seconds=45)


def test_retry_after_seconds_reads_both_forms_and_the_x_reset():
    t = NOW.timestamp()
    assert rl.retry_after_seconds({"Retry-After": "30"}, t) == 30
    assert rl.retry_after_seconds({"retry-after": format_datetime(NOW + timedelta(seconds=90), usegmt=True)}, t) == 90
    assert rl.retry_after_seconds({"x-rate-limit-reset": unix(NOW + timedelta(seconds=40))}, t) == 40
    assert rl.retry_after_seconds({"Retry-After": "soon"}, t) is None
    assert rl.retry_after_seconds({}, t) is None


def test_a_header_never_parks_a_channel_for_more_than_a_day():
    far = NOW + timedelta(days=30)
    pacing = after_call("x", [{"x-rate-limit-remaining": "0", "x-rate-limit-reset": unix(far)}], NOW)
    assert pacing.next_send_at == NOW + rl.LONGEST_WAIT


def test_observing_collects_only_inside_its_context():
    rl.observe({"x-rate-limit-remaining": "1"})  # nobody observing: nothing kept, nothing raised
    with rl.observing() as seen:
        rl.observe({"X-Rate-Limit-Remaining": "3"})
    rl.observe({"x-rate-limit-remaining": "2"})
    assert seen == [{"x-rate-limit-remaining": "3"}]


class _Limited(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the standard library's name)
        self.send_response(429)
        self.send_header("Retry-After", "17")
        self.send_header("x-rate-limit-remaining", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_http_helper_feeds_every_response_to_the_observer():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Limited)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with requests.Session() as session, rl.observing() as seen:
            response = http.send(session, "POST", f"http://127.0.0.1:{server.server_port}/2/tweets", label="X")
        assert response.status_code == 429
        assert seen and seen[0]["retry-after"] == "17"
        assert after_call("x", seen, NOW).next_send_at == NOW + timedelta(seconds=17)
    finally:
        server.shutdown()
        server.server_close()
