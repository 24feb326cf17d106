"""Two-factor sign-in pages: the code step after the password, setting it up, recovery codes, reset.

Approvers and administrators who have not set it up are sent to set it up before any other page
(`TWO_FACTOR_ENFORCED`, on unless a test's configuration turns it off). The API keeps its tokens.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..domain import permissions as perm
from ..domain.errors import ValidationFailed
from ..models import User
from ..services import two_factor as svc
from ..services.common import ensure, get_or_404
from . import account_sessions, sign_in_limits
from .context import db
from .redirects import after_sign_in

bp = Blueprint("two_factor", __name__)
PENDING = "two_factor_pending"
PENDING_SECONDS = 300  # the password step is good for five minutes
# What a person who must still set up two-factor sign-in may reach.
OPEN_ENDPOINTS = {"static", "auth.login", "auth.logout", "two_factor.settings", "two_factor.start",
                  "two_factor.enrol", "two_factor.confirm", "two_factor.code", "account_sessions.index",
                  "account_sessions.end_all"}


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(message="Type the code.")])


class AppCodeForm(FlaskForm):
    code = StringField("Code from your app", validators=[DataRequired(message="Type the code your app shows.")])


class ResetForm(FlaskForm):
    reason = TextAreaField("Why", validators=[DataRequired(message="Say why, for the audit trail."),
                                              Length(max=500)])


@bp.record_once
def _setup(state) -> None:
    sign_in_limits.init_app(state.app)


def me() -> User:
    return current_user._get_current_object()


def _no_store(response):
    # Secrets and recovery codes must not be kept by the browser's or a proxy's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _qr_svg(uri: str) -> str:
    import qrcode
    import qrcode.image.svg

    return qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10).to_string(encoding="unicode")


def after_password(user: User, next_url: str | None):
    """The password was right: ask for the second factor, or sign in (setting it up comes next if due)."""
    session.pop(PENDING, None)
    if svc.is_enrolled(user):
        session[PENDING] = {"user_id": user.id, "since": time.time(), "next": after_sign_in(next_url)}
        return redirect(url_for("two_factor.code"))
    account_sessions.begin(user)
    return redirect(after_sign_in(next_url))


def limit_refusal(email: str | None):
    """The sign-in rate limit's refusal (audited), as a message; None when the attempt may go ahead."""
    breach = sign_in_limits.current().refusal(email, request.remote_addr)
    if breach is None:
        return None
    svc.record_rate_limited(db(), email or "", request.remote_addr, breach)
    return breach.message


def count_failure(email: str | None) -> None:
    sign_in_limits.current().failed(email, request.remote_addr)


@bp.before_app_request
def _require_two_factor():
    if request.path.startswith("/api/") or request.endpoint in OPEN_ENDPOINTS:
        return None
    if not current_user.is_authenticated or not current_app.config.get("TWO_FACTOR_ENFORCED", True):
        return None
    if svc.is_enrolled(me()) or not svc.is_required(db(), me()):
        return None
    flash("Approvers and administrators sign in with two factors. Set it up now: it takes a minute, with "
          "an authenticator app on your phone.", "info")
    return redirect(url_for("two_factor.settings"))


@bp.route("/login/code", methods=["GET", "POST"])
def code():
    """The second step of signing in: a code from the authenticator app, or a recovery code."""
    pending = session.get(PENDING) or {}
    user = db().get(User, pending.get("user_id") or 0)
    if user is None or not user.active or time.time() - pending.get("since", 0) > PENDING_SECONDS:
        session.pop(PENDING, None)
        flash("Sign in with your password first (it is good for five minutes before the code).", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        refused = limit_refusal(user.email)
        if refused:
            form.code.errors.append(refused)
            status = 429
        else:
            try:
                method = svc.check_sign_in_code(db(), user, form.code.data, request.remote_addr)
            except ValidationFailed as exc:
                count_failure(user.email)
                form.code.errors.extend(exc.field_errors.get("code") or [exc.message])
            else:
                session.pop(PENDING, None)
                account_sessions.begin(user)
                if method == "recovery":
                    left = svc.recovery_codes_left(db(), user)
                    flash(f"You signed in with a recovery code; it will not work again. {left} left. If your "
                          "phone is lost, make new codes or ask an administrator to reset two-factor sign-in.",
                          "info")
                # Checked again: the pending state may come from a cookie older than this check.
                return redirect(after_sign_in(pending.get("next")))
    return render_template("two_factor/code.html", form=form, person=user), status


@bp.route("/account/two-factor")
@login_required
def settings():
    """Whether two-factor sign-in is on, and the ways to set it up, renew recovery codes or turn it off."""
    user = me()
    return _no_store(current_app.make_response(render_template(
        "two_factor/settings.html", enrolled=svc.is_enrolled(user), required=svc.is_required(db(), user),
        left=svc.recovery_codes_left(db(), user) if svc.is_enrolled(user) else 0,
        renew=AppCodeForm(prefix="renew"), off=AppCodeForm(prefix="off"))))


@bp.route("/account/two-factor/start", methods=["POST"])
@login_required
def start():
    """Make the secret the authenticator app will hold (the app-wide CSRF check guards this POST)."""
    svc.start_enrolment(db(), me())
    return redirect(url_for("two_factor.enrol"))


@bp.route("/account/two-factor/enrol")
@login_required
def enrol():
    """The QR code and the secret as text, and the box for the first code."""
    pending = svc.pending_enrolment(me())
    if pending is None:
        return redirect(url_for("two_factor.settings"))
    return _no_store(current_app.make_response(render_template(
        "two_factor/enrol.html", secret=pending.secret, qr=_qr_svg(pending.uri), form=AppCodeForm())))


@bp.route("/account/two-factor/confirm", methods=["POST"])
@login_required
def confirm():
    """Check the first code; show the recovery codes, this once."""
    form = AppCodeForm()
    pending = svc.pending_enrolment(me())
    if pending is None:
        return redirect(url_for("two_factor.settings"))
    if form.validate_on_submit():
        try:
            codes = svc.confirm_enrolment(db(), me(), form.code.data)
        except ValidationFailed as exc:
            form.code.errors.extend(exc.field_errors.get("code") or [exc.message])
        else:
            return _no_store(current_app.make_response(
                render_template("two_factor/recovery_codes.html", codes=codes, first=True)))
    return _no_store(current_app.make_response(render_template(
        "two_factor/enrol.html", secret=pending.secret, qr=_qr_svg(pending.uri), form=form))), 400


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@login_required
def recovery_codes():
    """New recovery codes (the old ones stop working), after a fresh code from the app."""
    form = AppCodeForm(prefix="renew")
    if form.validate_on_submit():
        try:
            codes = svc.new_recovery_codes(db(), me(), form.code.data)
        except ValidationFailed as exc:
            flash(exc.message, "error")
        else:
            return _no_store(current_app.make_response(
                render_template("two_factor/recovery_codes.html", codes=codes, first=False)))
    return redirect(url_for("two_factor.settings"))


@bp.route("/account/two-factor/off", methods=["POST"])
@login_required
def turn_off():
    """Stop using two-factor sign-in (only where it is optional)."""
    form = AppCodeForm(prefix="off")
    if form.validate_on_submit() or not svc.is_enrolled(me()):
        try:
            svc.turn_off(db(), me(), form.code.data or "")
        except ValidationFailed as exc:
            flash(exc.message, "error")
        else:
            flash("Two-factor sign-in is off for your account.", "success")
    return redirect(url_for("two_factor.settings"))


@bp.route("/admin/users/<int:user_id>/two-factor", methods=["GET", "POST"])
@login_required
def admin_reset(user_id: int):
    """An administrator resets a person's two-factor sign-in (a lost phone), and may lift a sign-in block."""
    person = get_or_404(db(), User, user_id, "user")
    ensure(db(), perm.can_administer(me()), me(), "two_factor.view", "Only desk administrators manage other "
           "people's two-factor sign-in.", object_type="user", object_id=person.id)
    form = ResetForm()
    if form.validate_on_submit():
        try:
            svc.reset(db(), me(), person.id, form.reason.data)
        except ValidationFailed as exc:
            form.reason.errors.extend(exc.field_errors.get("reason") or [exc.message])
        else:
            sign_in_limits.current().clear_account(person.email)
            flash(f"Two-factor sign-in for {person.name} is reset, and any sign-in block on the account is "
                  "lifted. They set it up again at their next sign-in.", "success")
            return redirect(url_for("two_factor.admin_reset", user_id=person.id))
    return render_template("two_factor/admin_reset.html", person=person, form=form,
                           enrolled=svc.is_enrolled(person), required=svc.is_required(db(), person),
                           left=svc.recovery_codes_left(db(), person))
