"""Receivables aging: a row per customer and currency, and the open invoices by due date

The aging report (services.receivables) sorts customers by what they owe in each bucket
of days past due. Summing every open invoice per request took seconds at 1,000,000
customers, so each customer's open invoices are kept summed per currency and bucket in
``receivables`` (rewritten with every invoice change, in its transaction), counted from
the day in ``receivables_day``; an index per amount serves each sort. The customer's
name is copied there for the sort by name (walking every customer by name to find a
small currency's could read most of the table). The sums per currency are kept in
``receivables_totals``, 16 rows per currency (by customer id). When the day moves on,
only customers with an open invoice that crossed a bucket's edge are counted again:
the partial index ``ix_invoices_open_due`` finds them by due date.

The rows are filled here from the open invoices, as of today (UTC).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 12:45:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# As webapp.models.billing (a migration keeps its own copy).
AMOUNTS = ("current", "d1_30", "d31_60", "d61_90", "d90_plus", "total")
SORTS = (*AMOUNTS, "name")
OPEN = "status = 'open'"

FILL = """
INSERT INTO receivables (customer_id, currency, current, d1_30, d31_60, d61_90, d90_plus, total,
  name)
SELECT customer_id, currency,
  sum(CASE WHEN due_date >= :today THEN total_minor ELSE 0 END),
  sum(CASE WHEN due_date < :today AND due_date >= :d30 THEN total_minor ELSE 0 END),
  sum(CASE WHEN due_date < :d30 AND due_date >= :d60 THEN total_minor ELSE 0 END),
  sum(CASE WHEN due_date < :d60 AND due_date >= :d90 THEN total_minor ELSE 0 END),
  sum(CASE WHEN due_date < :d90 THEN total_minor ELSE 0 END),
  sum(total_minor),
  (SELECT name FROM customers WHERE customers.id = invoices.customer_id)
FROM invoices WHERE status = 'open' GROUP BY customer_id, currency
"""


# As services.receivables.SHARDS.
SHARDS = 16
TOTALS = """
INSERT INTO receivables_totals (currency, shard, current, d1_30, d31_60, d61_90, d90_plus,
  total, customers)
SELECT currency, customer_id % :shards, sum(current), sum(d1_30), sum(d31_60), sum(d61_90),
  sum(d90_plus), sum(total), count(*)
FROM receivables GROUP BY currency, customer_id % :shards
"""


def upgrade():
    op.create_table(
        "receivables",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in AMOUNTS),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_receivables_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("customer_id", "currency", name="pk_receivables"),
    )
    for name in SORTS:
        op.create_index(f"ix_receivables_{name}", "receivables", ["currency", name, "customer_id"])
    op.create_table(
        "receivables_totals",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in AMOUNTS),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("currency", "shard", name="pk_receivables_totals"),
    )
    day = op.create_table(
        "receivables_day",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_receivables_day"),
    )
    op.create_index(
        "ix_invoices_open_due",
        "invoices",
        ["due_date", "customer_id", "currency"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    today = datetime.now(UTC).date()
    edges = {f"d{n}": today.fromordinal(today.toordinal() - n) for n in (30, 60, 90)}
    op.get_bind().execute(sa.text(FILL), {"today": today, **edges})
    op.get_bind().execute(sa.text(TOTALS), {"shards": SHARDS})
    op.bulk_insert(day, [{"id": 1, "as_of": today}])


def downgrade():
    op.drop_index("ix_invoices_open_due", "invoices")
    op.drop_table("receivables_day")
    op.drop_table("receivables_totals")
    for name in SORTS:
        op.drop_index(f"ix_receivables_{name}", "receivables")
    op.drop_table("receivables")
