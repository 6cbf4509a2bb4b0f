"""Agenda, Inbox and Sales across customers: who an activity is assigned to, a ticket's
assignee, and the indexes the three cross-customer lists read from

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 12:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# (table, column): the staff member an activity is assigned to, a ticket's assignee.
ASSIGNED = (("activities", "assigned_to_id"), ("tickets", "assignee_id"))

INDEXES = (
    ("ix_activities_done_due", "activities", ["done", "due_at", "id"]),
    ("ix_activities_assigned_due", "activities", ["assigned_to_id", "done", "due_at", "id"]),
    ("ix_tickets_status", "tickets", ["status", "id"]),
    ("ix_tickets_assignee_status", "tickets", ["assignee_id", "status", "id"]),
    ("ix_sales_sold", "sales", ["sold_on", "id"]),
    ("ix_sales_status_sold", "sales", ["status", "sold_on", "id"]),
)


def upgrade():
    for table, column in ASSIGNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch.create_foreign_key(f"fk_{table}_{column}_staff", "staff", [column], ["id"])
    # Activities planned before there was an "Assigned to" are for whoever planned them.
    op.execute("UPDATE activities SET assigned_to_id = staff_id WHERE assigned_to_id IS NULL")
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
    for table, column in ASSIGNED:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_{column}_staff", type_="foreignkey")
            batch.drop_column(column)
