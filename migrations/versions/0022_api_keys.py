"""API keys, Idempotency-Key replays, and the API key as the actor of history and audit lines and entries

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 09:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# Rows that name who acted: history and audit lines, and ledger entries (Billing's Who).
ACTED_ON = ("customer_events", "audit_events", "ledger_entries")


def upgrade():
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_api_keys_created_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["staff.id"], name=op.f("fk_api_keys_revoked_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "api_idempotency_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("location", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_api_idempotency_records_api_key_id_api_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency_records")),
        sa.UniqueConstraint("api_key_id", "key", name="uq_api_idempotency_records_key"),
    )
    op.create_index("ix_api_idempotency_records_created", "api_idempotency_records", ["created_at"])
    for table in ACTED_ON:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("api_key_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_api_key_id_api_keys", "api_keys", ["api_key_id"], ["id"]
            )


def downgrade():
    for table in ACTED_ON:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_api_key_id_api_keys", type_="foreignkey")
            batch.drop_column("api_key_id")
    op.drop_index("ix_api_idempotency_records_created", "api_idempotency_records")
    op.drop_table("api_idempotency_records")
    op.drop_table("api_keys")
