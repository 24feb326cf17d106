"""Serve a WSGI app on 127.0.0.1, on a free port, in a thread; record every request it receives."""
from __future__ import annotations

import io
import threading
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


class FakeServer:
    """Start with `start()` (or use as a context manager); `url` is its base URL, `requests` what it got."""

    def __init__(self, app):
        self.app = app
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

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
        with self._lock:
            self.requests.append(Recorded(request.method, request.path, request.args.to_dict(),
                                          dict(request.headers), body, form, files))
        return self.app(environ, start_response)

    def start(self) -> "FakeServer":
        self._server = make_server("127.0.0.1", 0, self._recording_app, threaded=True,
                                   request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
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

    def __enter__(self) -> "FakeServer":
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
