"""Delete customer (admins): a confirmation that counts what goes and asks for the
customer's ID, checked again on the server."""

from __future__ import annotations

from flask import Blueprint, abort

from webapp.blueprints import admin_only

bp = Blueprint("deletion", __name__, url_prefix="/customers/<int:customer_id>")


@bp.route("/delete", methods=["GET", "POST"])
@admin_only
def confirm(customer_id: int):
    abort(404)  # being built
