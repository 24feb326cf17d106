"""YouTube: connect a channel with Google OAuth 2.0, upload videos (resumable), delete, metrics, reconcile.

The consent asks for offline access (a refresh token) and the `youtube` scope: `youtube.upload` alone
cannot delete. Access tokens live an hour; the desk refreshes them before they run out and once more on
a 401, storing the new one at once (Google keeps the refresh token, so the old one is kept when no new
one comes). Each piece of work opens one session and closes it; every call has a timeout.
"""
from __future__ import annotations

import logging
import time
import unicodedata

from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests_oauthlib import OAuth2Session

from .. import crypto
from .base import (
    AMBIGUOUS,
    AUTH,
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
from .http import json_body, retry_after_seconds, translated, unix_time
from .resumable_upload import ResumableUpload
from .session_job import SessionJob
from .youtube_content import description_of, media_problems, text_problems, title_of, video_resource
from .youtube_errors import EXPIRED, LABEL, token_error, youtube_error
from .youtube_settings import DELETE_SCOPES, for_settings

# urllib3 logs each request's URL at DEBUG, and an upload session's URI authorises the upload by itself.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

API = "/youtube/v3"
UPLOAD = "/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"


def _comparable(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split()).casefold()


def _check_token_reply(response):
    """Compliance hook: Google's refusals become the desk's errors before oauthlib parses the reply."""
    if response.status_code != 200:
        body = json_body(response)
        raise token_error(str(body.get("error") or ""), response.status_code, retry_after_seconds(response.headers))
    return response


class _Job(SessionJob):
    """YouTube's calls: JSON answers and Google's errors."""

    def call(self, method: str, path: str, *, ok=(200,), **kwargs) -> dict:
        response = self.request(method, path, **kwargs)
        if response.status_code in ok:
            return json_body(response)
        raise youtube_error(response, now=self.publisher.clock)


@register
class YouTubePublisher(Publisher):
    platform = "youtube"
    label = "YouTube"
    sleep = staticmethod(time.sleep)  # tests replace these two to run retries without waiting
    clock = staticmethod(time.time)

    def __init__(self, channel, context: PlatformContext):
        super().__init__(channel, context)
        self.settings = for_settings(context.settings)

    @classmethod
    def validate(cls, content: Content) -> list[Problem]:
        return text_problems(content) + media_problems(content.media)

    # ---- credentials and sessions --------------------------------------------------------------------

    def open_session(self, credentials: dict) -> OAuth2Session:
        return OAuth2Session(self.settings.client_id,
                             token={"access_token": credentials["access_token"], "token_type": "Bearer"})

    @staticmethod
    def can_refresh(credentials: dict) -> bool:
        return bool(credentials.get("refresh_token"))

    def refresh_credentials(self, credentials: dict) -> crypto.SecretDict:
        """A new access token, stored at once; Google normally keeps the refresh token, so the old one stays."""
        s = self.settings
        session = OAuth2Session(s.client_id)
        session.register_compliance_hook("refresh_token_response", _check_token_reply)
        try:
            with translated("Google", idempotent=True):  # a refresh changes nothing on Google's side
                token = session.refresh_token(s.token_url, refresh_token=credentials["refresh_token"],
                                              client_id=s.client_id, client_secret=s.client_secret,
                                              timeout=self.context.timeout)
        except OAuth2Error as exc:
            raise token_error(exc.error, exc.status_code) from None
        except KeyError:
            raise PlatformError(AUTH, EXPIRED, code="no-refresh-token") from None
        finally:
            session.close()
        fresh = crypto.SecretDict(credentials)
        fresh.update(access_token=token["access_token"], expires_at=self.clock() + float(token.get("expires_in")
                                                                                          or 3600),
                     refresh_token=token.get("refresh_token") or credentials["refresh_token"])
        self.store_credentials(fresh)
        return fresh

    def refresh(self) -> dict | None:
        return self.refresh_credentials(self.credentials())

    # ---- publishing ----------------------------------------------------------------------------------

    def _url(self, video_id: str) -> str:
        return f"{self.settings.web_base}/watch?v={video_id}"

    def publish(self, request: PublishRequest) -> RemoteRef:
        problems = self.validate(request.content)
        if problems:
            raise PlatformError(PERMANENT, problems[0].message + " Nothing was published.", code="invalid")
        video = next(m for m in request.content.media if m.is_video)
        s = self.settings
        with _Job(self) as job:
            upload = ResumableUpload(job.request, lambda r: youtube_error(r, now=self.clock), LABEL,
                                     s.upload_chunk_bytes, s.upload_retries, s.retry_wait, self.sleep,
                                     before_last=lambda: {"timeout": request.before_create(self.context.timeout)})
            resource = upload.run(s.api_base + UPLOAD, video_resource(request.content, s.category_id), video.path,
                                  video.mime_type)
        if not resource.get("id"):
            raise PlatformError(AMBIGUOUS, "YouTube took the video but did not say under which id. The desk will "
                                "look for it on the channel before doing anything else.", code="no-id")
        return RemoteRef(str(resource["id"]), self._url(str(resource["id"])))

    def delete(self, ref: RemoteRef) -> None:
        with _Job(self) as job:
            response = job.request("DELETE", f"{API}/videos", params={"id": ref.id})
        if response.status_code in (200, 204) or response.status_code == 404:
            return  # a 404: already gone from YouTube, which is what the desk wanted
        raise youtube_error(response, now=self.clock)

    def fetch_metrics(self, ref: RemoteRef) -> dict[str, int]:
        with _Job(self) as job:
            body = job.call("GET", f"{API}/videos", params={"part": "statistics", "id": ref.id})
        items = body.get("items") or []
        if not items:
            raise PlatformError(PERMANENT, "The video is no longer on YouTube (deleted there?), so it has no "
                                "figures.", code="not-found")
        stats = items[0].get("statistics") or {}
        return {"views": int(stats.get("viewCount") or 0), "likes": int(stats.get("likeCount") or 0),
                "comments": int(stats.get("commentCount") or 0)}

    def find_published(self, request: PublishRequest) -> RemoteRef | None:
        """The channel's recent upload with this title and description, if YouTube has it."""
        title, description = _comparable(title_of(request.content)), _comparable(description_of(request.content))
        since = request.earliest(self.clock() - self.settings.find_window_hours * 3600)
        with _Job(self) as job:
            playlist = job.credentials.get("uploads_playlist") or self._uploads_playlist(job)
            params = {"part": "snippet", "playlistId": playlist, "maxResults": 50}
            for _page in range(4):
                body = job.call("GET", f"{API}/playlistItems", params=params)
                items = body.get("items") or []
                for item in items:
                    snippet = item.get("snippet") or {}
                    if (_comparable(snippet.get("title", "")) == title
                            and _comparable(snippet.get("description", "")) == description
                            and _timestamp(snippet.get("publishedAt")) >= since):
                        video_id = str((snippet.get("resourceId") or {}).get("videoId") or "")
                        if video_id:
                            return RemoteRef(video_id, self._url(video_id))
                older = [_timestamp((i.get("snippet") or {}).get("publishedAt")) for i in items]
                if not body.get("nextPageToken") or not older or min(older) < since:
                    break
                params["pageToken"] = body["nextPageToken"]
        return None

    def _uploads_playlist(self, job: _Job) -> str:
        items = job.call("GET", f"{API}/channels", params={"part": "contentDetails", "mine": "true"}).get("items")
        uploads = ((items or [{}])[0].get("contentDetails") or {}).get("relatedPlaylists", {}).get("uploads")
        if not uploads:
            raise PlatformError(AUTH, "The connected Google account has no YouTube channel (any more): an "
                                "administrator must reconnect it.", code="no-channel")
        return uploads

    # ---- connecting a channel ------------------------------------------------------------------------

    def authorization_url(self, callback_url: str, state: str) -> AuthorizationStart:
        s = self.settings
        if not s.configured:
            raise PlatformError(PERMANENT, s.not_configured_message, code="not-configured")
        client = WebApplicationClient(s.client_id)
        verifier = client.create_code_verifier(64)
        session = OAuth2Session(s.client_id, redirect_uri=callback_url, scope=list(s.scopes), state=state)
        # offline + consent: Google hands out a refresh token only then, and again on every reconnect.
        url, _ = session.authorization_url(s.auth_url, access_type="offline", prompt="consent",
                                           code_challenge=client.create_code_challenge(verifier, "S256"),
                                           code_challenge_method="S256")
        return AuthorizationStart(url, crypto.SecretDict(code_verifier=verifier, redirect_uri=callback_url,
                                                         state=state))

    def complete_authorization(self, callback_args: dict, pending: dict) -> list[RemoteAccount]:
        """The channel the consent granted, with the credentials to store, from Google's redirect back."""
        if callback_args.get("error"):
            raise PlatformError(PERMANENT, "The YouTube account holder did not give the desk access, so nothing was "
                                "connected. Start again and choose \u201cAllow\u201d on Google's page.",
                                code=str(callback_args["error"])[:40])
        if not callback_args.get("code") or callback_args.get("state") != pending.get("state"):
            raise PlatformError(PERMANENT, "Google's answer does not match the connection the desk started (an old "
                                "or repeated link?). Nothing was connected: start again.", code="mismatch")
        token = self._exchange(callback_args["code"], pending)
        granted = set(token.get("scope") or []) if not isinstance(token.get("scope"), str) \
            else set(token["scope"].split())
        if not DELETE_SCOPES & granted:
            raise PlatformError(PERMANENT, "Google's page was left with \u201cManage your YouTube account\u201d "
                                "unticked, so the desk could not publish or retract videos. Nothing was connected: "
                                "start again and allow it.", code="scope")
        if not token.get("refresh_token"):
            raise PlatformError(PERMANENT, "Google gave the desk access for an hour only (no refresh token). Nothing "
                                "was connected: start again.", code="no-refresh-token")
        credentials = crypto.SecretDict(access_token=token["access_token"], refresh_token=token["refresh_token"],
                                        expires_at=self.clock() + float(token.get("expires_in") or 3600),
                                        scope=" ".join(sorted(granted)))
        with _Job(self, credentials) as job:
            items = job.call("GET", f"{API}/channels", params={"part": "snippet,contentDetails", "mine": "true"}
                             ).get("items") or []
        if not items:
            raise PlatformError(PERMANENT, "This Google account has no YouTube channel. Nothing was connected: create "
                                "the channel on YouTube (or pick the channel's brand account on Google's page) and "
                                "start again.", code="no-channel")
        channel = items[0]
        snippet = channel.get("snippet") or {}
        handle = str(snippet.get("customUrl") or "") or None
        if handle and not handle.startswith("@"):
            handle = "@" + handle
        credentials.update(channel_id=str(channel["id"]), uploads_playlist=(
            (channel.get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads", ""))
        return [RemoteAccount(id=str(channel["id"]), name=snippet.get("title") or str(channel["id"]),
                              handle=handle, credentials=credentials)]

    def _exchange(self, code: str, pending: dict) -> dict:
        s = self.settings
        session = OAuth2Session(s.client_id, redirect_uri=pending["redirect_uri"], scope=list(s.scopes),
                                state=pending["state"])
        session.register_compliance_hook("access_token_response", _check_token_reply)
        try:
            with translated("Google", idempotent=False):
                return session.fetch_token(s.token_url, code=code, code_verifier=pending["code_verifier"],
                                           include_client_id=True, client_secret=s.client_secret,
                                           timeout=self.context.timeout)
        except PlatformError as exc:
            if exc.code != "invalid_grant":
                raise
            raise PlatformError(PERMANENT, "Google did not accept the authorisation (it expired, or the page was "
                                "reloaded): start the connection again.", code="invalid_grant") from None
        except OAuth2Error as exc:
            raise PlatformError(PERMANENT, f"Google's answer to the connection could not be used ({exc.error}): "
                                "start the connection again.", code="token") from None
        except Warning as changed:  # oauthlib's "scope has changed": the token is good, its scope says what
            return changed.token
        finally:
            session.close()


def _timestamp(value) -> float:
    return unix_time(value, default=0.0)  # an upload with no readable date counts as old
