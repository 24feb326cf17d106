"""One HTTP session for one piece of an adapter's work, shared by the OAuth 2.0 platforms.

Access tokens are refreshed just before they expire and once after a 401, where the channel's tokens can be
refreshed at all (the publisher says so with `can_refresh`); the session is closed at the end.
"""
from __future__ import annotations

from .http import send


class SessionJob:
    def __init__(self, publisher, credentials: dict | None = None):
        self.publisher = publisher
        self.credentials = credentials if credentials is not None else publisher.credentials()
        self.session = None
        self.retried_auth = False

    def __enter__(self):
        p, c = self.publisher, self.credentials
        if p.can_refresh(c) and float(c.get("expires_at") or 0) < p.clock() + 60:
            self.credentials = p.refresh_credentials(c)
        self.session = p.open_session(self.credentials)
        return self

    def __exit__(self, *exc) -> None:
        self.session.close()

    def request(self, method: str, url: str, *, idempotent: bool | None = None, timeout=None, **kwargs):
        """The platform's response whatever its status (after one refresh on a 401). `timeout`: the
        context's unless given (the fence gives the creating call its own)."""
        p = self.publisher
        full = p.settings.api_base + url if url.startswith("/") else url
        response = send(self.session, method, full, label=p.label, timeout=timeout or p.context.timeout,
                        idempotent=idempotent, **kwargs)
        if response.status_code == 401 and not self.retried_auth and p.can_refresh(self.credentials):
            self.retried_auth = True
            self.credentials = p.refresh_credentials(self.credentials)
            self.session.close()
            self.session = p.open_session(self.credentials)
            return self.request(method, url, idempotent=idempotent, timeout=timeout, **kwargs)
        return response
