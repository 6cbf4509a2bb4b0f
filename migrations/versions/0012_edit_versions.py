"""Edit versions: a version column on every row staff edit in a form

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The tables whose rows have an edit form; each row counts its saves from 1.
VERSIONED = (
    "customers",
    "contacts",
    "addresses",
    "customer_aliases",
    "activities",
    "tickets",
    "sales",
    "tax_classes",
    "legal_entities",
)


def upgrade():
    # A NOT NULL column with a constant server default: existing rows get version 1.
    # A plain ALTER TABLE ADD COLUMN on both databases (no batch): no table is rebuilt,
    # however many rows it holds, and SQLite's customers table keeps AUTOINCREMENT.
    for table in VERSIONED:
        op.add_column(
            table,
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        )


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in reversed(VERSIONED):
        # Dropping a column rebuilds the table on SQLite: keep customers' AUTOINCREMENT.
        autoincrement = sqlite and table == "customers"
        with op.batch_alter_table(
            table,
            schema=None,
            table_kwargs={"sqlite_autoincrement": True} if autoincrement else {},
        ) as batch_op:
            batch_op.drop_column("version")
