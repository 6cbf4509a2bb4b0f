"""The Staff page (admins): add staff, change a role, deactivate and reactivate."""

from __future__ import annotations

from flask import Blueprint, abort

from webapp.blueprints import require_admin

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.before_request(require_admin)


@bp.get("")
def index():
    abort(404)  # being built
