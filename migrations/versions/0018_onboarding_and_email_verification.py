"""Onboarding email per legal entity; email verification and undeliverable addresses

- ``legal_entities.onboarding_subject`` / ``onboarding_body``: the entity's onboarding
  email, with placeholders ({customer_name} …); existing entities get the default text.
- ``customers.email_verified_at``, ``email_undeliverable_at``,
  ``email_undeliverable_reason``: whether the address is confirmed, or refused for good
  by a mail server (5xx) and why. All empty at first: no address is verified yet.
- ``email_verification_tokens``: single-use "Verify email" links, stored as payment
  links are (a nonce and the SHA-256 of the token), expiring after 7 days.
- PostgreSQL: a partial index for the list's "Email not verified" filter in its default
  view (not archived, newest first), as 0013 has for Owes and In credit.

Every ADD COLUMN has a constant default (or none): no table is rewritten. On
PostgreSQL the partial index is built with CREATE INDEX CONCURRENTLY, so the customer
list keeps working while it is built on a large table.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 23:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

DEFAULT_SUBJECT = "Welcome to {legal_entity}"
DEFAULT_BODY = """Hello {customer_name},

Welcome to {legal_entity}. Your customer ID is {customer_id}.

You can sign in to your own area to see your balance, your invoices and your statements:
{sign_in_url}

If you have any questions, just reply to this email.

{legal_entity}"""

UNVERIFIED_INDEX = "ix_customers_unverified_created"
# As webapp.models.customer.UNVERIFIED_WHERE (a migration keeps its own copy).
UNVERIFIED_WHERE = "email_verified_at IS NULL AND email <> '' AND status <> 'archived'"


def upgrade():
    op.add_column(
        "legal_entities",
        sa.Column(
            "onboarding_subject",
            sa.String(length=300),
            nullable=False,
            server_default=DEFAULT_SUBJECT,
        ),
    )
    op.add_column(
        "legal_entities",
        sa.Column("onboarding_body", sa.Text(), nullable=False, server_default=DEFAULT_BODY),
    )
    op.add_column("customers", sa.Column("email_verified_at", sa.DateTime(), nullable=True))
    op.add_column("customers", sa.Column("email_undeliverable_at", sa.DateTime(), nullable=True))
    op.add_column(
        "customers",
        sa.Column(
            "email_undeliverable_reason",
            sa.String(length=500),
            nullable=False,
            server_default="",
        ),
    )
    op.create_table(
        "email_verification_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column(
            "email_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("emails.id"),
            nullable=True,
        ),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_email_verification_tokens_token_hash"),
        sa.UniqueConstraint("email_id", name="uq_email_verification_tokens_email_id"),
    )
    op.create_index(
        "ix_email_verification_tokens_customer",
        "email_verification_tokens",
        ["customer_id", "id"],
    )
    if op.get_bind().dialect.name == "postgresql":
        # CONCURRENTLY cannot run inside the migration's transaction.
        with op.get_context().autocommit_block():
            op.create_index(
                UNVERIFIED_INDEX,
                "customers",
                ["created_at", "id"],
                postgresql_where=sa.text(UNVERIFIED_WHERE),
                postgresql_concurrently=True,
                if_not_exists=True,
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(UNVERIFIED_INDEX, "customers")
    op.drop_index("ix_email_verification_tokens_customer", "email_verification_tokens")
    op.drop_table("email_verification_tokens")
    # Dropping a column rebuilds the table on SQLite: keep customers' AUTOINCREMENT.
    sqlite = op.get_bind().dialect.name == "sqlite"
    autoincrement = {"sqlite_autoincrement": True} if sqlite else {}
    with op.batch_alter_table("customers", table_kwargs=autoincrement) as batch:
        batch.drop_column("email_undeliverable_reason")
        batch.drop_column("email_undeliverable_at")
        batch.drop_column("email_verified_at")
    with op.batch_alter_table("legal_entities") as batch:
        batch.drop_column("onboarding_body")
        batch.drop_column("onboarding_subject")
