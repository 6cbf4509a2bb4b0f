"""Receivables aging: a partial index of the open invoices

The aging report (services.receivables) sums open invoices by customer and days past
due, one currency at a time. This index holds only the open ones (paid, refunded, void
and draft invoices, most of the table, are left out) with every column the report reads,
so a currency's report is an index-only scan of its open invoices, already grouped by
customer, and the list of currencies is one probe per currency.

Built with CREATE INDEX CONCURRENTLY on PostgreSQL, so invoicing keeps working meanwhile.

Revision ID: 0026
Revises: 0022
Create Date: 2026-12-04 12:45:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0026"
down_revision = "0022"
branch_labels = None
depends_on = None

# As webapp.models.billing (a migration keeps its own copy).
NAME = "ix_invoices_open_aging"
COLUMNS = ["currency", "customer_id", "due_date", "total_minor"]
OPEN = "status = 'open'"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # CONCURRENTLY cannot run inside the migration's transaction.
        with op.get_context().autocommit_block():
            op.create_index(
                NAME,
                "invoices",
                COLUMNS,
                postgresql_where=sa.text(OPEN),
                postgresql_concurrently=True,
                if_not_exists=True,
            )
    else:
        op.create_index(NAME, "invoices", COLUMNS, sqlite_where=sa.text(OPEN))


def downgrade():
    op.drop_index(NAME, "invoices")
