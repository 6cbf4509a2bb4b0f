"""Deep pages of the list sorted by balance read the index alone

PostgreSQL: a partial (balance_minor, id) index for the default view (not
archived) makes page 1000 of the balance sort an index-only scan instead of
50,000 heap visits to check the status. SQLite: the status joins the index
for the same reason. Measured by benchmarks/bench_money.py.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.create_index(
            "ix_customers_live_balance",
            "customers",
            ["balance_minor", "id"],
            postgresql_where=sa.text("status <> 'archived'"),
        )
    elif dialect == "sqlite":
        op.create_index(
            "ix_customers_balance_status", "customers", ["balance_minor", "id", "status"]
        )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_index("ix_customers_live_balance", table_name="customers")
    elif dialect == "sqlite":
        op.drop_index("ix_customers_balance_status", table_name="customers")
