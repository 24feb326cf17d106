"""Connecting Facebook Pages: the login dialog, the token exchanges, and the list of Pages to choose from.

1. `start`: the administrator goes to the login dialog (`client_id`, `redirect_uri`, `state`, and the
   permissions comma-separated in `scope`); what must survive the trip (state, redirect_uri) stays
   server-side in `pending`.
2. `finish`: Facebook sends back `code` and `state` (or `error=access_denied`). The code is exchanged for a
   short-lived user token, that one for a long-lived user token (`grant_type=fb_exchange_token`, about 60
   days), both with the app secret. Page tokens obtained with a long-lived user token do not expire; they
   stop working when the person loses their role on the Page, changes their password, or removes the app.
3. The permissions actually granted are checked (`GET /me/permissions`): a person may untick some on the
   dialog, and without the required ones no Page can be a channel.
4. `GET /me/accounts` (followed page by page with its `after` cursor, never with its `next` link, which
   carries the token in its address) lists the Pages the person manages, each with its own Page token.

Every request carries the token in the Authorization header (OAuth2Session) and `appsecret_proof`, never
in the address, so no token reaches a server log or the desk's debug log.
"""
from __future__ import annotations

import hashlib
import hmac

from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session
from requests_oauthlib.compliance_fixes import facebook_compliance_fix

from .. import crypto
from .base import PERMANENT, TRANSIENT, AuthorizationStart, PlatformError, RemoteAccount
from .facebook_errors import LABEL, graph_error, graph_fault, said
from .facebook_settings import REQUIRED_SCOPES
from .http import json_body, send, translated

START_AGAIN = " Nothing was connected: start again."
PAGE_FIELDS = "id,name,username,category,tasks,access_token"
PUBLISHING_TASKS = {"CREATE_CONTENT", "MANAGE"}
MAX_PAGE_REQUESTS = 20  # 20 x 100 Pages: more than any police force administers


def proof(app_secret: str, token: str) -> str:
    """appsecret_proof: proves the call comes from the app's server, so a stolen token alone is useless
    when the app requires it (App settings > Advanced > Require App Secret)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def exchange_error(response) -> PlatformError:
    """Why Facebook refused a token exchange, for the administrator who is connecting."""
    error, status = graph_fault(response), response.status_code
    code, sub = error.get("code"), error.get("error_subcode")
    tag = f"{code}/{sub}" if sub else str(code if code is not None else status)
    # Facebook answers a wrong app secret with code 1 ("Error validating client secret."), so the words
    # decide before the code does.
    if code in (101, 191) or "client secret" in str(error.get("message", "")).lower():
        return PlatformError(PERMANENT, "Facebook refused the desk's app credentials or its callback address: "
                             "check DESK_FACEBOOK_APP_ID and DESK_FACEBOOK_APP_SECRET, and that the desk's callback "
                             "address is listed under Facebook Login > Settings > Valid OAuth Redirect URIs."
                             + START_AGAIN, code=tag)
    if status >= 500 or code in (1, 2):
        return PlatformError(TRANSIENT, "Facebook had a temporary problem while the Page was being connected. "
                             "Try again in a few minutes." + START_AGAIN, code=tag)
    return PlatformError(PERMANENT, "Facebook did not accept the authorisation (it expires after a few minutes and "
                         "works once)." + said(error) + START_AGAIN, code=tag)


def start(publisher, callback_url: str, state: str) -> AuthorizationStart:
    s = publisher.settings
    if not s.configured:
        raise PlatformError(PERMANENT, s.not_configured_message, code="not-configured")
    # Facebook documents the permissions comma-separated; oauthlib would join a list with spaces.
    session = OAuth2Session(s.app_id, redirect_uri=callback_url, scope=",".join(s.scopes), state=state)
    url, _ = session.authorization_url(s.dialog_url)
    session.close()
    return AuthorizationStart(url, crypto.SecretDict(redirect_uri=callback_url, state=state))


def _raise_unless_ok(response):
    if response.status_code != 200 or "error" in json_body(response):
        raise exchange_error(response)
    return response


def _user_token(publisher, args: dict, pending: dict) -> str:
    s = publisher.settings
    session = facebook_compliance_fix(OAuth2Session(s.app_id, redirect_uri=pending["redirect_uri"],
                                                    state=pending["state"]))
    session.register_compliance_hook("access_token_response", _raise_unless_ok)
    try:
        with translated(LABEL, idempotent=False):
            short = session.fetch_token(s.graph("/oauth/access_token"), code=args["code"], include_client_id=True,
                                        client_secret=s.app_secret, timeout=publisher.context.timeout)
            # The short-lived token (an hour or two) becomes a long-lived one (about 60 days).
            response = send(session, "POST", s.graph("/oauth/access_token"), label=LABEL,
                            timeout=publisher.context.timeout, withhold_token=True, data={
                                "grant_type": "fb_exchange_token", "client_id": s.app_id,
                                "client_secret": s.app_secret, "fb_exchange_token": short["access_token"]})
    except OAuth2Error:
        raise PlatformError(PERMANENT, "Facebook's answer to the code exchange was not a token." + START_AGAIN,
                            code="token") from None
    finally:
        session.close()
    token = json_body(_raise_unless_ok(response)).get("access_token")
    if not token:
        raise PlatformError(PERMANENT, "Facebook's answer to the token exchange held no token." + START_AGAIN,
                            code="token")
    return token


def _get(publisher, session, user_token: str, path: str, params: dict | None = None) -> dict:
    s = publisher.settings
    response = send(session, "GET", s.graph(path), label=LABEL, timeout=publisher.context.timeout,
                    params={**(params or {}), "appsecret_proof": proof(s.app_secret, user_token)})
    body = json_body(response)
    if response.status_code == 200 and "error" not in body:
        return body
    raise graph_error(response)


def _check_permissions(publisher, session, user_token: str) -> list[str]:
    granted = [p.get("permission") for p in _get(publisher, session, user_token, "/me/permissions").get("data", [])
               if isinstance(p, dict) and p.get("status") == "granted"]
    missing = [p for p in REQUIRED_SCOPES if p in publisher.settings.scopes and p not in granted]
    if missing:
        raise PlatformError(PERMANENT, "On Facebook's consent screen some permissions the desk needs were turned "
                            f"off ({', '.join(missing)}), so it cannot publish to the Pages. Connect again and "
                            "leave every permission on (choose \u201cEdit access\u201d to pick the Pages)."
                            + START_AGAIN, code="permissions-declined")
    return granted


def _pages(publisher, session, user_token: str) -> list[dict]:
    pages, after = [], None
    for _ in range(MAX_PAGE_REQUESTS):
        params = {"fields": PAGE_FIELDS, "limit": 100, **({"after": after} if after else {})}
        body = _get(publisher, session, user_token, "/me/accounts", params)
        pages.extend(p for p in body.get("data", []) if isinstance(p, dict) and p.get("id"))
        after = ((body.get("paging") or {}).get("cursors") or {}).get("after")
        if not after or not (body.get("paging") or {}).get("next"):
            break
    return pages


def finish(publisher, args: dict, pending: dict) -> list[RemoteAccount]:
    """One RemoteAccount per Page the person manages (see the adapter's docstring for its shape)."""
    if args.get("error") or args.get("error_reason"):
        raise PlatformError(PERMANENT, "The Facebook account holder did not give the desk access, so nothing was "
                            "connected. Start again and choose \u201cContinue\u201d on Facebook.", code="denied")
    if not args.get("code") or not pending.get("state") or args.get("state") != pending.get("state"):
        raise PlatformError(PERMANENT, "Facebook's answer does not match the connection the desk started (an old or "
                            "repeated link?)." + START_AGAIN, code="mismatch")
    user_token = _user_token(publisher, args, pending)
    session = OAuth2Session(publisher.settings.app_id, token={"access_token": user_token, "token_type": "Bearer"})
    try:
        with translated(LABEL, idempotent=True):
            granted = _check_permissions(publisher, session, user_token)
            me = _get(publisher, session, user_token, "/me", {"fields": "id,name"})
            pages = _pages(publisher, session, user_token)
    finally:
        session.close()
    if not pages:
        raise PlatformError(PERMANENT, "Facebook gave the desk no Page: the account that logged in manages none, or "
                            "none was ticked on the consent screen. Connect again and tick the Pages to publish "
                            "to." + START_AGAIN, code="no-pages")
    scopes = ",".join(sorted(granted))
    accounts = []
    for page in pages:
        tasks = [str(t) for t in page.get("tasks") or []]
        credentials = crypto.SecretDict(page_id=str(page["id"]), page_access_token=page.get("access_token", ""),
                                        user_id=str(me.get("id", "")), scopes=scopes)
        details = {"category": page.get("category") or "", "tasks": tasks,
                   "can_publish": bool(PUBLISHING_TASKS & set(tasks)) and bool(page.get("access_token")),
                   "can_post_videos": "publish_video" in granted}
        accounts.append(RemoteAccount(id=str(page["id"]), name=page.get("name") or str(page["id"]),
                                      handle=f"@{page['username']}" if page.get("username") else None,
                                      credentials=credentials, details=details))
    return accounts
