"""The security headers on every answer, set by Flask-Talisman: the Content-Security-Policy, HSTS in
production, nosniff, the Referrer-Policy and framing.

The policy lets a page load scripts, styles, images and media from the desk alone, and run no inline script
or handler at all: a script that must sit in a page takes this answer's nonce, `{{ csp_nonce() }}`. So a
post's words or a platform's answer that slipped past escaping still could not run in a colleague's browser.
"""
from __future__ import annotations

from flask import Flask

from .extensions import talisman

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",  # and the answer's nonce, added by Talisman
    "style-src": "'self'",
    "img-src": "'self'",
    "object-src": "'none'",
    # A planted <base> would turn every relative script address into another site's.
    "base-uri": "'none'",
    # No site may frame a page of the desk (clickjacking an "Approve" button); X-Frame-Options says so to old
    # browsers. form-action is left open: Chromium applies it to the redirect after a form, and connecting a
    # channel posts to the desk, which redirects to the platform's own sign-in page.
    "frame-ancestors": "'none'",
}
# The desk asks for no device feature; a page script that tried would be refused.
PERMISSIONS = {"camera": "()", "microphone": "()", "geolocation": "()", "payment": "()", "usb": "()",
               "browsing-topics": "()"}


def init_app(app: Flask, production: bool) -> None:
    talisman.init_app(
        app,
        content_security_policy=POLICY,
        content_security_policy_nonce_in=["script-src"],
        frame_options="DENY",
        # Within the desk the address a person came from is kept (an error sends them back to it); no other
        # site learns which page of the desk, with which post's number, a link was followed from.
        referrer_policy="same-origin",
        permissions_policy=PERMISSIONS,
        # HSTS is sent on HTTPS answers (or X-Forwarded-Proto: https) in production only: a developer's
        # browser told to keep to HTTPS for 127.0.0.1 would refuse every other local server for a year.
        strict_transport_security=production,
        # Plain HTTP is turned away by the proxy in front of the desk (docs/operations.md); redirecting here
        # as well would loop behind a proxy that does not say X-Forwarded-Proto.
        force_https=False,
        # The cookie settings stay create_app's (secure in production only); Talisman would force them on.
        session_cookie_secure=production,
        session_cookie_http_only=True,
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE", "Lax"),
    )
