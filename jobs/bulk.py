"""Run bulk actions on customers (over the threshold)."""

from __future__ import annotations

from webapp.extensions import db
from webapp.services import bulk


def run_bulk_action(bulk_id: int) -> str | None:
    """Run one bulk action batch by batch, unless another job did."""
    return bulk.run_job(db.session, bulk_id)
