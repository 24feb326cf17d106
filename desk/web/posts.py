"""(stub: filled in next)"""
from flask import Blueprint
from flask_login import login_required

bp = Blueprint("posts", __name__, url_prefix="/posts")

@bp.route("/list_posts")
@login_required
def list_posts():
    return "list_posts"

@bp.route("/new_post")
@login_required
def new_post():
    return "new_post"
