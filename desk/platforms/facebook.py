"""Facebook Pages: publish, delete, counts and reconciliation through the Graph API, with requests-oauthlib.

Connecting (facebook_connect.py): one login gives access to every Page the administrator manages, so
`complete_authorization` returns a LIST of RemoteAccount, one per Page, for the administrator to pick which
become channels (each Page its own channel with its own Page token):

    RemoteAccount(
        id="1234567890",                     # the Page id: the channel's remote_account_id
        name="Metropolitan Police Events",   # the Page's name
        handle="@metpoliceevents" or None,   # the Page's username, when it has one
        credentials=SecretDict(              # store encrypted on the channel; never show it
            page_id="1234567890", page_access_token="...", user_id="<who connected>",
            scopes="pages_manage_posts,..."),
        details={"category": "Government organization", "tasks": ["CREATE_CONTENT", "MANAGE", ...],
                 "can_publish": True,        # the person may create content as the Page
                 "can_post_videos": True})   # publish_video was granted

Publishing: text and link -> `POST /{page}/feed` (message, link); photos, one or several -> each uploaded
unpublished (`POST /{page}/photos`, multipart `source`, `published=false`), then one feed post with
`attached_media`, so that the call that creates the post is a small one made after every upload, with
the worker's fence right before it; one video -> `POST /{page}/videos` on the video host (multipart
`source`, title, description), where the upload itself creates the post. Page tokens do not expire, so
there is nothing to refresh: when Facebook stops accepting one (error 190), the channel needs a reconnect.
"""
from __future__ import annotations

import json
import time
import unicodedata

from requests_oauthlib import OAuth2Session

from .. import crypto
from .base import (
    AMBIGUOUS,
    AUTH,
    PERMANENT,
    TRANSIENT,
    AuthorizationStart,
    Content,
    PlatformContext,
    PlatformError,
    Problem,
    Publisher,
    PublishRequest,
    RemoteAccount,
    RemoteRef,
    register,
)
from .facebook_connect import finish, proof, start
from .facebook_errors import LABEL, graph_error, is_gone
from .facebook_media import PHOTO_TYPES, VIDEO_TYPES, compose, content_problems, upload_kwargs
from .facebook_settings import facebook_settings_for
from .http import json_body, send

COUNT = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
MAX_FEED_PAGES = 4


def comparable(text: str | None) -> str:
    """A message reduced to what survives Facebook's storage (spacing, Unicode forms, case)."""
    return " ".join(unicodedata.normalize("NFC", text or "").split()).casefold()


class _Graph:
    """One session for one piece of work, with the Page token in the Authorization header."""

    def __init__(self, publisher: FacebookPublisher, credentials: dict):
        self.publisher, self.credentials = publisher, credentials
        token = credentials["page_access_token"]
        self.proof = proof(publisher.settings.app_secret, token)
        self.session = OAuth2Session(publisher.settings.app_id, token={"access_token": token, "token_type": "Bearer"})

    def __enter__(self) -> _Graph:
        return self

    def __exit__(self, *exc) -> None:
        self.session.close()

    def call(self, method: str, path: str, *, video: bool = False, publishing: bool = False,
             idempotent: bool | None = None, params: dict | None = None, timeout=None, **kwargs) -> dict:
        s = self.publisher.settings
        url = s.video(path) if video else s.graph(path)
        response = send(self.session, method, url, label=LABEL, timeout=timeout or self.publisher.context.timeout,
                        idempotent=False if publishing else idempotent,
                        params={**(params or {}), "appsecret_proof": self.proof}, **kwargs)
        body = json_body(response)
        if response.status_code == 200 and "error" not in body:
            return body
        raise graph_error(response, publishing=publishing, now=self.publisher.clock)


@register
class FacebookPublisher(Publisher):
    platform = "facebook"
    label = "Facebook"
    clock = staticmethod(time.time)  # tests replace it to move the reconciliation window

    def __init__(self, channel, context: PlatformContext):
        super().__init__(channel, context)
        self.settings = facebook_settings_for(context.settings)

    @classmethod
    def validate(cls, content: Content) -> list[Problem]:
        return content_problems(content)

    # ---- credentials ---------------------------------------------------------------------------------

    def credentials(self) -> crypto.SecretDict:
        credentials = super().credentials()
        if not credentials.get("page_access_token") or not credentials.get("page_id"):
            raise PlatformError(AUTH, "This Facebook channel has no Page token: an administrator must reconnect it.",
                                code="not-connected")
        return credentials

    def _graph(self) -> _Graph:
        return _Graph(self, self.credentials())

    def _page_id(self, graph: _Graph) -> str:
        return str(graph.credentials["page_id"])  # the Page its token belongs to

    def _url(self, object_id: str, page_id: str, kind: str = "posts") -> str:
        if "_" in object_id:
            page_id, object_id = object_id.split("_", 1)
        return f"{self.settings.web_base}/{page_id}/{kind}/{object_id}"

    # ---- publishing ----------------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> RemoteRef:
        problems = self.validate(request.content)
        if problems:
            raise PlatformError(PERMANENT, problems[0].message + " Nothing was posted.", code="invalid")
        content, message = request.content, compose(request.content)
        photos = [m for m in content.media if m.mime_type in PHOTO_TYPES]
        videos = [m for m in content.media if m.mime_type in VIDEO_TYPES]
        with self._graph() as graph:
            page = self._page_id(graph)
            if videos:
                return self._video(graph, page, content, message, request)
            form = {"message": message} if message else {}
            if photos:
                # Each photo waits unpublished (retrying one only leaves an unused photo), then one post shows
                # them all: one photo too, so that no upload is the call that publishes.
                for index, item in enumerate(photos):
                    uploaded = graph.call("POST", f"/{page}/photos", idempotent=True, **upload_kwargs(
                        {"published": "false", "alt_text_custom": item.alt_text or None}, "source", item))
                    form[f"attached_media[{index}]"] = json.dumps({"media_fbid": str(uploaded["id"])})
            elif content.link:
                form["link"] = content.link.strip()
            timeout = request.before_create(self.context.timeout)  # the fence: after the uploads, before the post
            post = graph.call("POST", f"/{page}/feed", publishing=True, data=form, timeout=timeout)
            return self._ref(post.get("id"), page)

    def _video(self, graph: _Graph, page: str, content: Content, message: str, request: PublishRequest) -> RemoteRef:
        item = next(m for m in content.media if m.mime_type in VIDEO_TYPES)
        title = str((content.extra or {}).get("title") or "").strip() or None
        # Here the upload is the call that creates the post: the fence comes before its first byte.
        timeout = request.before_create(self.context.timeout)
        body = graph.call("POST", f"/{page}/videos", video=True, publishing=True, timeout=timeout, **upload_kwargs(
            {"title": title, "description": message or None}, "source", item))
        return self._ref(body.get("id"), page, "videos")

    def _ref(self, object_id, page: str, kind: str = "posts") -> RemoteRef:
        if not object_id:
            raise PlatformError(AMBIGUOUS, "Facebook accepted the post but did not say "
                                "under which id. The desk will look for it on the Page before doing anything else.",
                                code="no-id")
        return RemoteRef(str(object_id), self._url(str(object_id), page, kind))

    # ---- after publishing ----------------------------------------------------------------------------

    def delete(self, ref: RemoteRef) -> None:
        with self._graph() as graph:
            try:
                body = graph.call("DELETE", f"/{ref.id}")
            except PlatformError as exc:
                if is_gone(exc):
                    return  # already gone from Facebook: what the desk wanted
                raise
        if body.get("success") is not True:
            raise PlatformError(TRANSIENT, "Facebook did not confirm the deletion. Try again in a moment.",
                                code="not-deleted")

    def fetch_metrics(self, ref: RemoteRef) -> dict[str, int]:
        is_post = "_" in ref.id  # Page posts are {page}_{post}; a video is known by its own id
        with self._graph() as graph:
            try:
                body = graph.call("GET", f"/{ref.id}", params={"fields": COUNT + (",shares" if is_post else "")})
            except PlatformError as exc:
                if is_gone(exc):
                    raise PlatformError(PERMANENT, "The post is no longer on Facebook (deleted there?), so it has no "
                                        "figures.", code="not-found") from None
                raise
            counts = {"likes": _total(body, "reactions"), "comments": _total(body, "comments")}
            if is_post:
                counts["shares"] = int((body.get("shares") or {}).get("count") or 0)
            views = self._views(graph, ref.id, is_post)
        if views is not None:
            counts["views"] = views
        return counts

    def _views(self, graph: _Graph, object_id: str, is_post: bool) -> int | None:
        path, metric = ((f"/{object_id}/insights", self.settings.post_views_metric) if is_post
                        else (f"/{object_id}/video_insights", "total_video_views"))
        try:
            data = graph.call("GET", path, params={"metric": metric}).get("data") or []
        except PlatformError as exc:
            if exc.code and exc.code.split("/")[0] == "100":
                return None  # Meta renames its insights metrics now and then: the other counts still stand
            raise
        values = (data[0].get("values") or [{}]) if data and isinstance(data[0], dict) else [{}]
        value = values[-1].get("value")
        return int(value) if isinstance(value, (int, float)) else None

    def find_published(self, request: PublishRequest) -> RemoteRef | None:
        """The Page's post with this message in the last hours, if Facebook has it (after a crash or an unclear
        reply). A post with no words at all is matched as the newest wordless post in that window."""
        wanted = comparable(compose(request.content))
        since = int(request.earliest(self.clock() - self.settings.find_window_hours * 3600))
        params = {"fields": "id,message,created_time", "since": since, "limit": 50}
        with self._graph() as graph:
            page = self._page_id(graph)
            for _ in range(MAX_FEED_PAGES):
                body = graph.call("GET", f"/{page}/published_posts", params=params)
                for post in body.get("data") or []:
                    if isinstance(post, dict) and post.get("id") and comparable(post.get("message")) == wanted:
                        return RemoteRef(str(post["id"]), self._url(str(post["id"]), page))
                after = ((body.get("paging") or {}).get("cursors") or {}).get("after")
                if not after or not (body.get("paging") or {}).get("next"):
                    break
                params = {**params, "after": after}
        return None

    # ---- connecting Pages ----------------------------------------------------------------------------

    def authorization_url(self, callback_url: str, state: str) -> AuthorizationStart:
        return start(self, callback_url, state)

    def complete_authorization(self, callback_args: dict, pending: dict) -> list[RemoteAccount]:
        return finish(self, callback_args, pending)

    def refresh(self) -> dict | None:
        return None  # Page tokens from a long-lived user token do not expire; a dead one needs a reconnect


def _total(body: dict, edge: str) -> int:
    return int(((body.get(edge) or {}).get("summary") or {}).get("total_count") or 0)
