"""Indexes measured by benchmarks/bench_customer_list.py

- (country|currency|status, created_at, id): a filtered list in the default
  newest-first order is an index walk instead of a sort of every match.
- PostgreSQL: a partial (created_at, id) index for the default view (not
  archived), and 1000-value statistics on search_text so the planner tells a
  common search term from a rare one (the default 100 misjudged 'smith').
- SQLite: a covering (created_at, id, status, search_text) index, so substring
  searches and deep pages read the index rather than every row.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    dialect = op.get_bind().dialect.name
    for column in ("country", "currency", "status"):
        op.create_index(
            f"ix_customers_{column}_created", "customers", [column, "created_at", "id"]
        )
    if dialect == "postgresql":
        op.create_index(
            "ix_customers_live_created",
            "customers",
            ["created_at", "id"],
            postgresql_where=sa.text("status <> 'archived'"),
        )
        op.execute("ALTER TABLE customers ALTER COLUMN search_text SET STATISTICS 1000")
        op.execute("ANALYZE customers")
    elif dialect == "sqlite":
        op.create_index(
            "ix_customers_created_search",
            "customers",
            ["created_at", "id", "status", "search_text"],
        )
        op.execute("ANALYZE customers")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE customers ALTER COLUMN search_text SET STATISTICS -1")
        op.drop_index("ix_customers_live_created", table_name="customers")
    elif dialect == "sqlite":
        op.drop_index("ix_customers_created_search", table_name="customers")
    for column in ("country", "currency", "status"):
        op.drop_index(f"ix_customers_{column}_created", table_name="customers")
