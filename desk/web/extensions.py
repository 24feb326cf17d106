"""Every Flask extension, created unbound and bound in create_app."""
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

# Sessions for people signed in through the browser.
login_manager = LoginManager()
# CSRF on every form; the token-authenticated API is exempted in its blueprint.
csrf = CSRFProtect()
