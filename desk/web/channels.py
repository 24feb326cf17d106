"""(stub: filled in next)"""
from flask import Blueprint
from flask_login import login_required

bp = Blueprint("channels", __name__, url_prefix="/channels")

@bp.route("/list_channels")
@login_required
def list_channels():
    return "list_channels"
