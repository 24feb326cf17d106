"""A fake Google OAuth 2.0 server: the consent redirect, the code exchange and refresh, bearer tokens with
expiry and scopes, as Google's web-server flow behaves (shared/PLATFORMS.md, YouTube section).

- Consent (`/o/oauth2/v2/auth`): checks client id, response_type=code, a registered redirect URI and
  a state; the account holder may decline (`deny_next_consent`) or untick scopes (`grant_only`).
- Token (`/token`): client id and secret in the form (or HTTP Basic); a code is single-use, bound to
  its redirect URI and, when one was sent, to its PKCE challenge. A refresh token comes only with
  access_type=offline, and a refresh returns no new one, as Google does.
- Errors as Google sends them: `{"error": "invalid_grant", "error_description": ...}`.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode

from werkzeug.wrappers import Request, Response

ACCESS_TOKEN_SECONDS = 3599


def google_json(body, status=200, headers=None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


@dataclass
class FakeGoogleOAuth:
    client_id: str = "fake-client.apps.googleusercontent.com"
    client_secret: str = "fake-google-secret"
    redirect_uris: set[str] = field(default_factory=set)  # empty: any redirect URI is registered
    grant_only: set[str] | None = None  # the scopes the account holder leaves ticked (None: all asked)
    deny_next_consent: bool = False
    issue_refresh_tokens: bool = True  # False: as Google does for an app not asking for offline access
    token_failures: list[tuple[int, str]] = field(default_factory=list)  # (status, error) for the next token calls

    def __post_init__(self):
        self.lock = threading.RLock()
        self.codes: dict[str, dict] = {}
        self.bearers: dict[str, dict] = {}  # access token -> {"expires_at", "scope"}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> scope
        self.refreshes = 0

    # ---- what tests call -------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.bearers.values():
                token["expires_at"] = time.time() - 1

    def revoke(self) -> None:
        """The account holder removed the desk's access in their Google account: nothing works any more."""
        with self.lock:
            self.bearers.clear()
            self.refresh_tokens.clear()

    def scope_of(self, header: str) -> set[str] | None:
        """The scopes of a live bearer token, or None when the token is unknown or expired."""
        if not header.startswith("Bearer "):
            return None
        with self.lock:
            token = self.bearers.get(header[7:])
        if token is None or token["expires_at"] <= time.time():
            return None
        return set(token["scope"].split())

    # ---- consent ---------------------------------------------------------------------------------------

    def consent(self, request: Request) -> Response:
        """Google's consent page, with the account holder answering at once."""
        a = request.args
        if a.get("client_id") != self.client_id:
            return Response("Error 401: invalid_client. The OAuth client was not found.", 401)
        redirect_uri = a.get("redirect_uri", "")
        if not redirect_uri or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            return Response("Error 400: redirect_uri_mismatch", 400)
        if a.get("response_type") != "code" or not a.get("scope"):
            return Response("Error 400: invalid_request", 400)
        joiner = "&" if "?" in redirect_uri else "?"
        if self.deny_next_consent:
            self.deny_next_consent = False
            query = {"error": "access_denied", **({"state": a["state"]} if "state" in a else {})}
            return Response(status=302, headers={"Location": redirect_uri + joiner + urlencode(query)})
        asked = a["scope"].split()
        granted = [s for s in asked if self.grant_only is None or s in self.grant_only]
        code = "4/" + secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {"redirect_uri": redirect_uri, "scope": " ".join(granted),
                                "offline": a.get("access_type") == "offline" and self.issue_refresh_tokens,
                                "challenge": a.get("code_challenge"),
                                "method": a.get("code_challenge_method", "plain")}
        query = {"code": code, "scope": " ".join(granted), **({"state": a["state"]} if "state" in a else {})}
        return Response(status=302, headers={"Location": redirect_uri + joiner + urlencode(query)})

    # ---- token endpoint --------------------------------------------------------------------------------

    def _client_ok(self, request: Request, form: dict) -> bool:
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            return basic[6:] == expected
        return form.get("client_id") == self.client_id and form.get("client_secret") == self.client_secret

    def _issue(self, scope: str, offline: bool) -> dict:
        access = "ya29." + secrets.token_urlsafe(30)
        token = {"access_token": access, "expires_in": ACCESS_TOKEN_SECONDS, "scope": scope, "token_type": "Bearer"}
        with self.lock:
            self.bearers[access] = {"expires_at": time.time() + ACCESS_TOKEN_SECONDS, "scope": scope}
            if offline:
                token["refresh_token"] = "1//" + secrets.token_urlsafe(30)
                self.refresh_tokens[token["refresh_token"]] = scope
        return token

    def token(self, request: Request) -> Response:
        with self.lock:
            failure = self.token_failures.pop(0) if self.token_failures else None
        if failure:
            status, error = failure
            return google_json({"error": error, "error_description": "Fake failure."}, status)
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        if request.mimetype != "application/x-www-form-urlencoded":
            return google_json({"error": "invalid_request", "error_description": "Bad Request"}, 400)
        if not self._client_ok(request, form):
            return google_json({"error": "invalid_client", "error_description": "Unauthorized"}, 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.lock:
                pending = self.codes.pop(form.get("code", ""), None)
            if pending is None or pending["redirect_uri"] != form.get("redirect_uri"):
                return google_json({"error": "invalid_grant", "error_description": "Bad Request"}, 400)
            if pending["challenge"] and not _pkce_ok(form.get("code_verifier", ""), pending):
                return google_json({"error": "invalid_grant", "error_description": "Invalid code verifier."}, 400)
            return google_json(self._issue(pending["scope"], pending["offline"]))
        if grant == "refresh_token":
            with self.lock:
                scope = self.refresh_tokens.get(form.get("refresh_token", ""))
                self.refreshes += 1
            if scope is None:
                return google_json({"error": "invalid_grant", "error_description": "Token has been expired or "
                                    "revoked."}, 400)
            return google_json(self._issue(scope, offline=False))  # Google keeps the refresh token as it is
        return google_json({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "
                            f"{grant}"}, 400)


def _pkce_ok(verifier: str, pending: dict) -> bool:
    if pending["method"] == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == pending["challenge"]
    return verifier == pending["challenge"]
