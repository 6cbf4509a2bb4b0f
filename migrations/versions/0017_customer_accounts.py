"""Customer accounts: sign-in to the customer area, its sessions, invite and reset links

``customer_accounts`` holds one account per customer (its sign-in email, a password
hash once set, whether the customer must change a password staff set, and when access
was disabled). ``customer_sessions`` are the customer area's server-side sessions (the
``tally_customer`` cookie carries a random id, the table its SHA-256), like
``staff_sessions``. ``customer_account_tokens`` are the single-use invite (72 h) and
reset (1 h) links, stored as a nonce and the SHA-256 of the token. ``emails`` gains
``account_token_id``: an invite or reset email's link is filled in when it is sent.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 23:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customer_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_set_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_accounts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_accounts")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_customer_accounts_customer_id")),
        sa.UniqueConstraint("email", name=op.f("uq_customer_accounts_email")),
    )
    op.create_table(
        "customer_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_accounts.id"],
            name=op.f("fk_customer_sessions_account_id_customer_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_customer_sessions")),
    )
    op.create_index("ix_customer_sessions_account_id", "customer_sessions", ["account_id"])
    op.create_index("ix_customer_sessions_last_seen_at", "customer_sessions", ["last_seen_at"])
    op.create_index("ix_customer_sessions_created_at", "customer_sessions", ["created_at"])
    op.create_table(
        "customer_account_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_accounts.id"],
            name=op.f("fk_customer_account_tokens_account_id_customer_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_account_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_customer_account_tokens_token_hash")),
    )
    op.create_index(
        "ix_customer_account_tokens_account_id",
        "customer_account_tokens",
        ["account_id", "purpose"],
    )
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_token_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_emails_account_token_id_customer_account_tokens"),
            "customer_account_tokens",
            ["account_token_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_emails_account_token_id_customer_account_tokens"), type_="foreignkey"
        )
        batch_op.drop_column("account_token_id")
    op.drop_index("ix_customer_account_tokens_account_id", table_name="customer_account_tokens")
    op.drop_table("customer_account_tokens")
    op.drop_index("ix_customer_sessions_created_at", table_name="customer_sessions")
    op.drop_index("ix_customer_sessions_last_seen_at", table_name="customer_sessions")
    op.drop_index("ix_customer_sessions_account_id", table_name="customer_sessions")
    op.drop_table("customer_sessions")
    op.drop_table("customer_accounts")
