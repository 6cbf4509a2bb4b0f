"""Primary contact records: the contact typed in Add / Edit customer becomes a contact

Until now the contact fields of the customer form (first name, last name, position)
lived only on the customer row, beside the contacts of the Contacts tab: the Profile
showed one, the Contacts tab the other. From this revision the primary contact is
one record in ``contacts`` and the customer row keeps a copy of it.

- A customer whose contact fields are filled and who has no primary contact gets one,
  made from those fields.
- A customer who already has a primary contact that differs from those fields keeps it
  as the primary contact; the person typed on the form is kept as another contact
  (unless a contact of that name exists: then that contact takes the position if it has
  none), and the customer row becomes the copy of the primary contact. Each field of
  the row that changes is a line in the customer's history (from → to, by System), so
  no value is lost.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 18:00:00

"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

NAME_MAX = 200
# The customer columns that copy the primary contact, as the history names them.
COPIED = {
    "first_name": "Contact first name",
    "last_name": "Contact last name",
    "position": "Position",
}
TYPED_NAME = f"SUBSTR(TRIM(c.first_name || ' ' || c.last_name), 1, {NAME_MAX})"


def upgrade():
    bind = op.get_bind()
    now = datetime.utcnow()
    bind.execute(
        sa.text(
            "INSERT INTO contacts (customer_id, name, email, phone, position, is_primary,"
            " wants_billing, wants_updates, wants_legal, created_at, version)"
            f" SELECT c.id, {TYPED_NAME}, '', '', c.position, :yes, :no, :no, :no,"
            " c.created_at, 1 FROM customers c"
            " WHERE (c.first_name <> '' OR c.last_name <> '') AND NOT EXISTS"
            " (SELECT 1 FROM contacts p WHERE p.customer_id = c.id AND p.is_primary = :yes)"
        ),
        {"yes": True, "no": False},
    )
    differing = bind.execute(
        sa.text(
            "SELECT c.id, c.first_name, c.last_name, c.position, c.created_at,"
            " p.id AS primary_id, p.name AS primary_name, p.position AS primary_position"
            " FROM customers c JOIN contacts p ON p.customer_id = c.id AND p.is_primary = :yes"
            f" WHERE {TYPED_NAME} <> p.name OR c.position <> p.position ORDER BY c.id"
        ),
        {"yes": True},
    ).all()
    for row in differing:
        _copy_primary_contact(bind, row, now)


def _same_name(one: str, other: str) -> bool:
    return " ".join(one.casefold().split()) == " ".join(other.casefold().split())


def _copy_primary_contact(bind, row, now: datetime) -> None:
    """Keep the person typed on the form as a contact, then make the row the primary's copy."""
    # The rules the app keeps the copy by, and the search text it builds.
    from webapp.models.customer import Customer
    from webapp.services.contacts import full_name, split_name
    from webapp.services.search import build_search_text

    typed = full_name(row.first_name, row.last_name)[:NAME_MAX]
    primary_position = row.primary_position
    if typed:
        contacts = bind.execute(
            sa.text("SELECT id, name, position FROM contacts WHERE customer_id = :customer"),
            {"customer": row.id},
        ).all()
        same = next((contact for contact in contacts if _same_name(contact.name, typed)), None)
        if same is None:
            bind.execute(
                sa.text(
                    "INSERT INTO contacts (customer_id, name, email, phone, position, is_primary,"
                    " wants_billing, wants_updates, wants_legal, created_at, version)"
                    " VALUES (:customer, :name, '', '', :position, :no, :no, :no, :no,"
                    " :created_at, 1)"
                ),
                {
                    "customer": row.id,
                    "name": typed,
                    "position": row.position,
                    "no": False,
                    "created_at": row.created_at,
                },
            )
        elif row.position and not same.position:
            bind.execute(
                sa.text(
                    "UPDATE contacts SET position = :position, version = version + 1 WHERE id = :id"
                ),
                {"position": row.position, "id": same.id},
            )
            if same.id == row.primary_id:
                primary_position = row.position
    first, last = split_name(row.primary_name, row.first_name, row.last_name)
    copy = {"first_name": first, "last_name": last, "position": primary_position}
    changed = [column for column in COPIED if getattr(row, column) != copy[column]]
    if not changed:
        return  # the contact took the position the row held
    for column in changed:
        bind.execute(
            sa.text(
                "INSERT INTO customer_events (customer_id, staff_id, kind, summary, field,"
                " old_value, new_value, personal, created_at)"
                " VALUES (:customer, NULL, 'edited', :summary, :field, :old, :new, :yes, :now)"
            ),
            {
                "customer": row.id,
                "summary": f"Changed {COPIED[column]}",
                "field": column,
                "old": getattr(row, column),
                "new": copy[column],
                "yes": True,
                "now": now,
            },
        )
    searched = bind.execute(
        sa.text("SELECT name, company, email, tax_id, phone, mobile FROM customers WHERE id = :id"),
        {"id": row.id},
    ).one()
    aliases = bind.execute(
        sa.text("SELECT value FROM customer_aliases WHERE customer_id = :id ORDER BY id"),
        {"id": row.id},
    ).scalars()
    scratch = Customer(**searched._asdict(), first_name=first, last_name=last)
    bind.execute(
        sa.text(
            "UPDATE customers SET first_name = :first_name, last_name = :last_name,"
            " position = :position, search_text = :search_text, version = version + 1"
            " WHERE id = :id"
        ),
        {**copy, "search_text": build_search_text(scratch, aliases=list(aliases)), "id": row.id},
    )


def downgrade():
    # No column changed. The contacts made here stay: at 0012 they are ordinary contacts
    # (the primary one shown on the Profile, as before), and the customer rows keep
    # their values.
    pass
