"""Bulk actions on the customer list: one row per action run as a background job, and
exports of the chosen customers

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 13:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "bulk_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("customer_ids", sa.Text(), nullable=False),
        sa.Column("view", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Text(), nullable=False),
        sa.Column("tag_name", sa.String(100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_bulk_actions_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_actions")),
    )
    op.create_index(
        "ix_bulk_actions_status_next", "bulk_actions", ["status", "next_attempt_at"]
    )
    op.add_column("exports", sa.Column("customer_ids", sa.Text(), nullable=True))
    op.add_column("exports", sa.Column("selection_label", sa.String(200), nullable=True))


def downgrade():
    with op.batch_alter_table("exports") as batch:
        batch.drop_column("selection_label")
        batch.drop_column("customer_ids")
    op.drop_index("ix_bulk_actions_status_next", table_name="bulk_actions")
    op.drop_table("bulk_actions")
