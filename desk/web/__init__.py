"""The web layer: request-scoped database sessions, sign-in, error pages and the blueprints."""
from __future__ import annotations

from flask import Flask, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from ..domain import permissions, workflow
from ..domain.errors import DeskError, NotFound, PermissionDenied
from ..domain.timezones import display
from ..models import User
from ..services.grants import load_access
from . import request_checks, security_headers
from .context import db, settings
from .extensions import login_manager


def register_web(app: Flask) -> None:
    security_headers.init_app(app, production=app.config["DESK_SETTINGS"].is_production)
    # First: every route's <int:...> is bounded, and every request's text checked, before any view runs.
    request_checks.register(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to use the desk."
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str):
        # Only while the cookie names a live session on the server (signed out, idle or too old: none).
        if not account_sessions.live(int(user_id)):
            return None
        user = db().get(User, int(user_id))
        # With their business-case grants, which `permissions` checks against the clock on every page.
        return load_access(db(), user) if user is not None and user.active else None

    @app.teardown_appcontext
    def close_db(_exc):
        session = g.pop("db", None)
        if session is not None:
            session.close()

    @app.template_filter("local")
    def local_time(moment, with_zone=True):
        return display(moment, settings().zone, with_zone)

    # Globals, not context, so that macros imported without context can use them too.
    app.jinja_env.globals.update(perm=permissions, wf=workflow)

    @app.context_processor
    def inject():
        return {"desk_timezone": settings().timezone, "user": current_user}

    @app.errorhandler(DeskError)
    def desk_error(exc: DeskError):
        if request.path.startswith("/api/"):
            return jsonify(error=exc.code, message=exc.message, fields=exc.field_errors or None), exc.http_status
        if isinstance(exc, (PermissionDenied, NotFound)):
            return render_template("error.html", error=exc), exc.http_status
        flash(exc.message, "error")
        return redirect(request.referrer or url_for("main.dashboard"))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if request.path.startswith("/api/"):
            return jsonify(error="csrf", message=exc.description, fields=None), 400
        error = DeskError("The form had expired or did not come from the desk's own page, so nothing was "
                          "changed. Go back, reload the page and send it again (your browser usually keeps "
                          "what you typed).")
        error.http_status = 400
        return render_template("error.html", error=error, title="Form expired"), 400

    from . import (
        account_sessions,
        admin,
        approvals,
        audit_views,
        auth,
        channels,
        connect_views,
        event_feeds,
        grants,
        main,
        media_library,
        media_views,
        pauses,
        posts,
        screening_views,
        target_decisions,
        template_views,
        two_factor,
        worker_status,
    )
    from .api import api  # with every route module's routes (see api/__init__.py)

    for area in (auth, account_sessions, main, posts, approvals, channels, admin, audit_views):
        app.register_blueprint(area.bp)
    app.register_blueprint(api)
    # photos and videos, screening, templates, OAuth, sign-in codes, business-case access, event feeds' state,
    # the emergency stop, the media library, the publishing status, a person's decisions
    for area in (media_views, screening_views, template_views, connect_views, two_factor, grants, event_feeds,
                 pauses, media_library, worker_status, target_decisions):
        app.register_blueprint(area.bp)
