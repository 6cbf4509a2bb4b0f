"""Payment reminders: a schedule of steps per legal entity, Do not remind on the customer,
and the reminders sent (one per invoice and step, never twice)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 12:40:00

Existing legal entities get no schedule: an upgrade does not start emailing customers
on its own; an admin adds the steps under Settings → Legal entities → Reminders. (A
legal entity added after this gets the default schedule, services.reminders.)
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reminder_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("legal_entity_id", sa.Integer(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("attach", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f("fk_reminder_steps_legal_entity_id_legal_entities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_steps")),
        sa.UniqueConstraint("legal_entity_id", "offset_days", name="uq_reminder_steps_offset"),
    )
    op.create_table(
        "sent_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("attach", sa.String(16), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_sent_reminders_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_sent_reminders_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_reminders")),
        sa.UniqueConstraint("invoice_id", "offset_days", name="uq_sent_reminders_step"),
    )
    op.create_index("ix_sent_reminders_customer", "sent_reminders", ["customer_id", "id"])
    # The job's walk: open invoices by due date.
    op.create_index("ix_invoices_status_due", "invoices", ["status", "due_date", "id"])
    # Not in batch mode: on SQLite that would rebuild customers without its AUTOINCREMENT.
    op.add_column(
        "customers",
        sa.Column("do_not_remind", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade():
    # Dropping a column rebuilds the table on SQLite: keep customers' AUTOINCREMENT.
    sqlite = op.get_bind().dialect.name == "sqlite"
    autoincrement = {"sqlite_autoincrement": True} if sqlite else {}
    with op.batch_alter_table("customers", table_kwargs=autoincrement) as batch:
        batch.drop_column("do_not_remind")
    op.drop_index("ix_invoices_status_due", "invoices")
    op.drop_index("ix_sent_reminders_customer", "sent_reminders")
    op.drop_table("sent_reminders")
    op.drop_table("reminder_steps")
