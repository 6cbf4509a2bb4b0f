"""The Audit page (admins): deleted customers, cleared personal data, staff changes."""

from __future__ import annotations

from flask import Blueprint, request

from webapp.blueprints.access import require_admin
from webapp.extensions import db
from webapp.paging import PageAt
from webapp.rendering import render_page
from webapp.services import audit as audit_service

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(require_admin)


@bp.get("")
def index():
    """The audit trail, newest first and paged, filtered by ``?kind=`` (htmx swaps the results)."""
    kind = request.args.get("kind", "")
    kind = kind if kind in audit_service.KINDS else ""
    page = audit_service.audit_page(db.session, kind, PageAt.from_args(request.args))
    return render_page(
        "audit/index.html",
        blocks=("audit_results",),
        events=page,
        audit_kind=kind,
        audit_kinds=audit_service.KINDS,
    )
