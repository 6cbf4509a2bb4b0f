"""The Audit page (admins): deleted customers, cleared personal data, staff changes."""

from __future__ import annotations

from flask import Blueprint, abort

from webapp.blueprints import require_admin

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(require_admin)


@bp.get("")
def index():
    abort(404)  # being built
