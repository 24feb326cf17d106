"""Every Flask extension, created unbound and bound in create_app."""
from flask_login import LoginManager
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect

# Sessions for people signed in through the browser.
login_manager = LoginManager()
# CSRF on every form; the token-authenticated API is exempted in its blueprint.
csrf = CSRFProtect()
# Security headers on every answer: the CSP with its nonces, HSTS, nosniff, framing (web/security_headers.py).
talisman = Talisman()
