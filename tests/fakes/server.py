"""Serve a WSGI app on 127.0.0.1, on a free port, in a thread; record every request it receives.

Tests that need a platform to be slow set `latency`; tests that need to act at an exact point of a request
(kill a worker while the platform holds its post, before or after storing it) use `stall()`.
"""
from __future__ import annotations

import io
import re
import threading
import time
from dataclasses import dataclass, field

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # the tests assert on `requests`, not on a log
        pass


@dataclass
class Recorded:
    """One request as it went over the wire."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    form: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)  # field name -> bytes

    @property
    def json(self):
        import json

        return json.loads(self.body) if self.body else None


class Stall:
    """One matching request held at the fake: `arrived` is set when it is held, `release()` lets it go.

    With when="before" the app has not seen it yet; `release(handle=False)` then answers 502 without ever
    passing it to the app (its sender is usually dead by then, and must leave no trace on the platform).
    With when="after" the app has ALREADY handled it (the post is stored) and the fake holds the answer.
    """

    def __init__(self, method: str | None, path, when: str, skip: int = 0):
        if when not in ("before", "after"):
            raise ValueError("when is 'before' or 'after'")
        self.method, self.when, self.skip = method, when, skip
        self.path = re.compile(path) if isinstance(path, str) and path.startswith("^") else path
        self.arrived = threading.Event()
        self.request: Recorded | None = None
        self._released = threading.Event()
        self._handle = True

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and method != self.method:
            return False
        if self.path is None:
            return True
        if isinstance(self.path, re.Pattern):
            return self.path.fullmatch(path) is not None
        return path == self.path

    def release(self, handle: bool = True) -> None:
        self._handle = handle
        self._released.set()

    def wait_arrived(self, timeout: float) -> bool:
        return self.arrived.wait(timeout)


class FakeServer:
    """Start with `start()` (or use as a context manager); `url` is its base URL, `requests` what it got.

    `latency`: seconds slept before each request is handled (a platform far away or under load).
    `stall(method, path, when)`: hold the next matching request; see `Stall`. A path starting with "^" is a
    regular expression matched against the whole path (e.g. r"^/2/media/upload/\\d+/append").
    """

    def __init__(self, app, latency: float = 0.0):
        self.app = app
        self.latency = latency
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stalls: list[Stall] = []
        self._held: list[Stall] = []
        self._server = None
        self._thread = None

    def stall(self, method: str | None, path, when: str = "before", skip: int = 0) -> Stall:
        """Hold the next request that matches, after letting `skip` of them through (one request per
        stall; ask again for another)."""
        held = Stall(method, path, when, skip)
        with self._lock:
            self._stalls.append(held)
        return held

    def _take_stall(self, method: str, path: str) -> Stall | None:
        with self._lock:
            held = next((h for h in self._stalls if h.matches(method, path)), None)
            if held is not None and held.skip > 0:
                held.skip -= 1
                return None
            if held is not None:
                self._stalls.remove(held)
                self._held.append(held)
            return held

    def _dispatch(self, environ, start_response, recorded: Recorded):
        held = self._take_stall(recorded.method, recorded.path)
        if held is None:
            return self.app(environ, start_response)
        held.request = recorded
        if held.when == "before":
            held.arrived.set()
            held._released.wait()
            if not held._handle:
                start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
                return [b"dropped by the test"]
            return self.app(environ, start_response)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)
            return lambda data: captured.setdefault("written", []).append(data)

        body = self.app(environ, capture)
        try:
            chunks = captured.pop("written", []) + list(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        held.arrived.set()
        held._released.wait()
        start_response(captured["status"], captured["headers"])
        return chunks

    def _recording_app(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(cache=True)
        form, files = {}, {}
        if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = request.form.to_dict()
            files = {name: f.read() for name, f in request.files.items()}
            for f in request.files.values():
                f.seek(0)
        environ["wsgi.input"] = io.BytesIO(body)  # the app reads the body again
        environ["CONTENT_LENGTH"] = str(len(body))
        recorded = Recorded(request.method, request.path, request.args.to_dict(), dict(request.headers), body,
                            form, files)
        with self._lock:
            self.requests.append(recorded)
        if self.latency:
            time.sleep(self.latency)
        return self._dispatch(environ, start_response, recorded)

    def start(self) -> FakeServer:
        self._server = make_server("127.0.0.1", 0, self._recording_app, threaded=True,
                                   request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:  # a held request must not keep its thread alive past the server
            for held in self._stalls + self._held:
                held.release(handle=False)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def received(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method) and (path is None or r.path == path)]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def take_fault(faults: list, lock, matches):
    """The first queued fault `matches` accepts, used up by one (and dropped when spent); None if none.
    A fault with `skip` left lets that many matching requests through first."""
    with lock:
        fault = next((f for f in faults if matches(f)), None)
        if fault is None:
            return None
        if getattr(fault, "skip", 0) > 0:
            fault.skip -= 1
            return None
        fault.times -= 1
        if fault.times <= 0:
            faults.remove(fault)
        return fault
