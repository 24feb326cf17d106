"""The dashboard: what needs the signed-in person's attention."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

bp = Blueprint("main", __name__)


@bp.route("/")
def index():
    """Send people to their dashboard (or to sign in)."""
    return redirect(url_for("main.dashboard"))


@bp.route("/dashboard")
@login_required
def dashboard():
    """The signed-in person's posts and the decisions on them."""
    return render_template("dashboard.html")
