"""Documents as issued: the buyer, the footer, the supply date and per-line prices

Invoices and credit notes already keep the seller as issued. From this revision they
keep the buyer too (name, company, address, tax ID, customer ID) and the legal
entity's footer, so a later edit of the customer, Clear personal data or an edit of
the legal entity does not rewrite them. Invoices get a supply date (empty: the issue
date) and their lines a unit price and a tax rate of their own; a line's amount stays
its net amount (quantity x unit price). Legal entities get the footer they print.

Existing documents take the buyer from the customer as it is now: the best there is,
since what the customer said on the day was never stored. A customer whose personal
data was already cleared leaves blanks. Their footer stays empty (none was printed),
each line's unit price is its amount divided by its quantity and its tax rate the
invoice's.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 09:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DOCUMENTS = ("invoices", "credit_notes")
BUYER = (
    ("buyer_name", sa.String(length=200)),
    ("buyer_company", sa.String(length=200)),
    ("buyer_address", sa.Text()),
    ("buyer_tax_id", sa.String(length=50)),
    ("buyer_customer_number", sa.String(length=30)),
    ("footer_text", sa.Text()),
)


def upgrade():
    for table in DOCUMENTS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, type_ in BUYER:
                batch_op.add_column(sa.Column(name, type_, nullable=False, server_default=""))
            if table == "invoices":
                batch_op.add_column(sa.Column("supply_date", sa.Date(), nullable=True))
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unit_price_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("tax_rate_bp", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("legal_entities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("invoice_footer", sa.Text(), nullable=False, server_default="")
        )
    _backfill()


def _backfill():
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE invoice_lines SET"
            " unit_price_minor = CASE WHEN quantity > 0 THEN amount_minor / quantity"
            " ELSE amount_minor END,"
            " tax_rate_bp = (SELECT invoices.tax_rate_bp FROM invoices"
            " WHERE invoices.id = invoice_lines.invoice_id)"
        )
    )
    # The buyer as the customer reads now, written the way the app writes it on issue.
    from webapp.models.customer import format_customer_id
    from webapp.services.documents import address_text

    customers = bind.execute(
        sa.text(
            "SELECT id, name, company, tax_id, address_line1, address_line2, postal_code,"
            " city, region, country FROM customers c WHERE"
            " EXISTS (SELECT 1 FROM invoices i WHERE i.customer_id = c.id)"
            " OR EXISTS (SELECT 1 FROM credit_notes n WHERE n.customer_id = c.id)"
            " ORDER BY id"
        )
    ).all()
    for row in customers:
        buyer = {
            "name": row.name,
            "company": row.company,
            "address": address_text(
                row.address_line1,
                row.address_line2,
                row.postal_code,
                row.city,
                row.region,
                row.country,
            ),
            "tax_id": row.tax_id,
            "number": format_customer_id(row.id),
            "customer": row.id,
        }
        for table in DOCUMENTS:
            bind.execute(
                sa.text(
                    f"UPDATE {table} SET buyer_name = :name, buyer_company = :company,"
                    " buyer_address = :address, buyer_tax_id = :tax_id,"
                    " buyer_customer_number = :number WHERE customer_id = :customer"
                ),
                buyer,
            )


def downgrade():
    with op.batch_alter_table("legal_entities", schema=None) as batch_op:
        batch_op.drop_column("invoice_footer")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_column("tax_rate_bp")
        batch_op.drop_column("unit_price_minor")
    for table in DOCUMENTS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "invoices":
                batch_op.drop_column("supply_date")
            for name, _type in reversed(BUYER):
                batch_op.drop_column(name)
