"""Migration 0019: on PostgreSQL the partial indexes for the default view by country and
by currency (for the list's capped count, an index-only scan: measured by
benchmarks/bench_customer_list.py); a downgrade drops them and an upgrade after it builds
them again. SQLite gets nothing."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.migrating import database_at
from webapp.extensions import db

INDEXES = {"ix_customers_live_country", "ix_customers_live_currency"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0018(request, tmp_path, instance_dir):
    with database_at(request, request.param, "0018", tmp_path, instance_dir) as app:
        yield app, request.param


def index_names() -> set[str]:
    return {index["name"] for index in inspect(db.engine).get_indexes("customers")}


def test_up_down_and_up_again(database_at_0018):
    app, backend = database_at_0018
    with app.app_context():
        assert not index_names() & INDEXES
        upgrade(revision="0019")
        db.engine.dispose()
        assert (index_names() & INDEXES) == (INDEXES if backend == "postgresql" else set())
        downgrade(revision="0018")
        db.engine.dispose()
        assert not index_names() & INDEXES
        upgrade(revision="0019")
        db.engine.dispose()
        assert (index_names() & INDEXES) == (INDEXES if backend == "postgresql" else set())
