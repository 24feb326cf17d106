"""A fake Flickr that follows the contract in shared/PLATFORMS.md and checks what Flickr checks.

OAuth 1.0a: request_token (with oauth_callback), the consent page (`perms` read/write/delete, which
redirects at once to the callback with oauth_token and oauth_verifier), access_token (fullname,
user_nsid, username). Every call's HMAC-SHA1 signature is verified with oauthlib's signature functions:
on the OAuth endpoints a bad one gets 401 `oauth_problem=signature_invalid`; on the API Flickr's own
codes (96 invalid signature, 97 missing, 98 unknown token, 99 too few permissions, 100 unknown key).
The multipart upload is verified over its non-file fields only, as Flickr does, so an upload signed the
naive way (requests-oauthlib signing a multipart body without its fields) gets 96. REST answers come
as JSON (format=json&nojsoncallback=1), failures with HTTP 200 and stat=fail, as Flickr does.

Faults for the tests to provoke: `fail_next` (an HTTP error page), `error_next` (a Flickr error code),
`rate_limit_next` (429 with Retry-After), `delay_next` (a slow answer), `revoke_tokens`, `grant_perms`
(what the consent grants, whatever was asked), `max_photo_bytes` and `upload_limit`.
"""
from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

from oauthlib.oauth1.rfc5849 import signature as oauth1_signature
from werkzeug.wrappers import Request, Response

from tests.fakes.server import take_fault

LEVELS = {"read": 1, "write": 2, "delete": 3}
METHOD_PERMS = {"flickr.test.login": "read", "flickr.photos.getInfo": "read", "flickr.photos.getFavorites": "read",
                "flickr.people.getPhotos": "read", "flickr.photos.delete": "delete"}
API_ERRORS = {96: "Invalid signature", 97: "Missing signature", 98: "Invalid auth token",
              99: "Insufficient permissions", 100: "Invalid API Key (Key not found)"}
MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
_TAG = re.compile(r'"([^"]*)"|(\S+)')
_MACHINE = re.compile(r"^[A-Za-z]\w*:[A-Za-z]\w*=.+$")


@dataclass
class Account:
    nsid: str = "12345678@N04"
    username: str = "metpoliceuk"
    fullname: str = "Metropolitan Police"


@dataclass
class Fault:
    kind: str  # "status", "flickr", "rate", "delay"
    times: int
    path: str | None = None
    method: str | None = None  # a Flickr method name, or "upload"
    status: int = 503
    code: int = 0
    message: str = ""
    retry_after: str | None = None
    seconds: float = 0.0


def _json(body: dict, status: int = 200, headers=None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def _xml_fail(code: int, message: str) -> Response:
    return Response(f'<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="fail">\n\t<err code="{code}" '
                    f"msg={quoteattr(message)} />\n</rsp>\n", mimetype="text/xml")


def _oauth_problem(problem: str, **more) -> Response:
    return Response(urlencode({"oauth_problem": problem, **more}), status=401, mimetype="text/plain")


def parse_tags(text: str) -> list[str]:
    """Flickr's reading of the tags field: space-separated, double quotes around a tag with spaces."""
    return [quoted or bare for quoted, bare in _TAG.findall(text or "") if (quoted or bare).strip()]


@dataclass
class FakeFlickr:
    api_key: str = "fake-flickr-key"
    api_secret: str = "fake-flickr-secret"
    account: Account = field(default_factory=Account)
    grant_perms: str | None = None  # None: grant what the desk asks for
    max_photo_bytes: int = 200 * 1024 * 1024
    upload_limit: int | None = None  # photos the account may hold (a free account: 1000)

    def __post_init__(self):
        self.lock = threading.RLock()
        self.ids = itertools.count(53100000001)
        self.nonces: set[str] = set()
        self.request_tokens: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}  # token -> {"secret", "perms"}
        self.photos: dict[str, dict] = {}
        self.faults: list[Fault] = []

    # ---- what tests call -------------------------------------------------------------------------------

    def fail_next(self, status: int = 503, times: int = 1, path: str | None = None, method: str | None = None):
        self.faults.append(Fault("status", times, path, method, status=status))

    def error_next(self, code: int, message: str = "", times: int = 1, path: str | None = None,
                   method: str | None = None):
        self.faults.append(Fault("flickr", times, path, method, code=code, message=message or f"Error {code}"))

    def rate_limit_next(self, retry_after: str | None = "30", times: int = 1, path: str | None = None,
                        method: str | None = None):
        self.faults.append(Fault("rate", times, path, method, retry_after=retry_after))

    def delay_next(self, seconds: float, times: int = 1, path: str | None = None, method: str | None = None):
        self.faults.append(Fault("delay", times, path, method, seconds=seconds))

    def revoke_tokens(self):
        with self.lock:
            self.access_tokens.clear()

    def live_photos(self) -> list[dict]:
        with self.lock:
            return [p for p in self.photos.values() if not p["deleted"]]

    # ---- WSGI ------------------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.get_data(cache=True)  # read once: the signature check needs the raw form body after .values
        return (self._fault(request) or self._route(request))(environ, start_response)

    def _flickr_method(self, request: Request) -> str:
        if request.path.endswith("/upload/"):
            return "upload"
        return request.values.get("method", "")

    def _fault(self, request: Request) -> Response | None:
        fault = take_fault(self.faults, self.lock, lambda f: (f.path is None or request.path.startswith(f.path))
                           and (f.method is None or f.method == self._flickr_method(request)))
        if fault is None:
            return None
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return None
        if fault.kind == "status":
            return Response(f"<html><body><h1>{fault.status}</h1>Flickr is having a massage.</body></html>",
                            status=fault.status, mimetype="text/html")
        if fault.kind == "rate":
            return Response("Too Many Requests", status=429, mimetype="text/plain",
                            headers={"Retry-After": fault.retry_after} if fault.retry_after else None)
        if request.path.endswith("/upload/"):
            return _xml_fail(fault.code, fault.message)
        return _json({"stat": "fail", "code": fault.code, "message": fault.message})

    def _route(self, request: Request) -> Response:
        path = request.path
        if path.endswith("/oauth/request_token"):
            return self._request_token(request)
        if path.endswith("/oauth/authorize"):
            return self._authorize(request)
        if path.endswith("/oauth/access_token"):
            return self._access_token(request)
        if path.endswith("/upload/") and request.method == "POST":
            return self._upload(request)
        if path.rstrip("/").endswith("/services/rest"):
            return self._rest(request)
        return Response("Not found", status=404)

    # ---- signatures --------------------------------------------------------------------------------

    def _verify(self, request: Request, token_secrets: dict[str, str] | None, extra_params=()) -> tuple:
        """(oauth parameters, None) when the signature is good, else (parameters or {}, the problem)."""
        header = request.headers.get("Authorization", "")
        body = request.get_data(as_text=True) if request.mimetype == "application/x-www-form-urlencoded" else None
        try:
            params = oauth1_signature.collect_parameters(
                uri_query=request.query_string.decode(), body=body,
                headers={"Authorization": header} if header.startswith("OAuth ") else {},
                exclude_oauth_signature=False)
        except ValueError:
            return {}, "signature_invalid"
        params = list(params) + list(extra_params)
        oauth = {k: v for k, v in params if k.startswith("oauth_")}
        if "oauth_signature" not in oauth:
            return oauth, "parameter_absent"
        if oauth.get("oauth_consumer_key") != self.api_key:
            return oauth, "consumer_key_unknown"
        if oauth.get("oauth_signature_method") != "HMAC-SHA1":
            return oauth, "signature_method_rejected"
        if abs(time.time() - int(oauth.get("oauth_timestamp", "0") or 0)) > 300:
            return oauth, "timestamp_refused"
        token = oauth.get("oauth_token", "")
        with self.lock:
            if token and (token_secrets is None or token not in token_secrets):
                return oauth, "token_rejected"
            if oauth.get("oauth_nonce", "") in self.nonces:
                return oauth, "nonce_used"
            token_secret = (token_secrets or {}).get(token, "")
        check = SimpleNamespace(uri=request.base_url, http_method=request.method,
                                signature=oauth["oauth_signature"],
                                params=[(k, v) for k, v in params if k != "oauth_signature"])
        if not oauth1_signature.verify_hmac_sha1(check, self.api_secret, token_secret):
            return oauth, "signature_invalid"
        with self.lock:
            self.nonces.add(oauth["oauth_nonce"])
        return oauth, None

    def _api_auth(self, request: Request, needs: str, extra_params=()) -> tuple[int, str] | None:
        """None when the call is signed by a live token with at least `needs`; else Flickr's (code, message)."""
        with self.lock:
            token_secrets = {t: a["secret"] for t, a in self.access_tokens.items()}
        oauth, problem = self._verify(request, token_secrets, extra_params)
        codes = {"parameter_absent": 97, "consumer_key_unknown": 100, "token_rejected": 98}
        if problem:
            return codes.get(problem, 96), API_ERRORS[codes.get(problem, 96)]
        if not oauth.get("oauth_token"):
            return 99, "User not logged in"
        granted = self.access_tokens[oauth["oauth_token"]]["perms"]
        if LEVELS[granted] < LEVELS[needs]:
            return 99, f"Insufficient permissions. Method requires {needs} privileges; {granted} granted."
        return None

    # ---- OAuth 1.0a ------------------------------------------------------------------------------------

    def _request_token(self, request: Request) -> Response:
        oauth, problem = self._verify(request, None)
        if problem:
            return _oauth_problem(problem, debug_sbs=f"{request.method}&{request.base_url}&...")
        if not oauth.get("oauth_callback"):
            return _oauth_problem("parameter_absent", oauth_parameters_absent="oauth_callback")
        token, secret = f"7215{secrets.token_hex(6)}-{secrets.token_hex(8)}", secrets.token_hex(8)
        with self.lock:
            self.request_tokens[token] = {"secret": secret, "callback": oauth["oauth_callback"], "verifier": None}
        return Response(urlencode({"oauth_callback_confirmed": "true", "oauth_token": token,
                                   "oauth_token_secret": secret}), mimetype="text/plain")

    def _authorize(self, request: Request) -> Response:
        """The consent page, with the account holder clicking "OK, I'll authorize it" at once."""
        token, perms = request.args.get("oauth_token", ""), request.args.get("perms", "")
        with self.lock:
            pending = self.request_tokens.get(token)
            if pending is None:
                return Response("Oops! Flickr can't find a valid callback URL.", 400)
            if perms not in LEVELS:
                return Response("Oops! The application asked for an unknown permission.", 400)
            pending.update(verifier=secrets.token_hex(8), perms=self.grant_perms or perms)
        joiner = "&" if "?" in pending["callback"] else "?"
        query = urlencode({"oauth_token": token, "oauth_verifier": pending["verifier"]})
        return Response(status=302, headers={"Location": f"{pending['callback']}{joiner}{query}"})

    def _access_token(self, request: Request) -> Response:
        with self.lock:
            secrets_by_token = {t: p["secret"] for t, p in self.request_tokens.items()}
        oauth, problem = self._verify(request, secrets_by_token)
        if problem:
            return _oauth_problem(problem)
        with self.lock:
            pending = self.request_tokens.get(oauth.get("oauth_token", ""))
            if pending is None:
                return _oauth_problem("token_rejected")
            if not pending["verifier"] or oauth.get("oauth_verifier") != pending["verifier"]:
                return _oauth_problem("verifier_invalid")
            del self.request_tokens[oauth["oauth_token"]]
            token, secret = f"7215{secrets.token_hex(6)}-{secrets.token_hex(8)}", secrets.token_hex(8)
            self.access_tokens[token] = {"secret": secret, "perms": pending["perms"]}
        a = self.account
        return Response(urlencode({"fullname": a.fullname, "oauth_token": token, "oauth_token_secret": secret,
                                   "user_nsid": a.nsid, "username": a.username}), mimetype="text/plain")

    # ---- upload ----------------------------------------------------------------------------------------

    def _upload(self, request: Request) -> Response:
        fields = request.form.to_dict()
        refused = self._api_auth(request, "write", extra_params=sorted(fields.items()))
        if refused:
            return _xml_fail(*refused)
        upload = request.files.get("photo")
        if upload is None:
            return _xml_fail(2, "No photo specified")
        data = upload.read()
        if not data:
            return _xml_fail(4, "Filesize was zero")
        if not data.startswith(MAGIC):
            return _xml_fail(5, "Filetype was not recognised")
        if len(data) > self.max_photo_bytes:
            return _xml_fail(8, "Filesize was too large")
        with self.lock:
            if self.upload_limit is not None and len(self.live_photos()) >= self.upload_limit:
                return _xml_fail(6, "User exceeded upload limit")
            photo_id = str(next(self.ids))
            tags = parse_tags(fields.get("tags", ""))
            self.photos[photo_id] = {
                "id": photo_id, "fields": fields, "bytes": data, "filename": upload.filename, "tags": tags,
                "machine_tags": [t.lower() for t in tags if _MACHINE.match(t)], "deleted": False,
                "uploaded": int(time.time()), "views": 0, "comments": 0, "faves": 0}
        return Response(f'<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="ok">\n<photoid>{photo_id}</photoid>\n'
                        "</rsp>\n", mimetype="text/xml")

    # ---- REST ------------------------------------------------------------------------------------------

    def _rest(self, request: Request) -> Response:
        values = request.values.to_dict()
        method = values.get("method", "")
        if values.get("format") != "json":
            return _xml_fail(111, f'Format "{values.get("format", "rest")}" not found (the fake speaks JSON)')
        if method not in METHOD_PERMS:
            reply = {"stat": "fail", "code": 112, "message": f'Method "{method}" not found'}
        else:
            refused = self._api_auth(request, METHOD_PERMS[method])
            reply = {"stat": "fail", "code": refused[0], "message": refused[1]} if refused else \
                getattr(self, "_" + method.split(".", 1)[1].replace(".", "_"))(values)
        if values.get("nojsoncallback") != "1":
            return Response(f"jsonFlickrApi({json.dumps(reply)})", mimetype="text/javascript")
        return _json(reply)

    def _photo(self, values: dict) -> dict | None:
        with self.lock:
            photo = self.photos.get(values.get("photo_id", ""))
        return photo if photo and not photo["deleted"] else None

    def _test_login(self, values: dict) -> dict:
        return {"user": {"id": self.account.nsid, "username": {"_content": self.account.username}}, "stat": "ok"}

    def _photos_delete(self, values: dict) -> dict:
        photo = self._photo(values)
        if photo is None:
            return {"stat": "fail", "code": 1, "message": "Photo not found"}
        with self.lock:
            photo["deleted"] = True
        return {"stat": "ok"}

    def _photos_getInfo(self, values: dict) -> dict:
        photo = self._photo(values)
        if photo is None:
            return {"stat": "fail", "code": 1, "message": "Photo not found"}
        f, a = photo["fields"], self.account
        return {"photo": {
            "id": photo["id"], "secret": "abcdef0123", "server": "65535", "dateuploaded": str(photo["uploaded"]),
            "owner": {"nsid": a.nsid, "username": a.username, "realname": a.fullname},
            "title": {"_content": f.get("title", "")}, "description": {"_content": f.get("description", "")},
            "visibility": {"ispublic": int(f.get("is_public", 1)), "isfriend": int(f.get("is_friend", 0)),
                           "isfamily": int(f.get("is_family", 0))},
            "views": str(photo["views"]), "comments": {"_content": str(photo["comments"])},
            "tags": {"tag": [{"raw": t, "_content": re.sub(r"\W", "", t.lower()),
                              "machine_tag": int(bool(_MACHINE.match(t)))} for t in photo["tags"]]},
            "urls": {"url": [{"type": "photopage",
                              "_content": f"https://www.flickr.com/photos/{a.username}/{photo['id']}/"}]},
            "media": "photo"}, "stat": "ok"}

    def _photos_getFavorites(self, values: dict) -> dict:
        photo = self._photo(values)
        if photo is None:
            return {"stat": "fail", "code": 1, "message": "Photo not found"}
        per_page = int(values.get("per_page", 10))
        return {"photo": {"person": [{"nsid": f"{n}@N01", "username": f"fan{n}", "favedate": "1700000000"}
                                     for n in range(min(per_page, photo["faves"]))],
                          "id": photo["id"], "page": 1, "pages": max(1, -(-photo["faves"] // per_page)),
                          "perpage": per_page, "total": photo["faves"]}, "stat": "ok"}

    def _people_getPhotos(self, values: dict) -> dict:
        if values.get("user_id") not in ("me", self.account.nsid):
            return {"stat": "fail", "code": 2, "message": "Unknown user"}
        since = int(values.get("min_upload_date", 0))
        per_page, page = min(500, int(values.get("per_page", 100))), int(values.get("page", 1))
        found = sorted((p for p in self.live_photos() if p["uploaded"] >= since),
                       key=lambda p: (p["uploaded"], p["id"]), reverse=True)
        extras = values.get("extras", "").split(",")
        rows = []
        for p in found[(page - 1) * per_page: page * per_page]:
            row = {"id": p["id"], "owner": self.account.nsid, "secret": "abcdef0123", "server": "65535",
                   "farm": 66, "title": p["fields"].get("title", ""), "ispublic": int(p["fields"].get("is_public", 1))}
            if "machine_tags" in extras:
                row["machine_tags"] = " ".join(p["machine_tags"])
            if "date_upload" in extras:
                row["dateupload"] = str(p["uploaded"])
            rows.append(row)
        return {"photos": {"page": page, "pages": max(1, -(-len(found) // per_page)), "perpage": per_page,
                           "total": len(found), "photo": rows}, "stat": "ok"}
