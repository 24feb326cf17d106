"""X (Twitter): publish, delete, metrics and reconciliation through the v2 API, with requests-oauthlib.

OAuth 1.0a user context is the default (it works for posts and media); OAuth 2.0 with PKCE and refresh
tokens when DESK_X_AUTH=oauth2. A channel keeps the mode it was connected with in its credentials.
Each piece of work (a publish, a delete...) opens one session and closes it; every call has a timeout.
"""
from __future__ import annotations

import html
import re
import time
import unicodedata

from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth1Session, OAuth2Session
from requests_oauthlib.oauth1_session import TokenMissing, TokenRequestDenied

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
from .http import generic_error, json_body, translated, unix_time
from .platform_settings import for_settings
from .session_job import SessionJob
from .x_media import media_file, media_problems, upload_media
from .x_text import MAX_WEIGHTED_LENGTH, weighted_length

LABEL = "X"
EXPIRED = ("The X account's authorisation has expired or was revoked: an administrator must reconnect the "
           "channel. Nothing is lost: its posts wait until then.")
_URL = re.compile(r"https?://\S+")


def compose(content: Content) -> str:
    """The post's text as sent to X: the link goes at the end unless the text already holds it."""
    text = content.text.strip()
    if content.link and content.link not in text:
        text = f"{text} {content.link}".strip()
    return text


def _comparable(text: str) -> str:
    """Text reduced to what survives X's rewriting (t.co links, &amp; escapes, appended media links)."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    return " ".join(_URL.sub(" ", text).split()).casefold()


def _scope_text(scope) -> str:
    return scope if isinstance(scope, str) else " ".join(scope or [])


def x_error(response) -> PlatformError:
    """X's reply turned into the desk's error, in a press officer's words."""
    body, status = json_body(response), response.status_code
    title, kind, detail = str(body.get("title", "")), str(body.get("type", "")), str(body.get("detail", ""))
    if status == 429 and (title == "UsageCapExceeded" or kind.endswith("usage-capped")):
        return PlatformError(PERMANENT, "X takes no more posts from the desk this month: the desk's X API plan "
                             "has reached its monthly cap. Nothing was posted. Publish it by hand on X if it cannot "
                             "wait, and tell the desk's administrator.", code="usage-capped")
    if status == 401:
        return PlatformError(AUTH, EXPIRED, code="401")
    if status == 403 and "duplicate content" in detail:
        return PlatformError(PERMANENT, "X refuses a post identical to a recent one from this account. Nothing "
                             "was posted: change the wording and submit it again.", code="duplicate")
    if status == 403 and (kind.endswith(("oauth1-permissions", "client-forbidden")) or "scope" in detail.lower()
                          or title == "Unsupported Authentication"):
        return PlatformError(AUTH, "X says the desk's authorisation for this account does not allow posting "
                             "(read-only access?): an administrator must reconnect the channel with write "
                             "permission.", code="403-permission")
    if status in (400, 403, 404, 413, 422):
        reason = f" X says: \u201c{detail[:200]}\u201d" if detail else ""
        return PlatformError(PERMANENT, f"X refused this request (error {status}).{reason} Nothing was posted; "
                             "check the text and media, then submit it again.", code=str(status))
    return generic_error(response, LABEL)


class _Job(SessionJob):
    """X's calls: JSON answers, X's errors, and a 5xx after a post reported as possibly published."""

    def call(self, method: str, path: str, *, ok=(200,), idempotent: bool | None = None, **kwargs) -> dict:
        response = self.request(method, path, idempotent=idempotent, **kwargs)
        if response.status_code in ok:
            return json_body(response)
        if idempotent is False and response.status_code in (500, 502, 504):
            # The post may have been created before the gateway gave up: reconcile, never repost blindly.
            raise PlatformError(AMBIGUOUS, f"X answered with an error of its own (error {response.status_code}) "
                                "after receiving the post, so it may or may not be on X. The desk will check "
                                "X before trying again, so nothing goes out twice.", code=str(response.status_code))
        raise x_error(response)


@register
class XPublisher(Publisher):
    platform = "x"
    label = "X"
    sleep = staticmethod(time.sleep)  # tests replace these two to run polling without waiting
    clock = staticmethod(time.time)

    def __init__(self, channel, context: PlatformContext):
        super().__init__(channel, context)
        self.settings = for_settings(context.settings).x

    # ---- validation ----------------------------------------------------------------------------------

    @classmethod
    def validate(cls, content: Content) -> list[Problem]:
        problems = []
        text = compose(content)
        length = weighted_length(text)
        if not text and not content.media:
            problems.append(Problem("text", "Write something: X takes no empty post."))
        if length.has_invalid_characters:
            problems.append(Problem("text", "The text holds invisible characters X refuses (a byte-order mark or "
                                    "a direction override), often pasted from another program. Retype that part."))
        if length.weighted > MAX_WEIGHTED_LENGTH:
            problems.append(Problem(
                "text", f"X takes at most {MAX_WEIGHTED_LENGTH} characters as X counts them (a link counts 23, an "
                        f"emoji 2, a Chinese, Japanese or Korean character 2); this text counts {length.weighted}. "
                        f"Shorten it by {length.over_by}."))
        if content.link and not content.link.startswith(("http://", "https://")):
            problems.append(Problem("link", "A link must start with http:// or https://."))
        problems.extend(Problem("media", message) for message in media_problems(content.media))
        return problems

    # ---- credentials and sessions --------------------------------------------------------------------

    def open_session(self, credentials: dict):
        s = self.settings
        if credentials.get("mode") == "oauth2":
            token = {"access_token": credentials["access_token"], "token_type": "Bearer"}
            return OAuth2Session(s.client_id, token=token)
        return OAuth1Session(s.consumer_key, client_secret=s.consumer_secret,
                             resource_owner_key=credentials["oauth_token"],
                             resource_owner_secret=credentials["oauth_token_secret"])

    def _client_auth(self) -> dict:
        s = self.settings
        if s.client_secret:
            return {"auth": HTTPBasicAuth(s.client_id, s.client_secret), "include_client_id": False}
        return {"include_client_id": True}

    @staticmethod
    def can_refresh(credentials: dict) -> bool:
        return credentials.get("mode") == "oauth2" and bool(credentials.get("refresh_token"))

    def refresh_credentials(self, credentials: dict) -> crypto.SecretDict:
        """New OAuth 2.0 tokens, stored at once: X may not honour the old refresh token again."""
        s = self.settings
        session = OAuth2Session(s.client_id, scope=list(s.scopes))
        try:
            with translated(LABEL, idempotent=False):
                auth = self._client_auth()
                kwargs = {"auth": auth["auth"]} if "auth" in auth else {"client_id": s.client_id}
                token = session.refresh_token(s.api_base + "/2/oauth2/token",
                                              refresh_token=credentials["refresh_token"],
                                              timeout=self.context.timeout, **kwargs)
        except (OAuth2Error, KeyError):
            raise PlatformError(AUTH, EXPIRED, code="refresh-refused") from None
        except Warning as changed:  # oauthlib's "scope has changed": the token is still good
            token = changed.token
        finally:
            session.close()
        fresh = crypto.SecretDict(credentials)
        fresh.update(access_token=token["access_token"], expires_at=token.get("expires_at", self.clock() + 7200),
                     refresh_token=token.get("refresh_token") or credentials["refresh_token"])
        self.store_credentials(fresh)
        return fresh

    def refresh(self) -> dict | None:
        credentials = self.credentials()
        if credentials.get("mode") != "oauth2":
            return None  # OAuth 1.0a tokens do not expire
        return self.refresh_credentials(credentials)

    # ---- publishing ----------------------------------------------------------------------------------

    def _url(self, credentials: dict, tweet_id: str) -> str:
        handle = credentials.get("username") or credentials.get("screen_name")
        return f"{self.settings.web_base}/{handle}/status/{tweet_id}" if handle else \
            f"{self.settings.web_base}/i/web/status/{tweet_id}"

    def publish(self, request: PublishRequest) -> RemoteRef:
        problems = self.validate(request.content)
        if problems:
            raise PlatformError(PERMANENT, problems[0].message + " Nothing was posted.", code="invalid")
        text = compose(request.content)
        with _Job(self) as job:
            media_ids = [upload_media(job, self, media_file(item)) for item in request.content.media]
            body: dict = {"text": text} if text else {}
            if media_ids:
                body["media"] = {"media_ids": media_ids}
            timeout = request.before_create(self.context.timeout)  # the fence: after the uploads, before the post
            data = job.call("POST", "/2/tweets", json=body, ok=(200, 201), idempotent=False,
                            timeout=timeout).get("data") or {}
            if not data.get("id"):
                raise PlatformError(AMBIGUOUS, "X accepted the post but did not say under which id. The desk will "
                                    "look for it on X before doing anything else.", code="no-id")
            return RemoteRef(str(data["id"]), self._url(job.credentials, str(data["id"])))

    def delete(self, ref: RemoteRef) -> None:
        with _Job(self) as job:
            try:
                data = job.call("DELETE", f"/2/tweets/{ref.id}").get("data") or {}
            except PlatformError as exc:
                if exc.code == "404":
                    return  # already gone from X: what the desk wanted
                raise
        if data.get("deleted") is not True:
            raise PlatformError(TRANSIENT, "X did not confirm the deletion. Try again in a moment.", code="not-deleted")

    def fetch_metrics(self, ref: RemoteRef) -> dict[str, int]:
        with _Job(self) as job:
            body = job.call("GET", f"/2/tweets/{ref.id}", params={"tweet.fields": "public_metrics"})
        m = (body.get("data") or {}).get("public_metrics")
        if m is None:
            raise PlatformError(PERMANENT, "The post is no longer on X (deleted there?), so it has no figures.",
                                code="not-found")
        return {"views": int(m.get("impression_count", 0)), "likes": int(m.get("like_count", 0)),
                "shares": int(m.get("retweet_count", 0)) + int(m.get("quote_count", 0)),
                "comments": int(m.get("reply_count", 0))}

    def find_published(self, request: PublishRequest) -> RemoteRef | None:
        """The account's recent post with this text, if X has it (after a crash or an unclear reply)."""
        wanted = _comparable(compose(request.content))
        with _Job(self) as job:
            user_id = self.channel.remote_account_id or job.credentials.get("user_id")
            body = job.call("GET", f"/2/users/{user_id}/tweets",
                            params={"max_results": 50, "tweet.fields": "created_at", "exclude": "retweets,replies"})
            since = request.earliest(0.0)  # a post with no readable date is not ruled out
            for tweet in body.get("data") or []:
                posted = unix_time(tweet.get("created_at"), default=float("inf"))
                if _comparable(tweet.get("text", "")) == wanted and posted >= since:
                    return RemoteRef(str(tweet["id"]), self._url(job.credentials, str(tweet["id"])))
        return None

    # ---- connecting an account -----------------------------------------------------------------------

    def authorization_url(self, callback_url: str, state: str) -> AuthorizationStart:
        s = self.settings
        if not s.configured:
            raise PlatformError(PERMANENT, s.not_configured_message, code="not-configured")
        if s.auth_mode == "oauth2":
            client = WebApplicationClient(s.client_id)
            verifier = client.create_code_verifier(64)
            session = OAuth2Session(s.client_id, redirect_uri=callback_url, scope=list(s.scopes), state=state)
            url, _ = session.authorization_url(s.authorize_url, code_challenge=client.create_code_challenge(
                verifier, "S256"), code_challenge_method="S256")
            return AuthorizationStart(url, crypto.SecretDict(mode="oauth2", code_verifier=verifier,
                                                             redirect_uri=callback_url, state=state))
        session = OAuth1Session(s.consumer_key, client_secret=s.consumer_secret, callback_uri=callback_url)
        try:
            with translated(LABEL, idempotent=True):
                token = session.fetch_request_token(s.api_base + "/oauth/request_token", timeout=self.context.timeout)
        except (TokenRequestDenied, TokenMissing) as exc:
            raise PlatformError(PERMANENT, "X refused the desk's application key: check DESK_X_CONSUMER_KEY and "
                                "DESK_X_CONSUMER_SECRET in the X developer portal, and that this callback address "
                                f"is registered there: {callback_url}", code=str(getattr(exc, "status_code", "")
                                                                                or "request-token")) from None
        finally:
            session.close()
        return AuthorizationStart(session.authorization_url(s.api_base + "/oauth/authorize"), crypto.SecretDict(
            mode="oauth1", oauth_token=token["oauth_token"], oauth_token_secret=token["oauth_token_secret"],
            state=state))

    def complete_authorization(self, callback_args: dict, pending: dict) -> list[RemoteAccount]:
        """The account the consent granted, with the credentials to store, from the platform's redirect back."""
        if "denied" in callback_args or callback_args.get("error"):
            raise PlatformError(PERMANENT, "The X account holder did not give the desk access, so nothing was "
                                "connected. Start again and choose \u201cAuthorize app\u201d on X.", code="denied")
        credentials = self._oauth2_tokens(callback_args, pending) if pending.get("mode") == "oauth2" \
            else self._oauth1_tokens(callback_args, pending)
        with _Job(self, credentials) as job:
            me = job.call("GET", "/2/users/me").get("data") or {}
        credentials.update(user_id=str(me.get("id", credentials.get("user_id", ""))),
                           username=me.get("username", credentials.get("screen_name", "")))
        return [RemoteAccount(id=credentials["user_id"], name=me.get("name") or credentials["username"],
                              handle="@" + credentials["username"], credentials=credentials)]

    def _oauth1_tokens(self, args: dict, pending: dict) -> crypto.SecretDict:
        if args.get("oauth_token") != pending.get("oauth_token") or not args.get("oauth_verifier"):
            raise PlatformError(PERMANENT, "X's answer does not match the connection the desk started (an old or "
                                "repeated link?). Nothing was connected: start again.", code="mismatch")
        s = self.settings
        session = OAuth1Session(s.consumer_key, client_secret=s.consumer_secret,
                                resource_owner_key=pending["oauth_token"],
                                resource_owner_secret=pending["oauth_token_secret"], verifier=args["oauth_verifier"])
        try:
            with translated(LABEL, idempotent=False):
                token = session.fetch_access_token(s.api_base + "/oauth/access_token", timeout=self.context.timeout)
        except (TokenRequestDenied, TokenMissing):
            raise PlatformError(PERMANENT, "X did not accept the authorisation (it may have expired): start the "
                                "connection again.", code="access-token") from None
        finally:
            session.close()
        return crypto.SecretDict(mode="oauth1", oauth_token=token["oauth_token"],
                                 oauth_token_secret=token["oauth_token_secret"], user_id=token.get("user_id", ""),
                                 screen_name=token.get("screen_name", ""))

    def _oauth2_tokens(self, args: dict, pending: dict) -> crypto.SecretDict:
        if not args.get("code") or args.get("state") != pending.get("state"):
            raise PlatformError(PERMANENT, "X's answer does not match the connection the desk started (an old or "
                                "repeated link?). Nothing was connected: start again.", code="mismatch")
        s = self.settings
        session = OAuth2Session(s.client_id, redirect_uri=pending["redirect_uri"], scope=list(s.scopes),
                                state=pending["state"])
        try:
            with translated(LABEL, idempotent=False):
                token = session.fetch_token(s.api_base + "/2/oauth2/token", code=args["code"],
                                            code_verifier=pending["code_verifier"], timeout=self.context.timeout,
                                            **self._client_auth())
        except OAuth2Error:
            raise PlatformError(PERMANENT, "X did not accept the authorisation code (it may have expired): start "
                                "the connection again.", code="token") from None
        except Warning as changed:
            token = changed.token
        finally:
            session.close()
        return crypto.SecretDict(mode="oauth2", access_token=token["access_token"],
                                 refresh_token=token.get("refresh_token", ""), scope=_scope_text(token.get("scope")),
                                 expires_at=token.get("expires_at", self.clock() + 7200))
