"""Write customer exports."""

from __future__ import annotations

from webapp.extensions import db
from webapp.services import exports


def run_export(export_id: int) -> str | None:
    """Write one export's CSV and email the requester, unless another job did."""
    return exports.run_export(db.session, export_id)
