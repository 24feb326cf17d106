"""Flickr: connect an account (OAuth 1.0a, perms=delete), upload a photo, delete it, read its figures, and
find it again after a crash, through requests-oauthlib.

One Flickr post is one photo. A post with several photos for a Flickr channel is refused by `validate`
(leave one ticked for Flickr): uploading each would give the desk one remote reference for several
photos, and retracting the post would leave the others on Flickr. Videos are not sent to Flickr.
The title is the press officer's, else the first line of the text; the description is theirs, else the
text, with the link added. Each upload carries a machine tag derived from the target's marker, which is
how `find_published` recognises it. Each piece of work opens one session and closes it; every call has
a timeout.
"""
from __future__ import annotations

import time
from xml.etree import ElementTree

from requests_oauthlib import OAuth1Session
from requests_oauthlib.oauth1_session import TokenMissing, TokenRequestDenied

from .. import crypto
from .base import (
    AMBIGUOUS,
    PERMANENT,
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
from .flickr_errors import LABEL, NOT_FOUND, flickr_error, http_failure, oauth_problem, unreadable
from .flickr_settings import PERMS, flickr_settings_for
from .flickr_upload import (
    CONTENT_TYPES,
    SAFETY_LEVELS,
    VISIBILITY,
    machine_tag,
    signed_upload,
    tags_of,
    title_of,
    upload_fields,
)
from .http import json_body, send, translated

PHOTO_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}
MAX_PHOTO_BYTES = 200 * 1024 * 1024  # Flickr's limit for a photo
MAX_TAGS = 75 - 1                    # Flickr keeps 75 tags a photo; the desk's machine tag is one of them
# Flickr documents no limit on titles and descriptions: these are the desk's own ceilings (unsure).
MAX_TITLE = 255
MAX_DESCRIPTION = 10_000


def _content(value) -> str:
    """Flickr's JSON wraps text as {"_content": "..."}; tolerate a bare value too."""
    return str(value.get("_content", "")) if isinstance(value, dict) else str(value or "")


def _int(value) -> int:
    try:
        return int(_content(value) or 0)
    except ValueError:
        return 0


class _Job:
    """One OAuth1 session (the channel's tokens) for one piece of work, closed at the end."""

    def __init__(self, publisher: FlickrPublisher, credentials: dict | None = None):
        self.publisher = publisher
        self.credentials = credentials if credentials is not None else publisher.credentials()
        self.session = None

    def __enter__(self) -> _Job:
        s, c = self.publisher.settings, self.credentials
        self.session = OAuth1Session(s.api_key, client_secret=s.api_secret, resource_owner_key=c["oauth_token"],
                                     resource_owner_secret=c["oauth_token_secret"])
        return self

    def __exit__(self, *exc) -> None:
        self.session.close()

    def rest(self, method: str, *, action: str, write: bool = False, **params) -> dict:
        """A signed REST call; Flickr's failures (usually HTTP 200 with stat=fail) raised as PlatformError."""
        p = self.publisher
        params = {"method": method, "format": "json", "nojsoncallback": "1",
                  **{k: str(v) for k, v in params.items()}}
        # Flickr's writes here (a delete) can be repeated safely, so a lost answer is simply retried.
        where = {"data": params} if write else {"params": params}
        response = send(self.session, "POST" if write else "GET", p.settings.rest_url, label=LABEL,
                        timeout=p.context.timeout, idempotent=True, **where)
        body = json_body(response)
        if body.get("stat") == "ok":
            return body
        if body.get("stat") == "fail":
            raise flickr_error(body.get("code"), str(body.get("message", "")), action=action)
        if response.status_code != 200:
            raise http_failure(response, action=action, writes=False)
        raise unreadable(action=action, writes=False)


def _photo_id(response) -> str:
    """The new photo's id from the upload's XML answer, or the reason it failed."""
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        root = None
    if root is None or root.tag != "rsp":
        if response.status_code != 200:
            raise http_failure(response, action="upload", writes=True)
        raise unreadable(action="upload", writes=True)
    if root.get("stat") == "ok" and (root.findtext("photoid") or "").strip():
        return root.findtext("photoid").strip()
    err = root.find("err")
    if root.get("stat") == "fail" and err is not None:
        raise flickr_error(err.get("code"), err.get("msg", ""), action="upload")
    raise PlatformError(AMBIGUOUS, "Flickr took the upload but did not say under which id. The desk will look "
                        "for the photo on Flickr before doing anything else.", code="no-id")


@register
class FlickrPublisher(Publisher):
    platform = "flickr"
    label = "Flickr"
    clock = staticmethod(time.time)  # tests replace it to move reconciliation's window

    def __init__(self, channel, context: PlatformContext):
        super().__init__(channel, context)
        self.settings = flickr_settings_for(context.settings)

    # ---- validation ----------------------------------------------------------------------------------

    @classmethod
    def validate(cls, content: Content) -> list[Problem]:
        problems = [Problem("media", m) for m in _photo_problems(content.media)]
        title = title_of(content) if content.extra.get("title") else ""
        if len(title) > MAX_TITLE:
            problems.append(Problem("title", f"The desk keeps Flickr titles to {MAX_TITLE} characters; this one has "
                                    f"{len(title)}. Shorten it by {len(title) - MAX_TITLE}."))
        description = str(content.extra.get("description") or "").strip() or content.text.strip()
        if len(description) > MAX_DESCRIPTION:
            field = "description" if content.extra.get("description") else "text"
            problems.append(Problem(field, f"The desk keeps Flickr descriptions to {MAX_DESCRIPTION:,} characters; "
                                    f"this one has {len(description):,}. Shorten it by "
                                    f"{len(description) - MAX_DESCRIPTION:,}."))
        problems.extend(Problem("tags", m) for m in _tag_problems(tags_of(content)))
        if (content.extra.get("privacy") or "public") not in VISIBILITY:
            problems.append(Problem("privacy", "Choose who may see the photo on Flickr: public, friends, family or "
                                    "private (only the account itself)."))
        if str(content.extra.get("safety_level") or 1) not in SAFETY_LEVELS:
            problems.append(Problem("safety_level", "Flickr's safety level is 1 (safe), 2 (moderate) or 3 "
                                    "(restricted)."))
        if str(content.extra.get("content_type") or 1) not in CONTENT_TYPES:
            problems.append(Problem("content_type", "Flickr's content type is 1 (photo), 2 (screenshot) or 3 "
                                    "(other)."))
        if content.link and not content.link.startswith(("http://", "https://")):
            problems.append(Problem("link", "A link must start with http:// or https://."))
        return problems

    # ---- credentials ---------------------------------------------------------------------------------

    def refresh(self) -> dict | None:
        return None  # Flickr's OAuth 1.0a tokens do not expire; a revoked one needs a reconnect

    # ---- publishing ----------------------------------------------------------------------------------

    def _url(self, credentials: dict, photo_id: str) -> str:
        owner = credentials.get("user_nsid") or getattr(self.channel, "remote_account_id", None)
        return f"{self.settings.web_base}/photos/{owner}/{photo_id}/"

    def publish(self, request: PublishRequest) -> RemoteRef:
        problems = self.validate(request.content)
        if problems:
            raise PlatformError(PERMANENT, problems[0].message + " Nothing was posted.", code="invalid")
        fields = upload_fields(request.content, request.marker)
        with _Job(self) as job:
            # The upload is the call that creates the photo: the fence comes before its first byte.
            timeout = request.before_create(self.context.timeout)
            response = signed_upload(job.session, self.settings.upload_url, fields, request.content.media[0],
                                     timeout=timeout, block=self.settings.upload_block_bytes)
            photo_id = _photo_id(response)
            return RemoteRef(photo_id, self._url(job.credentials, photo_id))

    def delete(self, ref: RemoteRef) -> None:
        with _Job(self) as job:
            try:
                job.rest("flickr.photos.delete", action="delete", write=True, photo_id=ref.id)
            except PlatformError as exc:
                if exc.code != str(NOT_FOUND):
                    raise
                # already gone from Flickr: what the desk wanted

    def fetch_metrics(self, ref: RemoteRef) -> dict[str, int]:
        """Views and comments from the photo's information, likes from its favourites (Flickr has no shares)."""
        with _Job(self) as job:
            photo = job.rest("flickr.photos.getInfo", action="read", photo_id=ref.id).get("photo") or {}
            faves = job.rest("flickr.photos.getFavorites", action="read", photo_id=ref.id, per_page=1)
        return {"views": _int(photo.get("views")), "likes": _int((faves.get("photo") or {}).get("total")),
                "comments": _int(photo.get("comments"))}

    def find_published(self, request: PublishRequest) -> RemoteRef | None:
        """The account's recent upload carrying this target's machine tag, if Flickr has it."""
        wanted = machine_tag(request.marker)
        since = int(self.clock() - self.settings.find_window_days * 86400)
        with _Job(self) as job:
            for page in range(1, self.settings.find_max_pages + 1):
                photos = job.rest("flickr.people.getPhotos", action="read", user_id="me", min_upload_date=since,
                                  extras="machine_tags,date_upload", per_page=100, page=page).get("photos") or {}
                for photo in photos.get("photo") or []:
                    if wanted in str(photo.get("machine_tags", "")).lower().split():
                        return RemoteRef(str(photo["id"]), self._url(job.credentials, str(photo["id"])))
                if page >= _int(photos.get("pages")):
                    break
        return None

    # ---- connecting an account -----------------------------------------------------------------------

    def authorization_url(self, callback_url: str, state: str) -> AuthorizationStart:
        s = self.settings
        if not s.configured:
            raise PlatformError(PERMANENT, s.not_configured_message, code="not-configured")
        session = OAuth1Session(s.api_key, client_secret=s.api_secret, callback_uri=callback_url)
        try:
            with translated(LABEL, idempotent=True):
                token = session.fetch_request_token(s.oauth_url("request_token"), timeout=self.context.timeout)
        except (TokenRequestDenied, TokenMissing, ValueError) as exc:
            raise oauth_problem(exc, step="request_token", callback_url=callback_url) from None
        finally:
            session.close()
        # Unsigned, in the browser; "delete" because retracting a post deletes the photo ("write" cannot).
        url = session.authorization_url(s.oauth_url("authorize"), perms=PERMS)
        return AuthorizationStart(url, crypto.SecretDict(oauth_token=token["oauth_token"],
                                                         oauth_token_secret=token["oauth_token_secret"], state=state))

    def complete_authorization(self, callback_args: dict, pending: dict) -> list[RemoteAccount]:
        """The account the consent granted, with the credentials to store, from Flickr's redirect back."""
        if "denied" in callback_args or callback_args.get("error"):
            raise PlatformError(PERMANENT, "The Flickr account holder did not give the desk access, so nothing was "
                                "connected. Start again and choose \u201cOK, I'll authorize it\u201d on Flickr.",
                                code="denied")
        if callback_args.get("oauth_token") != pending.get("oauth_token") or not callback_args.get("oauth_verifier"):
            raise PlatformError(PERMANENT, "Flickr's answer does not match the connection the desk started (an old "
                                "or repeated link?). Nothing was connected: start again.", code="mismatch")
        s = self.settings
        session = OAuth1Session(s.api_key, client_secret=s.api_secret, resource_owner_key=pending["oauth_token"],
                                resource_owner_secret=pending["oauth_token_secret"],
                                verifier=callback_args["oauth_verifier"])
        try:
            with translated(LABEL, idempotent=False):
                token = session.fetch_access_token(s.oauth_url("access_token"), timeout=self.context.timeout)
        except (TokenRequestDenied, TokenMissing, ValueError) as exc:
            raise oauth_problem(exc, step="access_token") from None
        finally:
            session.close()
        credentials = crypto.SecretDict(
            oauth_token=token["oauth_token"], oauth_token_secret=token["oauth_token_secret"], perms=PERMS,
            user_nsid=token.get("user_nsid", ""), username=token.get("username", ""),
            fullname=token.get("fullname", ""))
        with _Job(self, credentials) as job:  # proves the new token works, and whose it is
            user = job.rest("flickr.test.login", action="connect").get("user") or {}
        credentials.update(user_nsid=str(user.get("id") or credentials["user_nsid"]),
                           username=_content(user.get("username")) or credentials["username"])
        return [RemoteAccount(id=credentials["user_nsid"], name=credentials["fullname"] or credentials["username"],
                              handle=credentials["username"] or None, credentials=credentials)]


def _photo_problems(media) -> list[str]:
    if not media:
        return ["Flickr needs a photo: attach one (JPEG, PNG or GIF)."]
    problems = []
    if len(media) > 1:
        problems.append(f"Flickr takes one photo per post, and {len(media)} are chosen for this channel: leave one "
                        "ticked for Flickr (make another post for each further photo).")
    for item in media:
        name = item.filename or "The file"
        if item.is_video:
            problems.append(f"The desk sends photos to Flickr, not videos: untick {name} for this Flickr channel "
                            "(send it to YouTube or another channel instead).")
        elif item.mime_type not in PHOTO_TYPES:
            problems.append(f"Flickr takes JPEG, PNG and GIF photos, and {name} is not one of them "
                            f"({item.mime_type}). Save it as a JPEG or PNG and attach it again.")
        elif item.size == 0:
            problems.append(f"{name} is empty (0 bytes): attach the photo again.")
        elif item.size > MAX_PHOTO_BYTES:
            problems.append(f"{name} is {item.size / 1024 / 1024:,.0f} MB, and Flickr takes photos of at most "
                            "200 MB. Attach a smaller copy.")
    return problems


def _tag_problems(tags: list[str]) -> list[str]:
    problems = [f"A Flickr tag cannot contain a double quote (\"): remove it from \u201c{t}\u201d." for t in tags
                if '"' in t]
    if len(tags) > MAX_TAGS:
        problems.append(f"Flickr takes at most {MAX_TAGS} tags here (75 a photo, one kept by the desk to recognise "
                        f"its post); there are {len(tags)}. Remove {len(tags) - MAX_TAGS}.")
    return problems
