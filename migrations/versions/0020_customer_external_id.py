"""Customers: an external ID (the customer's id in another system), unique when set

CSV import matches rows to customers by it, and API clients keep their own ids there.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 09:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("external_id", sa.String(100), nullable=True))
    op.create_index("ix_customers_external_id", "customers", ["external_id"], unique=True)


def downgrade():
    op.drop_index("ix_customers_external_id", "customers")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("external_id")
