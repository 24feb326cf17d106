"""The desk: drafting, approving and publishing a police force's official posts."""
from __future__ import annotations

import os

from flask import Flask

from .config import ConfigError, load_dotenv_if_present, settings_from_env
from .db import make_engine, make_session_factory
from .domain import limits
from .domain.audit_keys import key_bytes

__all__ = ["create_app", "ConfigError"]


def create_app(test_config: dict | None = None) -> Flask:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(__name__, instance_relative_config=True, template_folder=os.path.join(root, "templates"),
                static_folder=os.path.join(root, "static"))
    os.makedirs(app.instance_path, exist_ok=True)
    load_dotenv_if_present()
    env = dict(os.environ)
    env.update((test_config or {}).get("ENV", {}))
    settings = settings_from_env(app.instance_path, env)
    # Adapters and the token cipher read the same variables the app was given (tests pass their own).
    settings.extra["platform_env"] = env
    from . import crypto

    try:
        crypto.configure(env)
    except crypto.TokenKeyError as exc:
        # A desk with only training channels needs no token key; connecting a real one says what to set.
        app.logger.warning("%s", exc)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.is_production,
        # JSON bodies and forms; the upload routes raise it for their request alone (media_library, posts).
        MAX_CONTENT_LENGTH=limits.BODY_MAX_BYTES,
        MAX_FORM_MEMORY_SIZE=limits.BODY_MAX_BYTES,
        WTF_CSRF_TIME_LIMIT=None,
    )
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if k != "ENV"})
    app.config["DESK_SETTINGS"] = settings
    if settings.trusted_proxies:
        # Behind a proxy every request comes from the proxy: sign-in limits, the audit trail's addresses and
        # HTTPS-only headers need the client's address and scheme, which only the trusted hops may report.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    engine = app.config.get("DESK_ENGINE") or make_engine(settings.database_url)
    app.extensions["desk.engine"] = engine
    app.extensions["desk.sessions"] = make_session_factory(engine, audit_key=key_bytes(settings.audit_key))

    from .web.extensions import csrf, login_manager

    csrf.init_app(app)
    login_manager.init_app(app)

    from .web import register_web

    register_web(app)

    from .cli import desk_cli

    app.cli.add_command(desk_cli)
    return app
