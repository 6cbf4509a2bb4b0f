"""Customer history with field values, the audit trail, clearing personal data

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EMAILED = "Emailed the payment link to "


def upgrade():
    with op.batch_alter_table("customer_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("field", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("old_value", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("new_value", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("personal", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Summaries hold no personal data any more: the address a link was emailed to moves
    # to new_value, where Clear personal data can find it.
    op.execute(
        sa.text(
            "UPDATE customer_events SET new_value = substr(summary, :start, "
            "length(summary) - :start), personal = :yes, summary = 'Emailed the payment link.' "
            "WHERE kind = 'payment_link.emailed' AND summary LIKE :prefix"
        ).bindparams(start=len(EMAILED) + 1, yes=True, prefix=EMAILED + "%")
    )

    op.create_table(
        "audit_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_audit_events_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_kind", "audit_events", ["kind", "id"], unique=False)
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )

    # On SQLite the table is rebuilt with AUTOINCREMENT, so the ID of a deleted customer
    # is never handed out again (a PostgreSQL sequence never reuses one anyway).
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "customers",
        schema=None,
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True} if sqlite else {},
    ) as batch_op:
        batch_op.add_column(sa.Column("personal_data_cleared_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("personal_data_cleared_at")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("session_version")
    op.drop_index("ix_audit_events_kind", table_name="audit_events")
    op.drop_table("audit_events")
    with op.batch_alter_table("customer_events", schema=None) as batch_op:
        batch_op.drop_column("personal")
        batch_op.drop_column("new_value")
        batch_op.drop_column("old_value")
        batch_op.drop_column("field")
