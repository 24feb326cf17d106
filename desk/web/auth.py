"""Signing in and out."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from ..services import accounts
from . import account_sessions, two_factor
from .context import db

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        refused = two_factor.limit_refusal(form.email.data)  # rate limited per account and address, audited
        if refused:
            form.password.errors.append(refused)
            return render_template("auth/login.html", form=form), 429
        user = accounts.sign_in(db(), form.email.data, form.password.data, request.remote_addr)
        if user:
            return two_factor.after_password(user, request.args.get("next"))  # the code step, when enrolled
        two_factor.count_failure(form.email.data)
        form.password.errors.append("That e-mail and password do not match an active account. Try again, "
                                    "or ask a desk administrator to reset your password.")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out."""
    accounts.sign_out(db(), current_user._get_current_object(), account_sessions.token())
    account_sessions.finish()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))
