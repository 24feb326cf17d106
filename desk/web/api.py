"""(stub: filled in next)"""
from flask import Blueprint

from ..extensions import csrf

api = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(api)
