"""A fake X API that follows the contract in shared/PLATFORMS.md and checks what X checks.

OAuth 1.0a: request_token / authorize / access_token, every request's HMAC-SHA1 signature verified with
oauthlib's signature functions (a bad one gets X's 401 "Could not authenticate you."). OAuth 2.0: the
consent redirect, the PKCE code exchange (S256 checked), refresh, bearer tokens with expiry and scopes.
Posts, deletes, users/me, timelines, metrics, and the v2 chunked media upload with processing status.

Faults, for the tests to provoke: `fail_next` (5xx; with `after_handling` the post is stored first, as when
X's gateway gives up on a request X went on to complete), `rate_limit_next` (429 with Retry-After in seconds
or as an HTTP date, and x-rate-limit-* headers; or the monthly usage cap), `limit_next` (a normal answer
saying how many calls are left and when the window resets), `delay_next` (to provoke read timeouts),
`expire_tokens` (401), `processing_outcome` ("failed" to make media processing fail).
"""
from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode

from oauthlib.oauth1.rfc5849 import signature as oauth1_signature
from werkzeug.wrappers import Request, Response

from desk.platforms.x_text import find_urls, weighted_length
from tests.fakes.server import take_fault

UNAUTHORIZED_V2 = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
COULD_NOT_AUTHENTICATE = {"errors": [{"code": 32, "message": "Could not authenticate you."}]}
DUPLICATE = {"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
             "title": "Forbidden", "status": 403}
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
USAGE_CAP = {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
             "type": "https://api.twitter.com/2/problems/usage-capped", "period": "Monthly", "scope": "Product"}
WRITE_SCOPES = {"POST /2/tweets": "tweet.write", "DELETE /2/tweets": "tweet.write", "GET /2/tweets": "tweet.read",
                "GET /2/users": "users.read", "POST /2/media": "media.write", "GET /2/media": "media.write"}


@dataclass
class Account:
    id: str = "1500000000000000001"
    name: str = "Met Police Events"
    username: str = "MetPoliceEvents"


@dataclass
class Fault:
    kind: str  # "status", "rate", "delay", "limits"
    times: int
    path: str | None = None
    method: str | None = None
    status: int = 503
    retry_after: str | None = None
    reset: int | None = None
    usage_cap: bool = False
    seconds: float = 0.0
    after_handling: bool = False
    remaining: int | None = None

    def applies(self, request: Request) -> bool:
        return ((self.path is None or request.path.startswith(self.path))
                and (self.method is None or request.method == self.method))


def _json(body, status=200, headers=None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


@dataclass
class FakeX:
    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    client_id: str = "fake-client-id"
    client_secret: str = "fake-client-secret"  # "" makes it a public client (PKCE only, no Basic auth)
    account: Account = field(default_factory=Account)
    rotate_refresh_tokens: bool = True
    processing_polls: int = 2  # status checks before a video's processing ends
    processing_outcome: str = "succeeded"
    check_after_secs: int = 1

    def __post_init__(self):
        self.lock = threading.RLock()
        self.ids = itertools.count(1790000000000000000)
        self.nonces: set[str] = set()
        self.request_tokens: dict[str, dict] = {}
        self.access_tokens: dict[str, str] = {}  # OAuth 1.0a token -> secret
        self.codes: dict[str, dict] = {}
        self.bearers: dict[str, dict] = {}
        self.refresh_tokens: set[str] = set()
        self.tweets: dict[str, dict] = {}
        self.media: dict[str, dict] = {}
        self.faults: list[Fault] = []
        self.deny_next_consent = False

    # ---- what tests call -------------------------------------------------------------------------------

    def fail_next(self, status: int = 503, times: int = 1, path: str | None = None, method: str | None = None,
                  after_handling: bool = False):
        self.faults.append(Fault("status", times, path, method, status=status, after_handling=after_handling))

    def rate_limit_next(self, retry_after: str | None = None, reset: int | None = None, times: int = 1,
                        path: str | None = None, method: str | None = None, usage_cap: bool = False):
        self.faults.append(Fault("rate", times, path, method, retry_after=retry_after, reset=reset,
                                 usage_cap=usage_cap))

    def limit_next(self, remaining: int, reset: int, times: int = 1, path: str | None = None,
                   method: str | None = None):
        """The next matching request is served as usual, its answer saying `remaining` calls are left until
        `reset` (Unix seconds), as X's x-rate-limit-* headers do."""
        self.faults.append(Fault("limits", times, path, method, remaining=remaining, reset=reset))

    def delay_next(self, seconds: float, times: int = 1, path: str | None = None, method: str | None = None):
        self.faults.append(Fault("delay", times, path, method, seconds=seconds))

    def expire_tokens(self):
        """Every access token stops working: OAuth 2.0 ones expire, OAuth 1.0a ones are revoked."""
        with self.lock:
            for token in self.bearers.values():
                token["expires_at"] = time.time() - 1
            self.access_tokens.clear()

    def live_tweets(self) -> list[dict]:
        return [t for t in self.tweets.values() if not t["deleted"]]

    # ---- WSGI ------------------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        fault = take_fault(self.faults, self.lock, lambda f: f.applies(request))
        response = self._fault(fault) or self._route(request)
        if fault is not None and fault.kind == "limits":
            response.headers.update({"x-rate-limit-remaining": str(fault.remaining),
                                     "x-rate-limit-reset": str(fault.reset)})
        elif fault is not None and fault.after_handling:
            response = self._error(fault.status)
        response.headers.setdefault("x-rate-limit-limit", "100")
        response.headers.setdefault("x-rate-limit-remaining", "99")
        response.headers.setdefault("x-rate-limit-reset", str(int(time.time()) + 900))
        return response(environ, start_response)

    @staticmethod
    def _error(status: int) -> Response:
        return _json({"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank",
                      "status": status}, status)

    def _fault(self, fault: Fault | None) -> Response | None:
        """The answer a fault gives instead of X's own; None when X handles the request (maybe late)."""
        if fault is None or fault.kind == "limits" or fault.after_handling:
            return None
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return None
        if fault.kind == "status":
            return self._error(fault.status)
        headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                   "x-rate-limit-reset": str(fault.reset or int(time.time()) + 900)}
        if fault.retry_after:
            headers["Retry-After"] = fault.retry_after
        return _json(USAGE_CAP if fault.usage_cap else TOO_MANY, 429, headers)

    def _route(self, request: Request) -> Response:
        path, method = request.path, request.method
        oauth = {"/oauth/request_token": self._request_token, "/oauth/authorize": self._authorize1,
                 "/oauth/access_token": self._access_token, "/i/oauth2/authorize": self._authorize2,
                 "/2/oauth2/token": self._token}
        if path in oauth:
            return oauth[path](request)
        who = self._authenticate(request)
        if who is None:
            return _json(UNAUTHORIZED_V2, 401)
        scope = WRITE_SCOPES.get(f"{method} /2/{path.split('/')[2]}") if path.count("/") >= 2 else None
        if who != "oauth1" and scope and scope not in who["scope"].split():
            return _json({"title": "Forbidden", "type": "about:blank", "status": 403,
                          "detail": f"Missing scope {scope}."}, 403)
        if path == "/2/users/me" and method == "GET":
            a = self.account
            return _json({"data": {"id": a.id, "name": a.name, "username": a.username}})
        if path == "/2/tweets" and method == "POST":
            return self._create_tweet(request)
        if m := re.fullmatch(r"/2/tweets/(\d+)", path):
            return self._delete_tweet(m[1]) if method == "DELETE" else self._lookup_tweet(m[1], request)
        if m := re.fullmatch(r"/2/users/(\d+)/tweets", path):
            return self._timeline(m[1], request)
        if path == "/2/media/upload/initialize" and method == "POST":
            return self._media_init(request)
        if m := re.fullmatch(r"/2/media/upload/(\d+)/(append|finalize)", path):
            return self._media_append(m[1], request) if m[2] == "append" else self._media_finalize(m[1])
        if path == "/2/media/metadata" and method == "POST":
            return self._media_metadata(request)
        if path == "/2/media/upload" and method == "GET" and request.args.get("command") == "STATUS":
            return self._media_status(request.args.get("media_id", ""))
        return _json({"title": "Not Found Error", "type": "about:blank", "status": 404, "detail": "Not found"}, 404)

    # ---- authentication --------------------------------------------------------------------------------

    def _oauth1_params(self, request: Request, token_secrets: dict[str, str] | None) -> dict | None:
        """The request's OAuth 1.0a parameters if its signature is valid, else None."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return None
        body = request.get_data(as_text=True) if request.mimetype == "application/x-www-form-urlencoded" else None
        try:
            params = oauth1_signature.collect_parameters(
                uri_query=request.query_string.decode(), body=body, headers={"Authorization": header},
                exclude_oauth_signature=False)
        except ValueError:
            return None
        oauth = {k: v for k, v in params if k.startswith("oauth_")}
        if oauth.get("oauth_consumer_key") != self.consumer_key or oauth.get("oauth_signature_method") != "HMAC-SHA1":
            return None
        if abs(time.time() - int(oauth.get("oauth_timestamp", "0"))) > 300:
            return None
        token = oauth.get("oauth_token", "")
        with self.lock:
            if token and (token_secrets is None or token not in token_secrets):
                return None
            token_secret = token_secrets.get(token, "") if token_secrets else ""
            if oauth.get("oauth_nonce", "") in self.nonces:
                return None
        check = SimpleNamespace(
            uri=request.base_url, http_method=request.method, signature=oauth.get("oauth_signature", ""),
            params=[(k, v) for k, v in params if k != "oauth_signature"])
        if not oauth1_signature.verify_hmac_sha1(check, self.consumer_secret, token_secret):
            return None
        with self.lock:
            self.nonces.add(oauth["oauth_nonce"])
        return oauth

    def _authenticate(self, request: Request):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            with self.lock:
                token = self.bearers.get(header[7:])
            return token if token and token["expires_at"] > time.time() else None
        return "oauth1" if self._oauth1_params(request, self.access_tokens) else None

    # ---- OAuth 1.0a ------------------------------------------------------------------------------------

    def _request_token(self, request: Request) -> Response:
        oauth = self._oauth1_params(request, None)
        if oauth is None or "oauth_token" in oauth:
            return _json(COULD_NOT_AUTHENTICATE, 401)
        if not oauth.get("oauth_callback"):
            return _json({"errors": [{"code": 417, "message": "Desktop applications only support the "
                                      "oauth_callback value 'oob'"}]}, 401)
        token, secret = "rt-" + secrets.token_hex(8), secrets.token_hex(16)
        with self.lock:
            self.request_tokens[token] = {"secret": secret, "callback": oauth["oauth_callback"], "verifier": None}
        return Response(urlencode({"oauth_token": token, "oauth_token_secret": secret,
                                   "oauth_callback_confirmed": "true"}), mimetype="text/html")

    def _authorize1(self, request: Request) -> Response:
        """The consent page, with the account holder clicking "Authorize app" at once."""
        token = request.args.get("oauth_token", "")
        with self.lock:
            pending = self.request_tokens.get(token)
            if pending is None:
                return Response("This page is no longer valid.", 400)
            if self.deny_next_consent:
                self.deny_next_consent = False
                return Response(status=302, headers={"Location": f"{pending['callback']}?denied={token}"})
            pending["verifier"] = secrets.token_hex(8)
        query = urlencode({"oauth_token": token, "oauth_verifier": pending["verifier"]})
        joiner = "&" if "?" in pending["callback"] else "?"
        return Response(status=302, headers={"Location": f"{pending['callback']}{joiner}{query}"})

    def _access_token(self, request: Request) -> Response:
        with self.lock:
            secrets_by_token = {t: p["secret"] for t, p in self.request_tokens.items()}
        oauth = self._oauth1_params(request, secrets_by_token)
        if oauth is None:
            return _json(COULD_NOT_AUTHENTICATE, 401)
        with self.lock:
            pending = self.request_tokens.get(oauth["oauth_token"])
            if not pending or not pending["verifier"] or oauth.get("oauth_verifier") != pending["verifier"]:
                return Response("Error processing your OAuth request: Invalid oauth_verifier parameter", 401)
            del self.request_tokens[oauth["oauth_token"]]
            token = f"{self.account.id}-{secrets.token_hex(10)}"
            self.access_tokens[token] = secrets.token_hex(16)
            secret = self.access_tokens[token]
        return Response(urlencode({"oauth_token": token, "oauth_token_secret": secret, "user_id": self.account.id,
                                   "screen_name": self.account.username}), mimetype="text/html")

    # ---- OAuth 2.0 with PKCE ---------------------------------------------------------------------------

    def _authorize2(self, request: Request) -> Response:
        a = request.args
        if (a.get("response_type") != "code" or a.get("client_id") != self.client_id or not a.get("redirect_uri")
                or not a.get("state") or a.get("code_challenge_method") != "S256" or not a.get("code_challenge")):
            return Response("Something went wrong: you weren't able to give access to the App.", 400)
        if self.deny_next_consent:
            self.deny_next_consent = False
            return Response(status=302, headers={"Location": a["redirect_uri"] + "?" + urlencode(
                {"error": "access_denied", "state": a["state"]})})
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {"challenge": a["code_challenge"], "redirect_uri": a["redirect_uri"],
                                "scope": a.get("scope", "")}
        return Response(status=302, headers={"Location": a["redirect_uri"] + "?" + urlencode(
            {"state": a["state"], "code": code})})

    def _client_ok(self, request: Request, form: dict) -> bool:
        if self.client_secret:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            return request.headers.get("Authorization", "") == f"Basic {expected}"
        return form.get("client_id") == self.client_id

    def _issue(self, scope: str) -> dict:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self.lock:
            self.bearers[access] = {"expires_at": time.time() + 7200, "scope": scope}
            self.refresh_tokens.add(refresh)
        token = {"token_type": "bearer", "expires_in": 7200, "access_token": access, "scope": scope}
        if "offline.access" in scope.split():
            token["refresh_token"] = refresh
        return token

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        invalid = _json({"error": "invalid_request", "error_description": "Value passed for the token was invalid."},
                        400)
        if request.mimetype != "application/x-www-form-urlencoded" or not self._client_ok(request, form):
            return _json({"error": "unauthorized_client", "error_description": "Missing valid authorization "
                          "header"}, 401)
        if form.get("grant_type") == "authorization_code":
            with self.lock:
                grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return invalid
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                return invalid
            return _json(self._issue(grant["scope"]))
        if form.get("grant_type") == "refresh_token":
            with self.lock:
                known = form.get("refresh_token") in self.refresh_tokens
                if known and self.rotate_refresh_tokens:
                    self.refresh_tokens.discard(form["refresh_token"])
            if not known:
                return invalid
            token = self._issue(" ".join(("tweet.read", "tweet.write", "users.read", "offline.access",
                                          "media.write")))
            if not self.rotate_refresh_tokens:
                token["refresh_token"] = form["refresh_token"]
            return _json(token)
        return _json({"error": "unsupported_grant_type"}, 400)

    # ---- posts ---------------------------------------------------------------------------------------

    def _create_tweet(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        text = body.get("text", "")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        invalid = {"title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                   "type": "https://api.twitter.com/2/problems/invalid-request"}
        if not text and not media_ids:
            return _json(invalid, 400)
        if text and not weighted_length(text).valid:
            return _json({**invalid, "errors": [{"message": "Tweet text is too long."}]}, 400)
        with self.lock:
            if any(self.media.get(m, {}).get("state") != "succeeded" for m in media_ids):
                return _json({**invalid, "errors": [{"message": "Your media IDs are invalid."}]}, 400)
            if any(t["text"] == text and not t["deleted"] for t in self.tweets.values()):
                return _json(DUPLICATE, 403)
            tweet_id = str(next(self.ids))
            self.tweets[tweet_id] = {"id": tweet_id, "text": text, "media_ids": media_ids, "deleted": False,
                                     "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        return _json({"data": {"id": tweet_id, "text": text}}, 201)

    def _delete_tweet(self, tweet_id: str) -> Response:
        with self.lock:
            tweet = self.tweets.get(tweet_id)
            if tweet is None or tweet["deleted"]:
                return _json({"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-"
                              "found", "detail": f"Could not find tweet with id: [{tweet_id}].", "status": 404}, 404)
            tweet["deleted"] = True
        return _json({"data": {"deleted": True}})

    def _rendered(self, tweet: dict) -> str:
        """The text as X gives it back: links wrapped in t.co, &<> escaped, a link to the media appended."""
        text = tweet["text"]
        for start, end in reversed(find_urls(text)):
            text = text[:start] + "https://t.co/" + secrets.token_hex(5) + text[end:]
        text = html.escape(text, quote=False)
        return text + (" https://t.co/" + secrets.token_hex(5) if tweet["media_ids"] else "")

    def _lookup_tweet(self, tweet_id: str, request: Request) -> Response:
        tweet = self.tweets.get(tweet_id)
        if tweet is None or tweet["deleted"]:
            return _json({"errors": [{"value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].",
                                      "title": "Not Found Error", "resource_type": "tweet", "parameter": "id",
                                      "type": "https://api.twitter.com/2/problems/resource-not-found"}]})
        data = {"id": tweet_id, "text": self._rendered(tweet)}
        if "public_metrics" in request.args.get("tweet.fields", ""):
            n = int(tweet_id) % 1000
            data["public_metrics"] = {"retweet_count": 3, "reply_count": 2, "like_count": 10 + n % 7,
                                      "quote_count": 1, "bookmark_count": 4, "impression_count": 1000 + n}
        return _json({"data": data})

    def _timeline(self, user_id: str, request: Request) -> Response:
        if user_id != self.account.id:
            return _json({"errors": [{"title": "Not Found Error", "detail": "Could not find user."}]})
        count = min(100, max(5, int(request.args.get("max_results", "10"))))
        tweets = sorted(self.live_tweets(), key=lambda t: int(t["id"]), reverse=True)[:count]
        if not tweets:
            return _json({"meta": {"result_count": 0}})
        return _json({"data": [{"id": t["id"], "text": self._rendered(t), "created_at": t["created_at"]}
                               for t in tweets],
                      "meta": {"result_count": len(tweets), "newest_id": tweets[0]["id"],
                               "oldest_id": tweets[-1]["id"]}})

    # ---- media -------------------------------------------------------------------------------------

    def _media_init(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        kind, total, category = body.get("media_type", ""), body.get("total_bytes"), body.get("media_category")
        if (not re.fullmatch(r"(image/(jpeg|png|webp|gif)|video/(mp4|quicktime))", kind) or not isinstance(total, int)
                or category not in ("tweet_image", "tweet_gif", "tweet_video")):
            return _json({"title": "Invalid Request", "type": "https://api.twitter.com/2/problems/invalid-request",
                          "detail": "One or more parameters to your request was invalid."}, 400)
        media_id = str(next(self.ids))
        with self.lock:
            self.media[media_id] = {"type": kind, "total": total, "category": category, "segments": {},
                                    "state": "uploading", "polls": 0}
        return _json({"data": {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": 86400}})

    def _media_append(self, media_id: str, request: Request) -> Response:
        media = self.media.get(media_id)
        index = request.form.get("segment_index", "")
        upload = request.files.get("media")
        if media is None or media["state"] != "uploading" or not index.isdigit() or int(index) > 999 or not upload:
            return _json({"title": "Invalid Request", "type": "https://api.twitter.com/2/problems/invalid-request",
                          "detail": "One or more parameters to your request was invalid."}, 400)
        with self.lock:
            media["segments"][int(index)] = upload.read()
        return _json({"data": {"expires_at": int(time.time()) + 86400}})

    def _media_finalize(self, media_id: str) -> Response:
        media = self.media.get(media_id)
        if media is None or media["state"] != "uploading":
            return _json({"title": "Invalid Request", "type": "about:blank", "status": 400,
                          "detail": "Invalid media id."}, 400)
        size = sum(len(media["segments"][i]) for i in sorted(media["segments"]))
        if size != media["total"] or sorted(media["segments"]) != list(range(len(media["segments"]))):
            return _json({"title": "Invalid Request", "type": "about:blank", "status": 400,
                          "detail": "File size mismatch."}, 400)
        data = {"id": media_id, "media_key": f"7_{media_id}", "size": size, "expires_after_secs": 86400}
        with self.lock:
            if media["category"] == "tweet_image":
                media["state"] = "succeeded"
            else:
                media["state"] = "pending"
                data["processing_info"] = {"state": "pending", "check_after_secs": self.check_after_secs}
        return _json({"data": data})

    def _media_metadata(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        with self.lock:
            media = self.media.get(str(body.get("id", "")))
            if media is None or media["category"] == "tweet_video" or not isinstance(alt, str) or len(alt) > 1000:
                return _json({"title": "Invalid Request", "type": "https://api.twitter.com/2/problems/invalid-request",
                              "detail": "One or more parameters to your request was invalid."}, 400)
            media["alt_text"] = alt
        return _json({"data": {"id": body["id"], "associated_metadata": {"alt_text": {"text": alt}}}})

    def _media_status(self, media_id: str) -> Response:
        with self.lock:
            media = self.media.get(media_id)
            if media is None:
                return _json({"title": "Invalid Request", "type": "about:blank", "status": 400,
                              "detail": "Invalid media id."}, 400)
            if media["state"] in ("pending", "in_progress"):
                media["polls"] += 1
                media["state"] = self.processing_outcome if media["polls"] >= self.processing_polls else "in_progress"
            info = {"state": media["state"]}
            if media["state"] == "in_progress":
                info.update(check_after_secs=self.check_after_secs, progress_percent=50)
            if media["state"] == "failed":
                info["error"] = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}
        return _json({"data": {"id": media_id, "media_key": f"7_{media_id}", "processing_info": info}})


def http_date(seconds_from_now: float) -> str:
    return formatdate(time.time() + seconds_from_now, usegmt=True)
