"""A fake YouTube Data API v3 (with Google's OAuth in front) that follows shared/PLATFORMS.md.

It checks bearer tokens and their scopes (videos.delete refuses `youtube.upload`), the resumable upload
protocol (session opened with X-Upload-Content-*, chunks that are multiples of 256 KiB and follow on from
what is stored, 308 with `Range`, `bytes */TOTAL` status queries, 201 with the video), YouTube's metadata
rules, and answers errors in Google's shape. Everything received is recorded by the FakeServer.

Faults, for the tests to provoke: `fail_next` (any status and reason, e.g. 403 quotaExceeded, 503
backendError), `drop_next` (store only the first N bytes of a chunk, then drop the connection without
answering), `drop_reply_next` (do the work, then drop the connection: the reply is lost), `delay_next`.
"""
from __future__ import annotations

import itertools
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from tests.fakes.fake_google_oauth import FakeGoogleOAuth, google_json
from tests.fakes.fake_youtube_rules import GRANULE, READ, UPLOAD, WRITE, error_body, metadata_error, tags_length
from tests.fakes.server import take_fault

__all__ = ["FakeYouTube", "Channel", "error_body", "tags_length"]


@dataclass
class Channel:
    id: str = "UCmetpolice000000000001"
    title: str = "Metropolitan Police"
    custom_url: str = "@metpoliceuk"

    @property
    def uploads(self) -> str:
        return "UU" + self.id[2:]


@dataclass
class Fault:
    kind: str  # "status", "drop", "drop_reply", "delay"
    times: int
    path: str | None
    method: str | None
    status: int = 503
    reason: str = "backendError"
    headers: dict = field(default_factory=dict)
    after_bytes: int = 0
    seconds: float = 0.0
    skip: int = 0  # matching requests let through untouched before this fault strikes

    def applies(self, request: Request) -> bool:
        return ((self.path is None or request.path.startswith(self.path))
                and (self.method is None or request.method == self.method))


@dataclass
class FakeYouTube:
    oauth: FakeGoogleOAuth = field(default_factory=FakeGoogleOAuth)
    channel: Channel | None = field(default_factory=Channel)  # None: the Google account has no channel
    complete_status: int = 201
    uploads_left: int = 100  # videos the channel may still upload today
    granule: int = GRANULE
    expire_tokens_after_chunks: int | None = None  # the access token runs out mid-upload

    def __post_init__(self):
        self.lock = threading.RLock()
        self.ids = itertools.count(1)
        self.videos: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.faults: list[Fault] = []

    # ---- what tests call -------------------------------------------------------------------------------

    def fail_next(self, status=503, reason="backendError", *, times=1, path=None, method=None, headers=None):
        self.faults.append(Fault("status", times, path, method, status=status, reason=reason, headers=headers or {}))

    def drop_next(self, after_bytes: int, *, times=1, skip=0, path="/upload/", method="PUT"):
        """Of the next matching chunk only `after_bytes` arrive; then the connection drops unanswered."""
        self.faults.append(Fault("drop", times, path, method, after_bytes=after_bytes, skip=skip))

    def drop_reply_next(self, *, times=1, skip=0, path="/upload/", method="PUT"):
        """The next matching request is carried out, but its reply is lost with the connection."""
        self.faults.append(Fault("drop_reply", times, path, method, skip=skip))

    def delay_next(self, seconds: float, *, times=1, path=None, method=None):
        self.faults.append(Fault("delay", times, path, method, seconds=seconds))

    def add_video(self, title: str, description: str = "", *, published_at: float | None = None) -> str:
        """A video already on the channel (uploaded some other way)."""
        return self._create({"snippet": {"title": title, "description": description, "categoryId": "25"},
                             "status": {"privacyStatus": "public"}}, b"", published_at)

    def stored(self, upload_id: str | None = None) -> bytes:
        with self.lock:
            session = self.sessions[upload_id] if upload_id else list(self.sessions.values())[-1]
            return bytes(session["data"])

    def live_videos(self) -> list[dict]:
        return [v for v in self.videos.values() if not v["deleted"]]

    # ---- WSGI ------------------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        fault = self._take_fault(request)
        if fault and fault.kind == "delay":
            time.sleep(fault.seconds)
        elif fault and fault.kind == "status":
            return error_body(fault.status, fault.reason, headers=fault.headers)(environ, start_response)
        response = self._route(request, fault)
        if fault and fault.kind == "drop_reply":
            _drop(environ)
        return response(environ, start_response)

    def _take_fault(self, request: Request) -> Fault | None:
        return take_fault(self.faults, self.lock, lambda f: f.applies(request))

    def _route(self, request: Request, fault: Fault | None) -> Response:
        path, method = request.path, request.method
        if path == "/o/oauth2/v2/auth":
            return self.oauth.consent(request)
        if path == "/token" and method == "POST":
            return self.oauth.token(request)
        scopes = self.oauth.scope_of(request.headers.get("Authorization", ""))
        if scopes is None:
            return error_body(401, "authError")
        needed = WRITE if (path, method) == ("/youtube/v3/videos", "DELETE") else \
            UPLOAD if path.startswith("/upload/") else READ
        if not scopes & needed:
            return error_body(403, "insufficientPermissions")
        if path == "/upload/youtube/v3/videos" and method == "POST" and request.args.get("uploadType") == "resumable":
            return self._open_session(request)
        if path == "/upload/youtube/v3/videos" and method == "PUT":
            return self._put(request, request.environ, fault)
        if self.channel is None and path.startswith("/youtube/v3/") and path != "/youtube/v3/channels":
            return error_body(401, "youtubeSignupRequired")
        if path == "/youtube/v3/channels" and method == "GET":
            return self._channels(request)
        if path == "/youtube/v3/videos" and method == "GET":
            return self._list_videos(request)
        if path == "/youtube/v3/videos" and method == "DELETE":
            return self._delete(request)
        if path == "/youtube/v3/playlistItems" and method == "GET":
            return self._playlist_items(request)
        return error_body(404, "notFound")

    # ---- resumable upload ------------------------------------------------------------------------------

    def _open_session(self, request: Request) -> Response:
        parts = set(request.args.get("part", "").split(","))
        metadata = request.get_json(silent=True)
        size = request.headers.get("X-Upload-Content-Length", "")
        kind = request.headers.get("X-Upload-Content-Type", "")
        if not {"snippet", "status"} <= parts or not isinstance(metadata, dict) or not size.isdigit():
            return error_body(400, "badRequest")
        if not (kind.startswith("video/") or kind == "application/octet-stream"):
            return error_body(400, "invalidFilename")
        if self.channel is None:
            return error_body(401, "youtubeSignupRequired")
        problem = metadata_error(metadata)
        if problem:
            return error_body(400, problem)
        with self.lock:
            if self.uploads_left <= 0:
                return error_body(400, "uploadLimitExceeded")
            upload_id = secrets.token_urlsafe(16)
            self.sessions[upload_id] = {"metadata": metadata, "total": int(size), "type": kind,
                                        "data": bytearray(), "video": None}
        location = f"{request.host_url.rstrip('/')}/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}"
        return Response(status=200, headers={"Location": location, "X-GUploader-UploadID": upload_id})

    def _put(self, request: Request, environ, fault: Fault | None) -> Response:
        session = self.sessions.get(request.args.get("upload_id", ""))
        if session is None:
            return error_body(404, "notFound")  # an unknown or expired session
        content_range = request.headers.get("Content-Range", "")
        body = request.get_data()
        total = session["total"]
        if re.fullmatch(rf"bytes \*/{total}", content_range) and not body:
            if fault and fault.kind == "drop":
                _drop(environ)
            return self._session_state(session)
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range)
        if not m or int(m[3]) != total or int(m[2]) - int(m[1]) + 1 != len(body) or int(m[2]) >= total:
            return error_body(400, "badRequest", "Failed to parse Content-Range header.")
        first, last = int(m[1]), int(m[2])
        with self.lock:
            if session["video"] is not None:
                return self._session_state(session)
            have = len(session["data"])
            if first > have:
                return error_body(400, "badRequest", "The chunk does not follow on from the bytes received.")
            if last + 1 < total and len(body) % self.granule:
                return error_body(400, "badRequest", "Chunks other than the last must be a multiple of 256 KiB.")
            if fault and fault.kind == "drop":  # only part of the chunk arrived before the line went dead
                session["data"].extend(body[have - first:max(have - first, fault.after_bytes)])
                _drop(environ)
            session["data"].extend(body[have - first:])
            session["chunks"] = session.get("chunks", 0) + 1
            if session["chunks"] == self.expire_tokens_after_chunks:
                self.oauth.expire_tokens()
            if len(session["data"]) == total:
                session["video"] = self._create(session["metadata"], bytes(session["data"]))
                self.uploads_left -= 1
        return self._session_state(session)

    def _session_state(self, session: dict) -> Response:
        if session["video"] is not None:
            return google_json(self.videos[session["video"]]["resource"], self.complete_status)
        stored = len(session["data"])
        headers = {"Range": f"bytes=0-{stored - 1}"} if stored else {}
        return Response(status=308, headers=headers)

    def _create(self, metadata: dict, data: bytes, published_at: float | None = None) -> str:
        video_id = f"vid{next(self.ids):08d}"
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(published_at or time.time()))
        snippet = {**metadata["snippet"], "publishedAt": when, "channelId": self.channel.id,
                   "channelTitle": self.channel.title}
        status = {"uploadStatus": "uploaded", "license": "youtube", "embeddable": True, **metadata.get("status", {})}
        with self.lock:
            self.videos[video_id] = {"resource": {"kind": "youtube#video", "etag": secrets.token_hex(8),
                                                  "id": video_id, "snippet": snippet, "status": status},
                                     "bytes": data, "deleted": False, "views": 100 + len(self.videos)}
        return video_id

    # ---- the rest of the API ---------------------------------------------------------------------------

    def _channels(self, request: Request) -> Response:
        if request.args.get("mine") != "true":
            return error_body(400, "missingRequiredParameter")
        items = []
        if self.channel is not None:
            c, parts = self.channel, request.args.get("part", "").split(",")
            item = {"kind": "youtube#channel", "id": c.id}
            if "snippet" in parts:
                item["snippet"] = {"title": c.title, "customUrl": c.custom_url, "description": ""}
            if "contentDetails" in parts:
                item["contentDetails"] = {"relatedPlaylists": {"likes": "LL", "uploads": c.uploads}}
            items.append(item)
        return google_json({"kind": "youtube#channelListResponse", "pageInfo": {"totalResults": len(items),
                            "resultsPerPage": 5}, "items": items})

    def _list_videos(self, request: Request) -> Response:
        ids = [i for i in request.args.get("id", "").split(",") if i]
        if not ids or request.args.get("part") != "statistics":
            return error_body(400, "missingRequiredParameter")
        items = []
        for video_id in ids:
            video = self.videos.get(video_id)
            if video and not video["deleted"]:
                items.append({"kind": "youtube#video", "id": video_id, "statistics": {
                    "viewCount": str(video["views"]), "likeCount": "12", "favoriteCount": "0", "commentCount": "3"}})
        return google_json({"kind": "youtube#videoListResponse", "items": items,
                            "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}})

    def _delete(self, request: Request) -> Response:
        with self.lock:
            video = self.videos.get(request.args.get("id", ""))
            if video is None or video["deleted"]:
                return error_body(404, "videoNotFound")
            video["deleted"] = True
        return Response(status=204)

    def _playlist_items(self, request: Request) -> Response:
        if request.args.get("playlistId") != self.channel.uploads:
            return error_body(404, "playlistNotFound")
        size = min(50, int(request.args.get("maxResults", "5")))
        start = int(request.args.get("pageToken") or 0)
        newest = sorted(self.live_videos(), key=lambda v: (v["resource"]["snippet"]["publishedAt"],
                                                            v["resource"]["id"]), reverse=True)
        page = newest[start:start + size]
        body = {"kind": "youtube#playlistItemListResponse", "items": [{
            "kind": "youtube#playlistItem", "id": "PLI" + v["resource"]["id"], "snippet": {
                **{k: v["resource"]["snippet"][k] for k in ("title", "description", "publishedAt", "channelId")},
                "playlistId": self.channel.uploads, "resourceId": {"kind": "youtube#video",
                                                                   "videoId": v["resource"]["id"]}}} for v in page],
            "pageInfo": {"totalResults": len(newest), "resultsPerPage": size}}
        if start + size < len(newest):
            body["nextPageToken"] = str(start + size)
        return google_json(body)


def _drop(environ) -> None:
    """Close the connection without a reply, as a broken line or a crashed front end would."""
    sock = environ["werkzeug.socket"]
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        raise ConnectionResetError("connection dropped by the fake")
