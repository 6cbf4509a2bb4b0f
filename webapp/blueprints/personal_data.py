"""Clear personal data (admins): a preview, field by field, then a confirmation."""

from __future__ import annotations

from flask import Blueprint, abort

from webapp.blueprints import admin_only

bp = Blueprint("personal_data", __name__, url_prefix="/customers/<int:customer_id>")


@bp.route("/clear-personal-data", methods=["GET", "POST"])
@admin_only
def confirm(customer_id: int):
    abort(404)  # being built
