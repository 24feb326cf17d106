"""The shared HTTP helpers: what a failure on the wire means for the worker, and how long to wait."""
from __future__ import annotations

import socket
import threading
import time
from email.utils import formatdate

import pytest
import requests
from werkzeug.wrappers import Response

from desk.platforms.base import AMBIGUOUS, AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError
from desk.platforms.http import generic_error, json_body, retry_after_seconds, send
from tests.fakes.server import FakeServer

NOW = 1_800_000_000.0


def _clock():
    return NOW


@pytest.mark.parametrize("headers,expected", [
    ({"Retry-After": "30"}, 30.0),
    ({"Retry-After": formatdate(NOW + 120, usegmt=True)}, 120.0),
    ({"Retry-After": formatdate(NOW - 50, usegmt=True)}, 0.0),  # a date already past: go now
    ({"x-rate-limit-reset": str(int(NOW) + 600)}, 600.0),
    ({"Retry-After": "soon", "x-rate-limit-reset": str(int(NOW) + 60)}, 60.0),  # unreadable: fall back
    ({"Retry-After": "45", "x-rate-limit-reset": str(int(NOW) + 600)}, 45.0),  # Retry-After wins
    ({}, None),
])
def test_retry_after(headers, expected):
    assert retry_after_seconds(headers, _clock) == expected


def _slow_app(environ, start_response):
    time.sleep(float(environ.get("QUERY_STRING", "").partition("=")[2] or 0))
    return Response('{"ok": true}', mimetype="application/json")(environ, start_response)


@pytest.fixture
def slow_server():
    with FakeServer(_slow_app) as server:
        yield server


def _error(method, url, **kw) -> PlatformError:
    with requests.Session() as s, pytest.raises(PlatformError) as caught:
        send(s, method, url, label="Testplatform", **kw)
    return caught.value


def test_a_reply_comes_back_whatever_its_status(slow_server):
    with requests.Session() as s:
        response = send(s, "GET", slow_server.url + "/", label="Testplatform", timeout=(2, 2))
    assert json_body(response) == {"ok": True}


def test_read_timeout_after_a_post_is_ambiguous(slow_server):
    error = _error("POST", slow_server.url + "/?wait=0.6", timeout=(2, 0.2), json={"text": "hello"})
    assert error.error_class == AMBIGUOUS and error.code == "timeout"
    assert "check" in error.message and "twice" in error.message


def test_read_timeout_on_a_get_or_delete_is_just_retried(slow_server):
    assert _error("GET", slow_server.url + "/?wait=0.6", timeout=(2, 0.2)).error_class == TRANSIENT
    assert _error("DELETE", slow_server.url + "/?wait=0.6", timeout=(2, 0.2)).error_class == TRANSIENT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_never_left_so_it_is_transient():
    error = _error("POST", f"http://127.0.0.1:{_free_port()}/2/tweets", timeout=(1, 1), json={})
    assert error.error_class == TRANSIENT and error.code == "connect" and "nothing was sent" in error.message


class _ConnectTimeoutAdapter(requests.adapters.HTTPAdapter):
    """What requests raises when no connection opens in time (unreachable on loopback, so raised here)."""

    def send(self, request, **kwargs):
        raise requests.ConnectTimeout("connect timed out", request=request)


def test_a_connect_timeout_is_transient_even_for_a_post():
    with requests.Session() as s, pytest.raises(PlatformError) as caught:
        s.mount("http://", _ConnectTimeoutAdapter())
        send(s, "POST", "http://127.0.0.1:9/2/tweets", label="Testplatform", json={})
    assert caught.value.error_class == TRANSIENT and caught.value.code == "connect"


@pytest.fixture
def hangup_server():
    """Reads the whole request, then closes the connection without a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                conn.recv(65536)
            except OSError:
                pass
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    listener.close()


def test_a_connection_dropped_after_sending_a_post_is_ambiguous(hangup_server):
    error = _error("POST", hangup_server + "/2/tweets", timeout=(1, 1), json={"text": "hello"})
    assert error.error_class == AMBIGUOUS and error.code == "dropped"


def test_a_connection_dropped_on_a_get_is_transient(hangup_server):
    assert _error("GET", hangup_server + "/2/users/me", timeout=(1, 1)).error_class == TRANSIENT


def _response(status, headers=None, body=b"{}"):
    r = requests.Response()
    r.status_code, r._content = status, body
    r.headers.update(headers or {})
    return r


@pytest.mark.parametrize("status,error_class", [
    (429, RATE_LIMITED), (500, TRANSIENT), (502, TRANSIENT), (503, TRANSIENT), (504, TRANSIENT),
    (401, AUTH), (400, PERMANENT), (403, PERMANENT), (404, PERMANENT),
])
def test_generic_classes_by_status(status, error_class):
    error = generic_error(_response(status, {"Retry-After": "90"}), "Testplatform", now=_clock)
    assert error.error_class == error_class and error.code == str(status)
    if status == 429:
        assert error.retry_after == 90.0 and "2 minute" in error.message


def test_json_body_tolerates_html_and_lists():
    assert json_body(_response(502, body=b"<html>Bad gateway</html>")) == {}
    assert json_body(_response(200, body=b"[1, 2]")) == {"data": [1, 2]}
