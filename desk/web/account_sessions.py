"""Sign-in sessions in the browser: opening one at sign-in, checking it on every request, the page that lists a
person's sessions with its "Sign out everywhere" button.

The cookie stays Flask's signed cookie (flash messages, the CSRF token, the half-done two-factor step); what
makes a session live is its row on the server, named by a token in that cookie (services/sign_in_sessions).
"""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_url, logout_user
from flask_login import login_user as flask_login_user

from ..domain import sign_in_sessions as rules
from ..models import User
from ..services import sign_in_sessions as svc
from .context import db, settings
from .extensions import login_manager

bp = Blueprint("account_sessions", __name__)
# Flask-Login's own keys in the cookie, cleared with ours when the server has ended the session.
_LOGIN_KEYS = ("_user_id", "_fresh", "_id", rules.COOKIE_KEY)


def limits() -> svc.Limits:
    return svc.Limits.of(settings())


def begin(user: User) -> None:
    """Sign the person in: a new session on the server, named in a cookie emptied of anything from before."""
    token = svc.start(db(), user, request.remote_addr, request.user_agent.string)
    session.clear()  # nothing planted in the cookie before sign-in is carried into the session
    session[rules.COOKIE_KEY] = token
    flask_login_user(user)


def token() -> str | None:
    return session.get(rules.COOKIE_KEY)


def live(user_id: int) -> bool:
    """Whether this request's cookie names a live session of this person (called by the user loader)."""
    row, why = svc.check(db(), token(), user_id, limits())
    if row is None:
        for key in _LOGIN_KEYS:
            session.pop(key, None)
        g.session_over = why
        return False
    return True


def finish() -> None:
    """After sign-out: Flask-Login forgets the person and the cookie is emptied (the row is ended already)."""
    logout_user()
    session.clear()


@login_manager.unauthorized_handler
def _unauthorized():
    """Flask-Login's redirect to the sign-in page, saying why when a session has just ended on the server."""
    why = g.pop("session_over", None)
    if why in (rules.IDLE, rules.EXPIRED):
        s = settings()
        flash(rules.message(why, s.session_idle_minutes, s.session_max_hours), "info")
    else:
        flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(login_url(login_manager.login_view, next_url=request.url))


@bp.before_app_request
def _check_early():
    """Check the session before any view runs, so that its use is noted (and any commit made) on a clean slate."""
    if request.endpoint != "static" and not request.path.startswith("/api/"):
        current_user._get_current_object()


@bp.route("/account/sessions")
@login_required
def index():
    """Where the person is signed in now, and the button that ends every one of those sessions."""
    rows = svc.open_sessions(db(), current_user._get_current_object(), limits())
    here = svc.find(db(), token())
    return render_template("account/sessions.html", rows=rows, here=here.id if here else None,
                           idle=settings().session_idle_minutes, max_hours=settings().session_max_hours)


@bp.route("/account/sessions/end-all", methods=["POST"])
@login_required
def end_all():
    """Sign out everywhere (the app-wide CSRF check guards this POST)."""
    ended = svc.sign_out_everywhere(db(), current_user._get_current_object())
    finish()
    flash(f"You have signed out everywhere ({ended} sign-in{'' if ended == 1 else 's'} ended). Sign in again to "
          "go on here.", "success")
    return redirect(url_for("auth.login"))

