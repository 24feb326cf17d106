"""A fake Facebook (login dialog + Graph API) that follows the contract in shared/PLATFORMS.md.

It checks what Facebook checks: the API version in the path; the app id and secret on both token
exchanges, the redirect_uri of the code exchange against the dialog's, codes used once; the access token on
every Graph call (Authorization header, or the access_token parameter), with its appsecret_proof; a Page
token for Page endpoints and for objects of that Page; the permissions granted at the dialog. Errors come
in Graph's shape: `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`, HTTP 400.

Faults, for the tests: `error_next` (any Graph error, with headers), `rate_limit_next` (a throttling code
with X-App-Usage / X-Business-Use-Case-Usage), `fail_next` (a bare 5xx), `delay_next` (a slow answer; the
request still takes effect, as on Facebook), `expire_tokens(subcode)` (error 190), `decline` (permissions
unticked at the dialog), `deny_next_consent`.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from tests.fakes.server import take_fault

SCOPES = ("pages_show_list", "pages_manage_posts", "pages_read_engagement", "publish_video")
LONG_LIVED = 5183944
EXPIRED_WORDS = {458: "The user has not authorized application.", 459: "The user is enrolled in a blocking, "
                 "logged-in checkpoint", 460: "The session has been invalidated because the user changed their "
                 "password.", 463: "Session has expired on Friday, 20-Nov-26 10:00:00 PST.",
                 464: "Sessions for the user are not allowed because the user is not a confirmed user.",
                 467: "The user has logged out."}
METRICS = {"post_media_view", "post_reactions_by_type_total", "post_clicks"}


@dataclass
class Page:
    id: str
    name: str
    category: str = "Government organization"
    tasks: tuple[str, ...] = ("ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE")
    username: str | None = None
    tokens: set[str] = field(default_factory=set)  # every Page token handed out, each valid until revoked

    def new_token(self) -> str:
        token = "EAAPage" + secrets.token_hex(12)
        self.tokens.add(token)
        return token


def default_pages() -> list[Page]:
    return [Page("101000000000001", "Metropolitan Police Events", username="metpoliceevents"),
            Page("101000000000002", "Met Police Roads and Transport"),
            Page("101000000000003", "Met Police Archive", category="Community", tasks=("ANALYZE",))]


@dataclass
class Fault:
    kind: str  # "error", "status", "delay"
    times: int
    path: str | None = None
    method: str | None = None
    status: int = 400
    error: dict | None = None
    headers: dict = field(default_factory=dict)
    seconds: float = 0.0

    def applies(self, method: str, path: str) -> bool:
        return (self.path is None or path.startswith(self.path)) and (self.method is None or method == self.method)


def graph_error(code: int, message: str, subcode: int | None = None, status: int = 400, kind: str = "OAuthException",
                headers: dict | None = None) -> Response:
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": "A" + secrets.token_hex(8)}
    if subcode:
        error["error_subcode"] = subcode
    return _json({"error": error}, status, headers)


def _json(body, status=200, headers=None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(when))


@dataclass
class FakeFacebook:
    app_id: str = "100200300400500"
    app_secret: str = "fake-app-secret"
    version: str = "v26.0"
    user_id: str = "10150000000000042"
    user_name: str = "Press Office Admin"
    pages: list[Page] = field(default_factory=default_pages)
    require_proof: bool = True
    page_size: int = 2  # /me/accounts answers in pages of this size, to make the desk follow the cursor

    def __post_init__(self):
        self.lock = threading.RLock()
        self.ids = itertools.count(900000000000001)
        self.codes: dict[str, dict] = {}
        self.user_tokens: dict[str, dict] = {}   # token -> {"long": bool, "scopes": set}
        self.dead_tokens: dict[str, int] = {}     # token -> the 190 subcode it now gets
        self.objects: dict[str, dict] = {}        # posts, photos and videos by id
        self.faults: list[Fault] = []
        self.declined: set[str] = set()
        self.deny_next_consent = False
        self.granted: set[str] = set(SCOPES)

    # ---- what tests call -------------------------------------------------------------------------------

    def error_next(self, code: int, message: str = "An error occurred.", subcode: int | None = None,
                   status: int = 400, path: str | None = None, method: str | None = None, times: int = 1,
                   headers: dict | None = None, kind: str = "OAuthException"):
        error = {"message": message, "type": kind, "code": code, "fbtrace_id": "AfakeTrace"}
        if subcode:
            error["error_subcode"] = subcode
        self.faults.append(Fault("error", times, path, method, status, error, dict(headers or {})))

    def rate_limit_next(self, code: int = 32, minutes: int | None = None, **where):
        headers = {"X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 40, "total_time": 60})}
        if minutes is not None:
            page = self.pages[0].id
            headers["X-Business-Use-Case-Usage"] = json.dumps({page: [{
                "type": "pages", "call_count": 100, "total_cputime": 30, "total_time": 40,
                "estimated_time_to_regain_access": minutes}]})
        self.error_next(code, "(#%d) Application request limit reached" % code, headers=headers, **where)

    def fail_next(self, status: int = 503, times: int = 1, path: str | None = None, method: str | None = None):
        self.faults.append(Fault("status", times, path, method, status))

    def delay_next(self, seconds: float, times: int = 1, path: str | None = None, method: str | None = None):
        self.faults.append(Fault("delay", times, path, method, seconds=seconds))

    def expire_tokens(self, subcode: int = 463):
        with self.lock:
            for token in list(self.user_tokens) + [t for p in self.pages for t in p.tokens]:
                self.dead_tokens[token] = subcode

    def decline(self, *scopes: str):
        self.declined = set(scopes)

    def live(self, kind: str = "post") -> list[dict]:
        return [o for o in self.objects.values() if o["kind"] == kind and not o["deleted"]]

    def page(self, page_id: str) -> Page | None:
        return next((p for p in self.pages if p.id == page_id), None)

    # ---- WSGI ------------------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self._handle(request)
        response.headers.setdefault("X-App-Usage", json.dumps({"call_count": 1, "total_cputime": 1, "total_time": 1}))
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        m = re.fullmatch(r"/(v\d+\.\d+)(/.*)", request.path)
        if m is None or m[1] != self.version:
            return graph_error(2635, f"(#2635) You are calling a deprecated version of the Graph API. Please update "
                               f"to the latest version: {self.version}.")
        path, method = m[2], request.method
        fault = take_fault(self.faults, self.lock, lambda f: f.applies(method, path))
        if fault is not None and fault.kind == "error":
            return _json({"error": fault.error}, fault.status, fault.headers)
        if fault is not None and fault.kind == "status":
            return Response("<html><body>Sorry, something went wrong.</body></html>", fault.status,
                            mimetype="text/html")
        if fault is not None:
            time.sleep(fault.seconds)
        if path == "/dialog/oauth":
            return self._dialog(request)
        if path == "/oauth/access_token":
            return self._exchange(request)
        from tests.fakes.fake_facebook_graph import route  # the Graph objects: posts, photos, videos

        return route(self, request, path, method)

    # ---- the login dialog and the token exchanges ----------------------------------------------------

    def _dialog(self, request: Request) -> Response:
        a = request.args
        if a.get("client_id") != self.app_id or not a.get("redirect_uri"):
            return Response("Invalid App ID: The provided app ID does not look like a valid app ID.", 400)
        back = a["redirect_uri"] + ("&" if "?" in a["redirect_uri"] else "?")
        if self.deny_next_consent:
            self.deny_next_consent = False
            return Response(status=302, headers={"Location": back + urlencode({
                "error": "access_denied", "error_code": 200, "error_description": "Permissions error",
                "error_reason": "user_denied", "state": a.get("state", "")}) + "#_=_"})
        asked = {s for s in re.split(r"[,\s]+", a.get("scope", "")) if s}
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = {"redirect_uri": a["redirect_uri"], "scopes": asked - self.declined, "asked": asked}
        return Response(status=302, headers={"Location": back + urlencode({"code": code, "state": a.get("state", "")})
                                             + "#_=_"})

    def _exchange(self, request: Request) -> Response:
        p = {**request.args.to_dict(), **request.form.to_dict()}  # Facebook takes either
        if p.get("client_id") != self.app_id:
            return graph_error(101, "Error validating application. Invalid application ID.")
        if p.get("client_secret") != self.app_secret:
            return graph_error(1, "Error validating client secret.")
        if p.get("grant_type") == "fb_exchange_token":
            with self.lock:
                grant = self.user_tokens.get(p.get("fb_exchange_token", ""))
                if grant is None or p.get("fb_exchange_token") in self.dead_tokens:
                    return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
                return _json(self._issue(grant["scopes"], long=True))
        with self.lock:
            grant = self.codes.get(p.get("code", ""))
            if grant is None:
                return graph_error(100, "Invalid verification code format.", 36007)
            if grant.get("used"):
                return graph_error(100, "This authorization code has been used.", 36009)
            if grant["redirect_uri"] != p.get("redirect_uri"):
                return graph_error(100, "Error validating verification code. Please make sure your redirect_uri is "
                                   "identical to the one you used in the OAuth dialog request", 36008)
            grant["used"] = True
            self.granted = set(grant["scopes"])
            return _json(self._issue(grant["scopes"], long=False))

    def _issue(self, scopes: set, long: bool) -> dict:
        token = ("EAALong" if long else "EAAShort") + secrets.token_hex(16)
        self.user_tokens[token] = {"long": long, "scopes": set(scopes)}
        return {"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED if long else 5400}

    # ---- authentication of Graph calls ---------------------------------------------------------------

    def authenticate(self, request: Request):
        """("user", scopes) or ("page", Page), or an error Response, as Facebook answers."""
        header = request.headers.get("Authorization", "")
        token = header.split(" ", 1)[1] if header.startswith(("Bearer ", "OAuth ")) else \
            request.values.get("access_token", "")
        if not token:
            return graph_error(104, "An access token is required to request this resource.")
        with self.lock:
            if token in self.dead_tokens:
                sub = self.dead_tokens[token]
                return graph_error(190, "Error validating access token: " + EXPIRED_WORDS.get(sub, "invalid"), sub)
            who = ("user", self.user_tokens[token]["scopes"]) if token in self.user_tokens else None
            page = next((p for p in self.pages if token in p.tokens), None)
        if page is not None:
            who = ("page", page)
        if who is None:
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        given = request.values.get("appsecret_proof")
        expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if given is not None and not hmac.compare_digest(given, expected):
            return graph_error(100, "Invalid appsecret_proof provided in the API argument", kind="GraphMethodException")
        if given is None and self.require_proof:
            return graph_error(100, "API calls from the server require an appsecret_proof argument",
                               kind="GraphMethodException")
        return who

    def next_id(self) -> str:
        return str(next(self.ids))

