"""Receivables aging: open invoices by days past due, per currency and per customer."""

from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context

from webapp.extensions import db
from webapp.rendering import render_page
from webapp.services import receivables as receivables_service

bp = Blueprint("receivables", __name__, url_prefix="/receivables")


@bp.get("/")
def index():
    """Totals per bucket for the chosen currency, and its customers sorted and paged;
    htmx swaps the ``aging`` block (a sort heading, the pager, the currency choice)."""
    query = receivables_service.AgingQuery.from_args(request.args)
    report = receivables_service.aging_report(db.session, query, receivables_service.today())
    return render_page(
        "receivables/index.html",
        blocks=("aging",),
        report=report,
        buckets=receivables_service.BUCKETS,
    )


@bp.get("/aging.csv")
def download():
    """The same report as CSV: every customer row of the chosen currency (all currencies
    with ``currency=all``), in the page's order."""
    query = receivables_service.AgingQuery.from_args(request.args)
    every = (request.args.get("currency") or "").lower() == "all"
    today = receivables_service.today()
    lines = receivables_service.csv_lines(db.session, query, today, every=every)
    name = receivables_service.csv_filename(query, today, every=every)
    response = Response(stream_with_context(lines), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
