"""Run customer imports (the dry run and the import)."""

from __future__ import annotations

from webapp.extensions import db
from webapp.services import imports


def run_import(import_id: int) -> str | None:
    """Run an import's dry run or the import itself from its cursor, unless another job has it."""
    return imports.run_import(db.session, import_id)
