"""Settings every database connection gets when it opens (webapp._connection_settings)."""

from __future__ import annotations

from sqlalchemy import text


def test_each_connection_gets_its_settings(db, backend):
    if backend == "postgresql":
        # A prepared statement is planned for its own values, never a generic plan.
        assert db.session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
        # Short indexed reads: no parallel workers to start.
        assert db.session.scalar(text("SHOW max_parallel_workers_per_gather")) == "0"
    else:
        assert db.session.scalar(text("PRAGMA foreign_keys")) == 1
        assert db.session.scalar(text("PRAGMA busy_timeout")) == 5000
