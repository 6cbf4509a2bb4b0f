"""Balances in every currency at a glance: owes_any, credit_any, other_currencies

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 17:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FLAGS = ("owes_any", "credit_any")


def upgrade():
    # Constant server defaults: a plain ADD COLUMN, no table rebuilt on either database.
    for flag in FLAGS:
        op.add_column(
            "customers",
            sa.Column(flag, sa.Boolean(), server_default=sa.false(), nullable=False),
        )
    op.add_column(
        "customers",
        sa.Column("other_currencies", sa.SmallInteger(), server_default="0", nullable=False),
    )
    # Only customers with a non-zero balance somewhere change; the others keep the defaults.
    op.execute(
        """
        UPDATE customers SET
          owes_any = EXISTS (SELECT 1 FROM customer_balances b
                             WHERE b.customer_id = customers.id AND b.balance_minor < 0),
          credit_any = EXISTS (SELECT 1 FROM customer_balances b
                               WHERE b.customer_id = customers.id AND b.balance_minor > 0),
          other_currencies = (SELECT count(*) FROM customer_balances b
                              WHERE b.customer_id = customers.id
                                AND b.currency <> customers.currency
                                AND b.balance_minor <> 0)
        WHERE id IN (SELECT customer_id FROM customer_balances WHERE balance_minor <> 0)
        """
    )
    if op.get_bind().dialect.name == "postgresql":
        for flag in FLAGS:
            for column in ("created_at", "balance_minor"):
                op.create_index(
                    f"ix_customers_{flag.split('_')[0]}_{column}",
                    "customers",
                    [column, "id"],
                    postgresql_where=sa.text(f"{flag} AND status <> 'archived'"),
                )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for flag in FLAGS:
            for column in ("created_at", "balance_minor"):
                op.drop_index(f"ix_customers_{flag.split('_')[0]}_{column}", "customers")
    # Dropping a column rebuilds the table on SQLite: keep customers' AUTOINCREMENT.
    sqlite = op.get_bind().dialect.name == "sqlite"
    autoincrement = {"sqlite_autoincrement": True} if sqlite else {}
    with op.batch_alter_table("customers", table_kwargs=autoincrement) as batch:
        batch.drop_column("other_currencies")
        for flag in reversed(FLAGS):
            batch.drop_column(flag)
