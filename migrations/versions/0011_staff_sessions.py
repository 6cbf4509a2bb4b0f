"""Staff sessions kept on the server

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 12:00:00

A signed-in session is a row now (the cookie carries its random id, the table its
SHA-256), so ending sessions deletes rows and the staff session version goes. Sessions
signed in before this migration carried an account id, which is no session id: their
staff sign in once more.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_sessions_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_staff_sessions")),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"], unique=False)
    op.create_index(
        "ix_staff_sessions_last_seen_at", "staff_sessions", ["last_seen_at"], unique=False
    )
    op.create_index("ix_staff_sessions_created_at", "staff_sessions", ["created_at"], unique=False)
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("session_version")


def downgrade():
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.drop_index("ix_staff_sessions_created_at", table_name="staff_sessions")
    op.drop_index("ix_staff_sessions_last_seen_at", table_name="staff_sessions")
    op.drop_index("ix_staff_sessions_staff_id", table_name="staff_sessions")
    op.drop_table("staff_sessions")
