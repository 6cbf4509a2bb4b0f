"""Draft invoices: an invoice without a number until it is finalized

With the Manual invoicing flow (and New invoice on the Invoices tab) an invoice starts
as a draft: status "draft", no number, no ledger entry. A number is taken only when the
draft is finalized, so numbering stays gapless. So ``invoices.number`` may be empty (a
draft's), and so may ``invoices.due_date`` (a draft whose due date follows the payment
terms from the day it is finalized). ``invoices.draft_key`` is the key of the form that
started a draft, so a resubmitted form finds it instead of starting a second one.
``invoices.version`` counts an invoice's saves, so a draft saved or finalized in another
tab meanwhile is noticed.

Existing invoices are all issued: they keep their number and due date, version 1.

Downgrading deletes the drafts (an older release cannot show an invoice without a
number); a sale invoiced into a draft is open again.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.String(length=30), nullable=True)
        batch_op.alter_column("due_date", existing_type=sa.Date(), nullable=True)
        batch_op.add_column(sa.Column("draft_key", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch_op.create_unique_constraint(batch_op.f("uq_invoices_draft_key"), ["draft_key"])


def downgrade():
    drafts = "SELECT id FROM invoices WHERE status = 'draft'"
    op.execute(
        f"UPDATE sales SET status = 'open', invoice_id = NULL WHERE invoice_id IN ({drafts})"
    )
    op.execute(f"DELETE FROM invoice_lines WHERE invoice_id IN ({drafts})")
    op.execute("DELETE FROM invoices WHERE status = 'draft'")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_invoices_draft_key"), type_="unique")
        batch_op.drop_column("version")
        batch_op.drop_column("draft_key")
        batch_op.alter_column("due_date", existing_type=sa.Date(), nullable=False)
        batch_op.alter_column("number", existing_type=sa.String(length=30), nullable=False)
