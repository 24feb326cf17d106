"""The fake servers' own controls, which the process tests and the benchmark rely on: latency, and a
request held before or after the app handles it."""
from __future__ import annotations

import json
import threading
import time

import requests
from werkzeug.wrappers import Response

from tests.fakes.server import FakeServer


class Store:
    """An app that keeps what it is sent, as a platform stores a post."""

    def __init__(self):
        self.kept = []

    def __call__(self, environ, start_response):
        self.kept.append(environ["PATH_INFO"])
        return Response(json.dumps({"kept": len(self.kept)}), mimetype="application/json")(environ, start_response)


def _in_background(call):
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("response", call()), daemon=True)
    thread.start()
    return thread, out


def test_held_before_the_app_sees_it_and_dropped_without_a_trace():
    app = Store()
    with FakeServer(app) as server:
        held = server.stall("POST", "/2/tweets", when="before")
        thread, out = _in_background(lambda: requests.post(server.url + "/2/tweets", timeout=5))
        assert held.wait_arrived(5)
        assert app.kept == [] and held.request.path == "/2/tweets"
        held.release(handle=False)
        thread.join(5)
        assert out["response"].status_code == 502 and app.kept == []


def test_held_after_the_app_handled_it_with_the_answer_kept_back():
    app = Store()
    with FakeServer(app) as server:
        held = server.stall("POST", r"^/2/media/upload/\d+/append", when="after", skip=1)
        assert requests.post(server.url + "/2/media/upload/7/append", timeout=5).json() == {"kept": 1}  # skipped
        thread, out = _in_background(lambda: requests.post(server.url + "/2/media/upload/7/append", timeout=5))
        assert held.wait_arrived(5)
        assert len(app.kept) == 2 and "response" not in out  # stored, not yet answered
        held.release()
        thread.join(5)
        assert out["response"].json() == {"kept": 2}
        assert requests.post(server.url + "/2/media/upload/7/append", timeout=5).ok  # one request per stall


def test_latency_delays_every_request_and_stop_frees_a_held_one():
    with FakeServer(Store(), latency=0.2) as server:
        started = time.monotonic()
        requests.get(server.url + "/anything", timeout=5)
        assert time.monotonic() - started >= 0.2
        server.latency = 0
        held = server.stall(None, "/slow")
        thread, out = _in_background(lambda: requests.get(server.url + "/slow", timeout=5))
        assert held.wait_arrived(5)
    thread.join(5)
    assert not thread.is_alive() and out["response"].status_code == 502
