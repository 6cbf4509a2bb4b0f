"""The API's blueprint object, shared by the resource modules (customers, entries …)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PREFIX = "/api/"
