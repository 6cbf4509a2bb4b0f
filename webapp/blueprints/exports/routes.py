"""Export all customers: start one, watch its progress, list them, download the file."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, send_file, url_for
from flask_login import current_user

from webapp.extensions import db
from webapp.models.export import Export
from webapp.paging import PageAt
from webapp.rendering import is_htmx_partial, render_page
from webapp.services import exports as export_service

bp = Blueprint("exports", __name__, url_prefix="/exports")


@bp.get("/")
def index():
    """Every export: who, when, rows, status, expiry and a download link."""
    return render_page(
        "exports/index.html",
        exports=export_service.exports_page(db.session, PageAt.from_args(request.args)),
        can_download=export_service.can_download,
        export_status_labels=export_service.STATUS_LABELS,
    )


@bp.post("/")
def start():
    """Start an export of all customers (or show the running one); htmx swaps in the progress."""
    export, _started = export_service.start_export(db.session, current_user)
    if is_htmx_partial():
        return render_page("exports/show.html", blocks=("export_progress",), export=export)
    return redirect(url_for("exports.show", export_id=export.id), code=303)


@bp.get("/<int:export_id>")
def show(export_id: int):
    """One export's progress; htmx polls the progress block while it runs."""
    export = _export_or_404(export_id)
    return render_page(
        "exports/show.html",
        blocks=("export_progress",),
        export=export,
        can_download=export_service.can_download(export, current_user),
    )


@bp.get("/<int:export_id>/download")
def download(export_id: int):
    """The CSV file: only for its requester or an admin, until it expires."""
    export = _export_or_404(export_id)
    try:
        path = export_service.downloadable_file(export, current_user)
    except export_service.ExportError as refusal:
        return render_page(
            "errors/error.html",
            status=refusal.status,
            title="Cannot download",
            message=str(refusal),
        )
    stamp = export.finished_at.strftime("%Y-%m-%d-%H%M")
    response = send_file(
        path,
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"tally-customers-{stamp}.csv",
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _export_or_404(export_id: int) -> Export:
    export = db.session.get(Export, export_id)
    if export is None:
        abort(404)
    return export
