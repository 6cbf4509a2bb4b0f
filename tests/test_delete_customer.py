"""Delete customer: admins only, a confirmation that counts what goes and asks for the
customer's ID (checked again on the server), refused while a subscription is active,
and a deletion that leaves no row of the customer in any table (every table of the
database is compared before and after) but one audit line without personal data."""

from __future__ import annotations

import re
import threading
from datetime import date, datetime

import pytest
from sqlalchemy import delete, func, inspect, select, text

from tests.conftest import StaffClient, empty_database, make_app
from tests.test_ledger_concurrency import run_together
from webapp.extensions import db as _db
from webapp.models.billing import EntryKind, Invoice, LedgerEntry
from webapp.models.customer import Customer
from webapp.models.email import Email
from webapp.models.history import AuditEvent, CustomerEvent
from webapp.services import (
    activities,
    addresses,
    aliases,
    billing,
    contacts,
    deletion,
    mailer,
    subscriptions,
    tags,
    tickets,
)
from webapp.services import notes as notes_service
from webapp.services import sales as sales_service
from webapp.services.customers import create_customer
from webapp.services.ledger import LedgerError, check_balances, post_entry

TOKEN_URL = re.compile(r"/pay/([A-Za-z0-9_-]+)")

# The doomed customer's personal values: none may remain anywhere after the deletion,
# and none may be in the audit line.
DOOMED = {
    "name": "Doomed Dora",
    "company": "Doomed Holdings GmbH",
    "first_name": "Dora",
    "last_name": "Doomsday",
    "email": "dora@doomed.example",
    "phone": "+49 30 5550 7777",
    "country": "DE",
    "currency": "EUR",
    "address_line1": "13 Unglücksweg",
    "city": "Doomburg",
    "postal_code": "10115",
    "tax_id": "DE811111111",
    "footnotes": "Doomed footnote",
    "tax_rate_bp": 1900,
}
DOOMED_SECRETS = (
    "Doomed",
    "Dora",
    "dora@doomed.example",
    "5550 7777",
    "Unglücksweg",
    "Doomburg",
    "DE811111111",
    "Contact DOOMED",
    "Lager DOOMED",
    "CRM-DOOMED-1",
    "note about DOOMED",
)


# -- helpers and fixtures -------------------------------------------------------------


@pytest.fixture
def customer(make_customer):
    return make_customer(
        name="Acme Ltd", email="accounts@acme.example", country="DE", currency="EUR"
    )


def url(customer_id: int) -> str:
    return f"/customers/{customer_id}/delete"


def confirmation_form(html: str) -> str:
    """The confirmation's form, without the page around it (Sign out is a button too)."""
    return html.split('<form id="form"', 1)[1].split("</form>", 1)[0]


def exists(db, customer_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(Customer, customer_id) is not None


def table_names(db) -> list[str]:
    """Every table of the database itself (not only the models' idea of it)."""
    return sorted(inspect(db.engine).get_table_names())


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table, read on a connection of its own."""
    with db.engine.connect() as connection:
        return {
            name: sorted(
                (tuple(row) for row in connection.execute(text(f'SELECT * FROM "{name}"'))),
                key=repr,
            )
            for name in table_names(db)
        }


def rows_of(db, customer_id: int) -> dict[str, int]:
    """How many rows each table with a customer_id column holds for this customer."""
    counts = {}
    with db.engine.connect() as connection:
        for name in table_names(db):
            columns = {column["name"] for column in inspect(db.engine).get_columns(name)}
            if "customer_id" in columns:
                counts[name] = connection.scalar(
                    text(f'SELECT count(*) FROM "{name}" WHERE customer_id = :id'),
                    {"id": customer_id},
                )
    return counts


def generate_link(client: StaffClient, customer_id: int) -> str:
    """Generate link on the Billing tab; the token from its read-only field."""
    response = client.post(f"/customers/{customer_id}/payment-link/", {"expiry": "90"})
    assert response.status_code == 303
    html = client.get(f"/customers/{customer_id}/billing").get_data(as_text=True)
    field = re.search(r'<input id="payment-link-url" type="text" readonly value="([^"]+)"', html)
    assert field, "no read-only link field on the Billing tab"
    return TOKEN_URL.search(field.group(1)).group(1)


def pay(client, token: str):
    return client.get(f"/pay/{token}", environ_base={"REMOTE_ADDR": "203.0.113.9"})


def fill(db, client: StaffClient, customer: Customer, label: str, tag: str) -> str:
    """Give a customer a bit of everything, through the services and the panel: two
    invoices (one from a sale) and their emails, a credit note, an entry, a payment,
    a payment link generated and emailed, notes, a contact, an address, an external
    ID, a tag, an activity, a ticket and a cancelled subscription. Returns the token
    of its payment link."""
    staff_id = client.staff.id
    contacts.add(db.session, customer, staff_id, {"name": f"Contact {label}", "position": "CFO"})
    addresses.add(
        db.session,
        customer,
        staff_id,
        {
            "label": "Warehouse",
            "line1": f"Lager {label}",
            "line2": "",
            "city": "Hamburg",
            "region": "",
            "postal_code": "20095",
            "country": "DE",
        },
    )
    aliases.add(db.session, customer, staff_id, {"label": "CRM", "value": f"CRM-{label}-1"})
    tags.add_tag(db.session, customer, tag)
    activities.add(
        db.session,
        customer,
        staff_id,
        {"title": f"Call {label}", "kind": "call", "due_at": datetime(2030, 5, 6, 14, 30)},
    )
    tickets.add(db.session, customer, staff_id, {"subject": f"Ticket {label}", "description": ""})
    notes_service.add_note(db.session, customer.id, staff_id, f"First note about {label}")
    notes_service.add_note(db.session, customer.id, staff_id, f"Second note about {label}")

    charge = billing.capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=10000,
        currency="EUR",
        description=f"Workshop {label}",
        actor_id=staff_id,
        key=f"charge-{label}",
    )
    billing.capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=-3000,
        currency="EUR",
        description=f"Goodwill {label}",
        actor_id=staff_id,
        key=f"credit-{label}",
    )
    post_entry(
        db.session,
        customer.id,
        kind=EntryKind.CHARGE,
        amount_minor=-500,
        currency="EUR",
        description=f"Late fee {label}",
        actor_id=staff_id,
        key=f"entry-{label}",
    )
    billing.change_invoice_status(db.session, charge.invoice.id, "pay", staff_id)
    sale = sales_service.add(
        db.session,
        customer,
        staff_id,
        {
            "sold_on": date(2025, 3, 14),
            "description": f"Consulting {label}",
            "amount_minor": 20000,
            "currency": "EUR",
            "status": "open",
        },
    )
    sales_service.invoice_sale(db.session, customer.id, sale.id, staff_id)
    subscription = subscriptions.add(
        db.session,
        customer,
        staff_id,
        {
            "plan_name": f"Pro {label}",
            "amount_minor": 4900,
            "currency": "EUR",
            "interval": "monthly",
            "starts_on": date(2026, 1, 1),
        },
    )
    subscriptions.cancel(db.session, customer, subscription.id)

    token = generate_link(client, customer.id)
    assert client.post(f"/customers/{customer.id}/payment-link/email").status_code == 303
    return token


def expected_what_goes(db, customer_id: int) -> deletion.WhatGoes:
    """The counts, read with plain SQL independently of the service."""
    with db.engine.connect() as connection:

        def count(table: str) -> int:
            return connection.scalar(
                text(f"SELECT count(*) FROM {table} WHERE customer_id = :id"), {"id": customer_id}
            )

        return deletion.WhatGoes(
            invoices=count("invoices"),
            credit_notes=count("credit_notes"),
            entries=count("ledger_entries"),
            subscriptions=count("subscriptions"),
            payment_links=count("payment_links"),
            emails=count("emails"),
            notes=count("notes"),
            contacts=count("contacts"),
            addresses=count("addresses"),
            external_ids=count("customer_aliases"),
            tags=count("customer_tags"),
            activities=count("activities"),
            tickets=count("tickets"),
            sales=count("sales"),
            history_lines=count("customer_events"),
        )


# -- who may ----------------------------------------------------------------------------


def test_an_agent_gets_403_and_nothing_is_deleted(staff_client, db, customer):
    assert staff_client.get(url(customer.id)).status_code == 403
    assert staff_client.get(url(customer.id), htmx_target="modal").status_code == 403
    response = staff_client.post(url(customer.id), {"typed_id": customer.customer_id})
    assert response.status_code == 403
    assert exists(db, customer.id)
    # And the Actions menu does not offer it.
    page = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Delete customer" not in page and url(customer.id) not in page


def test_signed_out_is_sent_to_sign_in(app, db, customer):
    response = app.test_client().get(url(customer.id))
    assert response.status_code in (302, 303)
    assert "/sign-in" in response.headers["Location"]
    assert exists(db, customer.id)


def test_without_a_csrf_token_it_is_400_and_nothing_is_deleted(admin_client, db, customer):
    response = admin_client.post(url(customer.id), {"typed_id": customer.customer_id}, csrf=False)
    assert response.status_code == 400
    assert exists(db, customer.id)


def test_an_unknown_customer_is_404(admin_client):
    assert admin_client.get(url(999999)).status_code == 404
    assert admin_client.post(url(999999), {"typed_id": "C-999999"}).status_code == 404


# -- the confirmation ---------------------------------------------------------------------


def test_the_confirmation_is_a_page_and_a_modal_that_asks_for_the_id(admin_client, customer):
    visible = customer.customer_id
    page = admin_client.get(url(customer.id))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and "<h1>Delete customer</h1>" in html
    assert f'<label for="typed_id">Type {visible} to confirm</label>' in html
    field = re.search(r"<input[^>]*\bid=\"typed_id\"[^>]*>", html).group(0)
    assert "required" in field
    assert f'pattern="{visible}"' in field
    assert 'autocomplete="off"' in field
    assert f'data-confirm-match="{visible}"' in field
    assert "Delete customer</button>" in html
    assert f'href="/customers/{customer.id}"' in html and "data-close-modal" in html

    modal = admin_client.get(url(customer.id), htmx_target="modal")
    fragment = modal.get_data(as_text=True)
    assert modal.status_code == 200 and "<html" not in fragment and "<dialog" in fragment
    assert f"Type {visible} to confirm" in fragment and "HX-Request" in modal.headers["Vary"]

    # The Actions menu links it for admins.
    show = admin_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert f'hx-get="{url(customer.id)}"' in show


def test_the_confirmation_counts_what_goes(admin_client, db, make_customer):
    customer = make_customer(**DOOMED)
    fill(db, admin_client, customer, "DOOMED", "VIP")
    expected = expected_what_goes(db, customer.id)
    assert (expected.invoices, expected.credit_notes, expected.subscriptions) == (2, 1, 1)
    assert (expected.notes, expected.entries) == (2, 5)  # 2 invoices, credit, fee, payment
    assert expected.emails == 4  # two invoices, a credit note and the payment link
    # The primary contact typed with the customer and one more; the billing address given
    # with the customer, and the warehouse.
    assert (expected.contacts, expected.addresses, expected.external_ids) == (2, 2, 1)
    assert (expected.tags, expected.activities, expected.tickets, expected.sales) == (1, 1, 1, 1)
    assert expected.payment_links == 1 and expected.history_lines > 1

    html = admin_client.get(url(customer.id)).get_data(as_text=True)
    items = re.findall(r"<li>([^<]+)</li>", html.split('class="what-goes"', 1)[1].split("</ul>")[0])
    # Every kind by its name, none lumped together as "other records".
    assert items == [
        "2 invoices",
        "1 credit note",
        "5 ledger entries",
        "1 subscription",
        "1 payment link",
        "4 emails",
        "2 notes",
        "2 contacts",
        "2 addresses",
        "1 external ID",
        "1 tag",
        "1 activity",
        "1 ticket",
        "1 sale",
        f"{expected.history_lines} history lines",
    ]
    assert deletion.what_goes(db.session, customer.id) == expected


def test_what_goes_names_each_kind_says_one_and_many_and_leaves_out_none():
    counts = deletion.WhatGoes(invoices=1, entries=12, emails=2, history_lines=30)
    assert counts.lines() == ["1 invoice", "12 ledger entries", "2 emails", "30 history lines"]
    assert counts.summary() == "1 invoice, 12 ledger entries, 2 emails and 30 history lines"
    assert deletion.WhatGoes(history_lines=1).summary() == "1 history line"
    assert deletion.WhatGoes().lines() == []
    assert deletion.WhatGoes().summary() == "nothing kept on the customer"


def test_a_customer_with_nothing_kept_on_it_says_so(admin_client, db, customer):
    db.session.execute(delete(CustomerEvent).where(CustomerEvent.customer_id == customer.id))
    db.session.commit()
    html = admin_client.get(url(customer.id)).get_data(as_text=True)
    items = re.findall(r"<li>([^<]+)</li>", html.split('class="what-goes"', 1)[1].split("</ul>")[0])
    assert items == ["The customer record alone: nothing else is kept on it."]


# -- refusals -------------------------------------------------------------------------------


def test_a_wrong_id_is_refused_beside_the_field_and_nothing_is_deleted(
    admin_client, db, make_customer
):
    customer = make_customer(**DOOMED)
    fill(db, admin_client, customer, "DOOMED", "VIP")
    before = snapshot(db)
    visible = customer.customer_id
    wrong = ["", "   ", "C-000000", visible[2:], visible[:-1], f"{visible}0", "C 0", "customer"]
    for typed, htmx_target in [(typed, target) for typed in wrong for target in (None, "form")]:
        response = admin_client.post(url(customer.id), {"typed_id": typed}, htmx_target=htmx_target)
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        message = f"Type {visible} exactly to confirm. Nothing was deleted."
        assert f'<small id="typed_id-error" class="field-error">{message}</small>' in html
        assert 'aria-invalid="true"' in html
        if htmx_target:
            assert "<html" not in html and html.lstrip().startswith('<form id="form"')
    assert snapshot(db) == before  # every row of every table still there
    assert exists(db, customer.id)


def test_an_active_subscription_blocks_the_deletion(admin_client, db, customer):
    subscription = subscriptions.add(
        db.session,
        customer,
        None,
        {
            "plan_name": "Pro",
            "amount_minor": 4900,
            "currency": "EUR",
            "interval": "monthly",
            "starts_on": date(2026, 1, 1),
        },
    )
    visible = customer.customer_id
    html = admin_client.get(url(customer.id)).get_data(as_text=True)
    # Said before anything is tried: not that "nothing was deleted".
    assert (
        f"{visible} has an active subscription, so it cannot be deleted yet. Cancel it on the "
        "Subscriptions tab first." in html
    )
    assert "nothing was deleted" not in html.lower()
    assert f'href="/customers/{customer.id}/subscriptions"' in html
    assert "Go to Subscriptions" in html
    form = confirmation_form(html)
    assert 'type="submit"' not in form and 'id="typed_id"' not in form
    assert "1 subscription" in html

    before = snapshot(db)
    response = admin_client.post(url(customer.id), {"typed_id": visible}, htmx_target="form")
    assert response.status_code == 422
    assert (
        f"{visible} has an active subscription, so it cannot be deleted yet. Cancel it on the "
        "Subscriptions tab first. Nothing was deleted." in response.get_data(as_text=True)
    )
    assert snapshot(db) == before

    # Cancelled, it can go.
    subscriptions.cancel(db.session, customer, subscription.id)
    page = admin_client.get(url(customer.id)).get_data(as_text=True)
    assert 'type="submit"' in confirmation_form(page)
    response = admin_client.post(url(customer.id), {"typed_id": visible})
    assert response.status_code == 303
    assert not exists(db, customer.id)


def test_the_service_refuses_the_same(db, customer):
    with pytest.raises(deletion.DeletionError, match="Type C-") as refused:
        deletion.delete_customer(db.session, customer.id, "nope")
    assert refused.value.field == "typed_id"
    with pytest.raises(deletion.CustomerGone):
        deletion.delete_customer(db.session, 999999, "C-999999")
    assert exists(db, customer.id)


# -- deleting ----------------------------------------------------------------------------------


def test_deleting_removes_every_row_of_the_customer_and_nothing_else(
    admin_client, db, make_customer
):
    survivor = make_customer(
        name="Survivor Sam",
        email="sam@survivor.example",
        country="DE",
        currency="EUR",
        tax_rate_bp=1900,  # so the doomed customer's tax class exists before the snapshot
    )
    survivor_token = fill(db, admin_client, survivor, "SURVIVOR", "VIP")
    before = snapshot(db)

    doomed = make_customer(**DOOMED)
    doomed_id, visible = doomed.id, doomed.customer_id
    doomed_token = fill(db, admin_client, doomed, "DOOMED", "vip")  # the existing tag
    assert pay(admin_client.client, doomed_token).status_code == 200
    email_ids = db.session.scalars(select(Email.id).where(Email.customer_id == doomed_id)).all()
    expected = expected_what_goes(db, doomed_id)
    assert all(rows_of(db, doomed_id)[name] > 0 for name in ("ledger_entries", "emails", "notes"))

    # Spaces around it and letter case do not matter to the server.
    response = admin_client.post(url(doomed_id), {"typed_id": f"  {visible.lower()} "})
    assert response.status_code == 303
    assert response.headers["Location"] == "/customers"
    listing = admin_client.get("/customers").get_data(as_text=True)
    assert f"Customer {visible} deleted." in listing
    assert visible not in listing.replace(f"Customer {visible} deleted.", "")
    assert "Doomed Dora" not in listing and "Survivor Sam" in listing

    after = snapshot(db)
    assert set(after) == set(before)
    for name in before:
        if name in ("audit_events", "document_counters"):
            continue
        assert after[name] == before[name], f"{name} changed"
    # The numbering moves on: the doomed customer's invoice numbers are not issued again.
    assert [row[0] for row in after["document_counters"]] == [
        row[0] for row in before["document_counters"]
    ]
    # The audit trail keeps what it had, plus one line.
    added = [row for row in after["audit_events"] if row not in before["audit_events"]]
    assert len(added) == 1 and len(after["audit_events"]) == len(before["audit_events"]) + 1
    line = db.session.get(AuditEvent, added[0][0])
    assert (line.kind, line.subject, line.staff_id) == (
        "customer.deleted",
        visible,
        admin_client.staff.id,
    )
    assert line.summary == f"Deleted {visible}: {expected.summary()}."
    assert line.created_at is not None
    for secret in DOOMED_SECRETS:
        assert secret not in repr(added), secret
    # Nor is any of the customer's personal values anywhere else.
    everything = repr(after)
    for secret in DOOMED_SECRETS:
        assert secret not in everything, secret

    assert all(count == 0 for count in rows_of(db, doomed_id).values()), rows_of(db, doomed_id)
    assert check_balances(db.session) == []

    # The payment link is dead, the survivor's lives; the customer page is gone.
    dead = pay(admin_client.client, doomed_token)
    assert dead.status_code == 404 and "This link is not valid" in dead.get_data(as_text=True)
    assert pay(admin_client.client, survivor_token).status_code == 200
    assert admin_client.get(f"/customers/{doomed_id}").status_code == 404
    assert admin_client.get(url(doomed_id)).status_code == 404
    # A job still queued for one of its emails finds nothing to do.
    assert email_ids and mailer.deliver(db.session, email_ids[0]) is None


def test_with_htmx_it_redirects_to_the_list_with_the_message(admin_client, db, customer):
    visible = customer.customer_id
    response = admin_client.post(url(customer.id), {"typed_id": visible}, htmx_target="form")
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/customers"
    assert not exists(db, customer.id)
    listing = admin_client.get("/customers").get_data(as_text=True)
    assert f"Customer {visible} deleted." in listing
    # A second tab that still shows the confirmation finds the customer gone.
    again = admin_client.post(url(customer.id), {"typed_id": visible}, htmx_target="form")
    assert again.status_code == 404


def test_ids_are_not_handed_out_again(admin_client, db, make_customer):
    first = make_customer(name="First", email="first@example.com")
    assert admin_client.post(url(first.id), {"typed_id": first.customer_id}).status_code == 303
    second = make_customer(name="Second", email="second@example.com")
    assert second.id > first.id


# -- the set of tables ---------------------------------------------------------------------


def test_every_table_that_can_hold_a_customers_rows_is_emptied(db):
    """A new table that references customers (or one of their tables) must be added to
    services.deletion, or Delete customer would leave its rows behind."""
    assert deletion.uncovered_tables() == set()
    assert "invoice_lines" in deletion.tables_with_customer_rows(_db.metadata)
    assert "exports" not in deletion.tables_with_customer_rows(_db.metadata)
    # The models and the migrated database agree on the tables.
    assert set(table_names(db)) - {"alembic_version"} == set(_db.metadata.tables)


def test_a_table_it_does_not_know_is_reported(db):
    from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

    metadata = MetaData()
    for table in _db.metadata.tables.values():
        table.to_metadata(metadata)
    Table(
        "loyalty_points",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("invoice_id", ForeignKey("invoices.id")),
    )
    assert deletion.uncovered_tables(metadata) == {"loyalty_points"}


# -- at the same time as charges -----------------------------------------------------------


@pytest.fixture
def pg_app(postgres_url, instance_dir):
    app = make_app(postgres_url, instance_dir)
    empty_database(app)
    yield app
    empty_database(app)


def test_charges_racing_a_deletion_wait_and_then_are_refused(pg_app):
    """Charges from other tabs while an admin deletes: each either lands before the
    deletion (and is deleted with the customer) or waits for its lock and is refused;
    nothing is left behind and nothing else fails."""
    app = pg_app
    with app.app_context():
        customer = create_customer(
            _db.session,
            {"name": "Racer", "email": "r@example.com", "country": "DE", "currency": "EUR"},
        )
        customer_id, visible = customer.id, customer.customer_id
    refused: list[str] = []
    first_charge = threading.Event()

    def charger(thread: int):
        def work():
            # Until the deletion refuses it (each thread's last charge comes after it).
            for index in range(2000):
                try:
                    billing.capture_one_time_charge(
                        _db.session,
                        customer_id,
                        amount_minor=100 + index,
                        currency="EUR",
                        description=f"Charge {thread}/{index}",
                        actor_id=None,
                        key=f"race-{thread}-{index}",
                    )
                    first_charge.set()
                except LedgerError as refusal:
                    refused.append(str(refusal))
                    return
            raise AssertionError("never refused")

        return work

    def deleter():
        first_charge.wait(timeout=30)
        deletion.delete_customer(_db.session, customer_id, visible)

    failures, _ = run_together(app, [charger(0), charger(1), charger(2), deleter])
    assert failures == [], "\n".join(failures)
    assert refused and set(refused) == {"This customer no longer exists."}
    with app.app_context():
        assert _db.session.get(Customer, customer_id) is None
        for model in (Invoice, LedgerEntry, Email):
            assert _db.session.scalar(select(func.count()).select_from(model)) == 0
        assert check_balances(_db.session) == []
        (line,) = _db.session.scalars(select(AuditEvent)).all()
        assert line.subject == visible and line.staff_id is None
        assert " 0 invoices" not in line.summary  # some charges landed before it
