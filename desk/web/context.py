"""What a request works with: its database session, the desk's settings, the platforms' context.

Apart from the package's __init__ (which registers the blueprints) so that every view can import it.
"""
from __future__ import annotations

from flask import current_app, g


def db():
    """The request's database session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = current_app.extensions["desk.sessions"]()
    return g.db


def settings():
    return current_app.config["DESK_SETTINGS"]


def platform_context():
    from ..platforms import PlatformContext

    return PlatformContext(settings=settings(), session_factory=current_app.extensions["desk.sessions"])
