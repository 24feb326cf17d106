"""(stub: filled in next)"""
from flask import Blueprint
from flask_login import login_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

@bp.route("/index")
@login_required
def index():
    return "index"
