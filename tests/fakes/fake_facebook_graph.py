"""The Graph objects of the fake Facebook: the person's Pages, and each Page's posts, photos and videos.

Page endpoints need that Page's token (a user token gets Facebook's #210) and the permissions the dialog
granted; objects can be read or deleted only with the token of the Page they belong to. Counts are
deterministic, so tests can assert on them; a post with no shares has no `shares` field, as on Facebook.
"""
from __future__ import annotations

import base64
import json
import re
import time

from werkzeug.wrappers import Request, Response

from desk.domain.media_types import sniff_type
from tests.fakes.fake_facebook import METRICS, _iso, _json, graph_error

PHOTO_KINDS = ("image/jpeg", "image/png", "image/gif")
VIDEO_KINDS = ("video/mp4", "video/quicktime")
NODE_FIELDS = {"post": {"id", "message", "created_time", "reactions", "comments", "shares", "permalink_url"},
               "video": {"id", "title", "description", "reactions", "comments", "permalink_url", "length"},
               "photo": {"id", "name", "reactions", "comments", "alt_text_custom"}}
NODE_NAMES = {"post": "Post", "video": "Video", "photo": "Photo"}
CANNOT_POST = ("(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an "
               "admin with sufficient administrative permission")


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def _index(cursor: str | None) -> int:
    try:
        return int(base64.urlsafe_b64decode((cursor or "").encode()).decode() or 0)
    except ValueError:
        return 0


def _missing(object_id: str, verb: str = "get") -> Response:
    return graph_error(100, f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be "
                       "loaded due to missing permissions, or does not support this operation.", 33,
                       kind="GraphMethodException")


def route(fake, request: Request, path: str, method: str) -> Response:
    who = fake.authenticate(request)
    if isinstance(who, Response):
        return who
    parts = path.strip("/").split("/")
    if parts[0] == "me":
        return _me(fake, request, who, parts[1:])
    if len(parts) == 2 and parts[1] in ("feed", "photos", "videos", "published_posts"):
        page = fake.page(parts[0])
        if who[0] != "page":
            return graph_error(210, "(#210) A page access token is required to request this resource.")
        if page is None or who[1].id != page.id:
            return graph_error(200, "(#200) The user hasn't authorized the application to perform this action")
        if method == "GET" and parts[1] == "published_posts":
            return _published(fake, request, page)
        if method == "POST" and parts[1] != "published_posts":
            if "pages_manage_posts" not in fake.granted or not {"CREATE_CONTENT", "MANAGE"} & set(page.tasks):
                return graph_error(200, CANNOT_POST)
            if parts[1] == "videos" and "publish_video" not in fake.granted:
                return graph_error(10, "(#10) Application does not have permission for this action")
            return {"feed": _feed, "photos": _photo, "videos": _video}[parts[1]](fake, request, page)
    if who[0] != "page":
        return graph_error(210, "(#210) A page access token is required to request this resource.")
    obj = fake.objects.get(parts[0])
    if obj is None or obj["deleted"] or obj["page_id"] != who[1].id:
        return _missing(parts[0], "delete" if method == "DELETE" else "get")
    if len(parts) == 1 and method == "DELETE":
        if "pages_manage_posts" not in fake.granted:
            return graph_error(200, CANNOT_POST)
        with fake.lock:
            for linked in (obj, fake.objects.get(obj.get("post_id") or ""), fake.objects.get(obj.get("video") or "")):
                if linked:
                    linked["deleted"] = True
        return _json({"success": True})
    if "pages_read_engagement" not in fake.granted:
        return graph_error(10, "(#10) This endpoint requires the 'pages_read_engagement' permission or the "
                           "'Page Public Content Access' feature.")
    if len(parts) == 1 and method == "GET":
        return _node(obj, request)
    if len(parts) == 2 and method == "GET" and parts[1] in ("insights", "video_insights"):
        return _insights(obj, request, parts[1])
    return graph_error(100, f"(#100) Unknown path components: /{'/'.join(parts[1:])}", kind="GraphMethodException")


def _me(fake, request: Request, who, rest: list[str]) -> Response:
    if who[0] == "page":
        page = who[1]
        return _json({"id": page.id, "name": page.name}) if not rest else \
            graph_error(100, "(#100) Tried accessing nonexisting field on node type (Page)")
    if not rest:
        return _json({"id": fake.user_id, "name": fake.user_name})
    if rest == ["permissions"]:
        rows = [{"permission": "public_profile", "status": "granted"}]
        rows += [{"permission": s, "status": "granted" if s in who[1] else "declined"}
                 for s in sorted(who[1] | fake.declined)]
        return _json({"data": rows})
    if rest == ["accounts"]:
        pages = fake.pages if "pages_show_list" in who[1] else []
        start = _index(request.args.get("after"))
        size = min(int(request.args.get("limit", "25")), fake.page_size)
        wanted = set((request.args.get("fields") or "id,name,category,tasks,access_token").split(","))
        rows = []
        for page in pages[start:start + size]:
            row = {"id": page.id, "name": page.name, "category": page.category, "tasks": list(page.tasks),
                   "access_token": page.new_token()}
            if page.username:
                row["username"] = page.username
            rows.append({k: v for k, v in row.items() if k in wanted or k == "id"})
        body = {"data": rows, "paging": {"cursors": {"before": _cursor(start), "after": _cursor(start + size)}}}
        if start + size < len(pages):  # Facebook's own next link carries the token: clients should not follow it
            token = request.headers.get("Authorization", " ").split(" ", 1)[1]
            body["paging"]["next"] = (f"https://graph.facebook.com/{fake.version}/me/accounts?access_token={token}"
                                      f"&limit={size}&after={_cursor(start + size)}")
        return _json(body)
    return graph_error(100, "(#100) Unknown path components", kind="GraphMethodException")


def _new_post(fake, page, message: str, **more) -> dict:
    post_id = f"{page.id}_{fake.next_id()}"
    n = int(post_id.rsplit("_", 1)[1])
    post = {"id": post_id, "kind": "post", "page_id": page.id, "message": message, "created": time.time(),
            "deleted": False, "reactions": 5 + n % 7, "comments": 2, "shares": 0, "views": 100 + n % 50, **more}
    post["shares"] = 3 if post.get("link") else 0
    fake.objects[post_id] = post
    return post


def _feed(fake, request: Request, page) -> Response:
    form = request.form
    message, link = form.get("message", ""), form.get("link", "")
    media = [json.loads(v)["media_fbid"] for k, v in sorted(form.items()) if re.fullmatch(r"attached_media\[\d+]", k)]
    if form.get("attached_media"):
        media += [m["media_fbid"] for m in json.loads(form["attached_media"])]
    if not (message or link or media):
        return graph_error(100, "(#100) Missing message or attachment")
    if len(message) > 63206:
        return graph_error(100, "(#100) Message is too long")
    if link and not re.match(r"https?://[^\s/]+", link):
        return graph_error(100, "(#100) The parameter link must be a valid URL")
    with fake.lock:
        for media_id in media:
            photo = fake.objects.get(media_id)
            if not photo or photo["kind"] != "photo" or photo["page_id"] != page.id or photo["published"] \
                    or photo.get("post_id"):
                return graph_error(100, f"(#100) Invalid media_fbid {media_id}")
        if message and any(p["message"] == message and p.get("link", "") == link for p in fake.live()
                           if p["page_id"] == page.id):
            return graph_error(506, "(#506) Duplicate status message")
        post = _new_post(fake, page, message, link=link, media=media)
        for media_id in media:
            fake.objects[media_id]["post_id"] = post["id"]
    return _json({"id": post["id"]})


def _upload(request: Request, kinds) -> tuple[bytes, str | None]:
    """The uploaded `source` and its type as read from its bytes (None when not one of `kinds`)."""
    data = request.files["source"].read()
    kind = sniff_type(data[:64])
    return data, kind if kind in kinds else None


def _photo(fake, request: Request, page) -> Response:
    data, kind = _upload(request, PHOTO_KINDS) if request.files.get("source") else (b"", None)
    if kind is None:
        return graph_error(324, "(#324) Missing or invalid image file")
    published = request.form.get("published", "true").lower() != "false"
    message = request.form.get("message", "")
    with fake.lock:
        photo_id = fake.next_id()
        photo = {"id": photo_id, "kind": "photo", "page_id": page.id, "published": published, "bytes": data,
                 "alt_text": request.form.get("alt_text_custom", ""), "deleted": False, "post_id": None}
        fake.objects[photo_id] = photo
        if not published:
            return _json({"id": photo_id})
        post = _new_post(fake, page, message, media=[photo_id])
        photo["post_id"] = post["id"]
    return _json({"id": photo_id, "post_id": post["id"]})


def _video(fake, request: Request, page) -> Response:
    if request.files.get("source") is None:
        return graph_error(100, "No Video Selected. Please select the video you want to upload.", 1363020)
    data, kind = _upload(request, VIDEO_KINDS)
    if len(data) < 1024:
        return graph_error(100, "The video you tried to upload is too small. The minimum size for a video is 1 KB.",
                           1363022)
    if kind is None:
        return graph_error(352, "(#352) Sorry, the video file you selected is in a format that we don't support.")
    form = request.form
    with fake.lock:
        video_id = fake.next_id()
        post = _new_post(fake, page, form.get("description", ""), video=video_id)
        fake.objects[video_id] = {"id": video_id, "kind": "video", "page_id": page.id, "title": form.get("title", ""),
                                  "description": form.get("description", ""), "bytes": data, "deleted": False,
                                  "post_id": post["id"], "views": 40, "reactions": 7, "comments": 1}
    return _json({"id": video_id})


def _published(fake, request: Request, page) -> Response:
    if "pages_read_engagement" not in fake.granted:
        return graph_error(10, "(#10) This endpoint requires the 'pages_read_engagement' permission or the "
                           "'Page Public Content Access' feature.")
    since = float(request.args.get("since") or 0)
    posts = sorted((p for p in fake.live() if p["page_id"] == page.id and p["created"] >= since),
                   key=lambda p: (p["created"], p["id"]), reverse=True)
    start, size = _index(request.args.get("after")), min(int(request.args.get("limit", "25")), 100)
    rows = [{"id": p["id"], "created_time": _iso(p["created"]), **({"message": p["message"]} if p["message"] else {})}
            for p in posts[start:start + size]]
    body = {"data": rows, "paging": {"cursors": {"before": _cursor(start), "after": _cursor(start + size)}}}
    if start + size < len(posts):
        body["paging"]["next"] = "https://graph.facebook.com/next-page-with-token"
    return _json(body)


def _node(obj: dict, request: Request) -> Response:
    kind = obj["kind"]
    body = {"id": obj["id"]}
    for spec in (request.args.get("fields") or "id").split(","):
        name = spec.split(".", 1)[0]
        if name not in NODE_FIELDS[kind]:
            return graph_error(100, f"(#100) Tried accessing nonexisting field ({name}) on node type "
                               f"({NODE_NAMES[kind]})", kind="GraphMethodException")
        if name == "reactions":
            body["reactions"] = {"data": [], "summary": {"total_count": obj.get("reactions", 0),
                                                         "viewer_reaction": "NONE"}}
        elif name == "comments":
            body["comments"] = {"data": [], "summary": {"order": "ranked", "total_count": obj.get("comments", 0),
                                                        "can_comment": True}}
        elif name == "shares":
            if obj.get("shares"):
                body["shares"] = {"count": obj["shares"]}
        elif name == "message" and obj.get("message"):
            body["message"] = obj["message"]
    return _json(body)


def _insights(obj: dict, request: Request, edge: str) -> Response:
    metric = request.args.get("metric", "")
    known = METRICS if edge == "insights" and obj["kind"] == "post" else \
        {"total_video_views"} if edge == "video_insights" and obj["kind"] == "video" else set()
    if metric not in known:
        return graph_error(100, "(#100) The value must be a valid insights metric", kind="GraphMethodException")
    return _json({"data": [{"name": metric, "period": "lifetime", "values": [{"value": obj.get("views", 0)}],
                            "title": "Lifetime views", "id": f"{obj['id']}/{edge}/{metric}/lifetime"}],
                  "paging": {}})
