"""(stub: filled in next)"""
from flask import Blueprint
from flask_login import login_required

bp = Blueprint("approvals", __name__, url_prefix="/approvals")

@bp.route("/queue")
@login_required
def queue():
    return "queue"
