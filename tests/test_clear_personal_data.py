"""Clear personal data (issue 7): admins only, CSRF, refused while a subscription is
active or once done, a preview field by field, and the proof: after clearing, no
personal value is left in any column of any table, while the ledger, balances,
invoices and credit notes are exactly as before; the customer can no longer be
edited, its payment link is dead, and billing still works."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from webapp.models.base import utcnow
from webapp.models.billing import CreditNote, EntryKind, Invoice
from webapp.models.contacts import Address, Alias, Contact
from webapp.models.crm import Activity, Sale, Ticket
from webapp.models.customer import Customer
from webapp.models.email import Email, EmailStatus
from webapp.models.history import AuditEvent, CustomerEvent
from webapp.models.notes import Note
from webapp.services import (
    activities,
    addresses,
    aliases,
    contacts,
    guard,
    notes,
    personal_data,
    sales,
    subscriptions,
    tickets,
)
from webapp.services.billing import capture_one_time_charge
from webapp.services.ledger import post_entry

TOKEN_URL = re.compile(r"/pay/([A-Za-z0-9_-]+)")

# Every personal value the rich customer holds somewhere: none may survive clearing.
# Phones are also searched as their digits (the national number), however written.
PERSONAL_TEXTS = [
    "Zyxwv",  # the first name of the customer, and the edited one
    "Quorrel",
    "Vexmoor",  # company, website
    "Ilsabet",
    "Grunfeldt",
    "zq@example.org",
    "zyxwv.q@example.org",
    "Chief Quibbler",
    "Wibbleton",
    "Snorkel",
    "Plimbury",
    "Frobshire",
    "ZQ1 7XW",
    "980780684",
    "Blorbo",
    "Perpetua",
    "Wobblesworth",
    "pw@wobble.example",
    "Head of Snacks",
    "Gloaming",
    "Nethertwee",
    "Holiday Den",
    "cus_QZX99",
    "Quibble-CRM",
    "QRL-774411",
    "Mimbleweed",
    "Grimsditch",
]
PERSONAL_DIGITS = ["2079460123", "7911123456", "1174960789", "2890180123", "2890180999"]


@pytest.fixture
def customer(make_customer):
    return make_customer(
        name="Acme Ltd", email="billing@acme.example", country="DE", currency="EUR"
    )


def url_of(customer_id: int) -> str:
    return f"/customers/{customer_id}/clear-personal-data"


def everything(db) -> dict[str, list[tuple]]:
    """Every row of every table, for "nothing was written"."""
    db.session.expire_all()
    return {
        table.name: sorted((tuple(row) for row in db.session.execute(table.select())), key=repr)
        for table in db.metadata.sorted_tables
    }


def reload(db, customer_id: int) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer_id)


def add_subscription(db, customer, plan="Pro"):
    values = {
        "plan_name": plan,
        "amount_minor": 4900,
        "currency": "EUR",
        "interval": "monthly",
        "starts_on": date(2026, 12, 1),
    }
    return subscriptions.add(db.session, customer, None, values)


def cleared(db, customer) -> Customer:
    personal_data.clear_personal_data(db.session, customer.id)
    return reload(db, customer.id)


# -- roles, CSRF, refusals ------------------------------------------------------------


def test_an_agent_gets_403_and_nothing_changes(staff_client, db, customer):
    before = everything(db)
    page = staff_client.get(url_of(customer.id))
    assert page.status_code == 403 and "Only an admin can do this." in page.get_data(as_text=True)
    assert staff_client.get(url_of(customer.id), htmx_target="modal").status_code == 403
    assert staff_client.post(url_of(customer.id), {}).status_code == 403
    assert everything(db) == before
    profile = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Clear personal data" not in profile


def test_without_csrf_it_is_400_and_nothing_changes(admin_client, db, customer):
    before = everything(db)
    assert admin_client.post(url_of(customer.id), {}, csrf=False).status_code == 400
    assert everything(db) == before
    assert reload(db, customer.id).personal_data_cleared_at is None


def test_signed_out_it_asks_to_sign_in(app, db, customer):
    response = app.test_client().get(url_of(customer.id))
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_an_unknown_customer_is_404(admin_client):
    assert admin_client.get(url_of(999999)).status_code == 404
    assert admin_client.post(url_of(999999), {}).status_code == 404


def test_refused_while_a_subscription_is_active(admin_client, db, customer):
    add_subscription(db, customer)
    page = admin_client.get(url_of(customer.id)).get_data(as_text=True)
    refusal = (
        f"{customer.customer_id} has an active subscription. Cancel it on the "
        "Subscriptions tab first; nothing was cleared."
    )
    assert refusal in page
    assert f'href="/customers/{customer.id}/subscriptions"' in page
    assert ">Clear personal data</button>" not in page
    before = everything(db)
    response = admin_client.post(url_of(customer.id), {})
    assert response.status_code == 422 and refusal in response.get_data(as_text=True)
    swapped = admin_client.post(url_of(customer.id), {}, htmx_target="form")
    assert swapped.status_code == 422
    assert swapped.get_data(as_text=True).lstrip().startswith('<form id="form"')
    assert everything(db) == before
    with pytest.raises(personal_data.PersonalDataError, match="active subscription"):
        personal_data.clear_personal_data(db.session, customer.id)
    assert everything(db) == before


def test_a_cancelled_subscription_does_not_stand_in_the_way(admin_client, db, customer):
    subscription = add_subscription(db, customer)
    subscriptions.cancel(db.session, customer, subscription.id)
    assert admin_client.post(url_of(customer.id), {}).status_code == 303
    assert reload(db, customer.id).personal_data_cleared_at is not None


def test_clearing_twice_is_refused(admin_client, db, customer):
    assert admin_client.post(url_of(customer.id), {}).status_code == 303
    stored = reload(db, customer.id)
    on = f"{stored.personal_data_cleared_at:%Y-%m-%d}"
    before = everything(db)
    page = admin_client.get(url_of(customer.id)).get_data(as_text=True)
    assert f"The personal data of {customer.customer_id} was already cleared on {on}." in page
    assert ">Clear personal data</button>" not in page
    again = admin_client.post(url_of(customer.id), {})
    assert again.status_code == 422
    assert "was already cleared" in again.get_data(as_text=True)
    assert everything(db) == before
    profile = admin_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert url_of(customer.id) not in profile  # the Actions menu no longer offers it


def test_the_preview_lists_each_field_with_its_value_and_outcome(admin_client, db, make_customer):
    customer = make_customer(
        name="Preview Person",
        company="Preview Co",
        email="preview@example.com",
        phone="+442079460123",
        fax="+441174960789",
        tax_id="GB980780684",
        country="GB",
        currency="GBP",
        address_line1="1 Preview Street",
        footnotes="Quiet please",
    )
    contacts.add(db.session, customer, None, {"name": "Pat Preview", "email": "pat@example.com"})
    notes.add_note(db.session, customer.id, None, "A note")
    response = admin_client.get(url_of(customer.id))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = dict(
        (label, (value, outcome))
        for label, value, outcome in re.findall(
            r'<th scope="row">([^<]+)</th>\s*<td class="prewrap">([^<]*)</td>\s*'
            r"<td>(?:<strong>)?(Cleared|Kept)",
            html,
        )
    )
    assert rows["Name"] == ("Preview Person", "Cleared")
    assert rows["Company"] == ("Preview Co", "Cleared")
    assert rows["Email"] == ("preview@example.com", "Cleared")
    assert rows["Phone"] == ("+44 20 7946 0123", "Cleared")
    assert rows["Fax"] == ("+44 117 496 0789", "Cleared")
    assert rows["Mobile"] == ("—", "Cleared")
    assert rows["Tax ID / VAT number"] == ("GB980780684", "Cleared")
    assert rows["Address line 1"] == ("1 Preview Street", "Cleared")
    assert rows["Footnotes"] == ("Quiet please", "Cleared")
    for label in personal_data.PERSONAL_FIELDS.values():
        assert rows[label][1] == "Cleared", label
    assert rows["Customer ID"] == (customer.customer_id, "Kept")
    assert rows["Country"] == ("United Kingdom", "Kept")
    assert rows["Billing currency"] == ("GBP", "Kept")
    assert "1 contact" in html and "1 note" in html and "1 address" in html
    assert "0 ledger entries" in html and "0 invoices" in html and "Balance: £0.00" in html
    assert ">Clear personal data</button>" in html and "Cancel" in html
    modal = admin_client.get(url_of(customer.id), htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal and "Preview Person" in modal
    assert reload(db, customer.id).personal_data_cleared_at is None  # asking cleared nothing


def test_success_with_htmx_closes_the_modal_and_refreshes(admin_client, db, customer):
    response = admin_client.post(url_of(customer.id), {}, htmx_target="form")
    assert response.status_code == 204
    events = json.loads(response.headers["HX-Trigger"])
    assert events["closeModal"] is True and events["customerUpdated"] == customer.id
    assert events["showMessage"] == f"Personal data of {customer.customer_id} cleared."


# -- the proof: no personal value left anywhere ----------------------------------------


# The columns of issued documents that keep the buyer as printed, after clearing too.
AS_ISSUED = {
    f"{table}.{column}"
    for table in ("invoices", "credit_notes")
    for column in ("buyer_name", "buyer_company", "buyer_address", "buyer_tax_id")
}


def personal_values_found(db) -> list[str]:
    """Each (table, column, value) of the whole database that holds a personal value."""
    db.session.expire_all()
    found = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(table.select()).mappings():
            for column, value in row.items():
                if not isinstance(value, str):
                    continue
                folded, digits = value.casefold(), re.sub(r"\D", "", value)
                for text in PERSONAL_TEXTS:
                    if text.casefold() in folded:
                        found.append(f"{table.name}.{column}: {text!r} in {value[:80]!r}")
                for number in PERSONAL_DIGITS:
                    if number in digits:
                        found.append(f"{table.name}.{column}: {number} in {value[:80]!r}")
    return found


def money_snapshot(db) -> dict[str, list[tuple]]:
    """Every column of every row of the tables that must not change."""
    db.session.expire_all()
    names = (
        "ledger_entries",
        "customer_balances",
        "invoices",
        "invoice_lines",
        "credit_notes",
        "sales",
        "subscriptions",
        "customer_tags",
    )
    tables = {table.name: table for table in db.metadata.sorted_tables}
    return {
        name: sorted((tuple(row) for row in db.session.execute(tables[name].select())), key=repr)
        for name in names
    }


def rows_of(db, customer_id: int) -> dict[str, list[tuple]]:
    """Everything stored about one customer, in every table that refers to it."""
    db.session.expire_all()
    found = {}
    invoice_ids = select(Invoice.id).where(Invoice.customer_id == customer_id)
    for table in db.metadata.sorted_tables:
        if table.name == "customers":
            statement = table.select().where(table.c.id == customer_id)
        elif "customer_id" in table.c:
            statement = table.select().where(table.c.customer_id == customer_id)
        elif table.name == "invoice_lines":
            statement = table.select().where(table.c.invoice_id.in_(invoice_ids))
        else:
            continue
        found[table.name] = sorted((tuple(r) for r in db.session.execute(statement)), key=repr)
    return found


def build_rich_customer(admin_client, db, customer_data) -> Customer:
    """A customer with a distinctive value in every personal field and record, billed,
    emailed, with a payment link, and edited through the form so the history holds
    from → to values."""
    form = {
        **customer_data,
        "name": "Zyxwv Quorrel",
        "company": "Vexmoor Holdings",
        "first_name": "Ilsabet",
        "last_name": "Grunfeldt",
        "email": "zq@example.org",
        "phone": "+44 20 7946 0123",
        "mobile": "+44 7911 123456",
        "fax": "+44 117 496 0789",
        "position": "Chief Quibbler",
        "website": "https://quorrel-vexmoor.example",
        "address_line1": "42 Wibbleton Lane",
        "address_line2": "Flat Snorkel 9",
        "city": "Plimbury",
        "region": "Frobshire",
        "postal_code": "ZQ1 7XW",
        "tax_id": "GB980780684",
        "footnotes": "Prefers carrier pigeons named Blorbo",
    }
    assert admin_client.post("/customers/new", form).status_code == 303
    customer = db.session.scalars(select(Customer).where(Customer.email == "zq@example.org")).one()
    # Edited once through Edit customer: the history holds the old and the new values.
    edited = {**form, "name": "Quorrel Zyxwv Trading", "email": "zyxwv.q@example.org"}
    assert admin_client.post(f"/customers/{customer.id}/edit", edited).status_code == 303

    contact = contacts.add(
        db.session,
        customer,
        admin_client.staff.id,
        {
            "name": "Perpetua Wobblesworth",
            "email": "pw@wobble.example",
            "phone": "+442890180999",
            "position": "Head of Snacks",
            "wants_billing": True,
        },
    )
    contacts.change(
        db.session,
        customer,
        contact,
        {
            "name": "Perpetua Wobblesworth",
            "email": "pw@wobble.example",
            "phone": "+442890180123",
            "position": "Head of Snacks",
            "is_primary": True,
            "wants_billing": True,
        },
    )
    addresses.add(
        db.session,
        customer,
        admin_client.staff.id,
        {"label": "Holiday Den", "line1": "7 Gloaming Row", "city": "Nethertwee", "country": "GB"},
    )
    aliases.add(
        db.session, customer, admin_client.staff.id, {"label": "Stripe", "value": "cus_QZX99"}
    )
    aliases.add(
        db.session, customer, admin_client.staff.id, {"label": "Quibble-CRM", "value": "QRL-774411"}
    )
    notes.add_note(db.session, customer.id, admin_client.staff.id, "Blorbo's birthday is in May")
    activities.add(
        db.session,
        customer,
        admin_client.staff.id,
        {
            "kind": "call",
            "title": "Quarterly review",
            "due_at": datetime(2026, 12, 1, 10, 0),
            "notes": "Discuss the Mimbleweed account",
        },
    )
    tickets.add(
        db.session,
        customer,
        admin_client.staff.id,
        {"subject": "Invoice question", "description": "Mr Grimsditch asked about VAT"},
    )
    sales.add(
        db.session,
        customer,
        admin_client.staff.id,
        {
            "sold_on": date(2026, 11, 1),
            "description": "Consulting package",
            "amount_minor": 50000,
            "currency": "GBP",
            "status": "open",
        },
    )
    for amount, description in ((12000, "Consulting"), (-2000, "Goodwill credit")):
        capture_one_time_charge(
            db.session,
            customer.id,
            amount_minor=amount,
            currency="GBP",
            description=description,
            actor_id=admin_client.staff.id,
            key=uuid.uuid4().hex,
        )
    post_entry(
        db.session,
        customer.id,
        kind=EntryKind.PAYMENT,
        amount_minor=5000,
        currency="GBP",
        description="Bank transfer",
        actor_id=admin_client.staff.id,
        key=None,
    )
    assert admin_client.post(f"/customers/{customer.id}/tags", {"tag": "VIP"}).status_code == 303
    assert (
        admin_client.post(f"/customers/{customer.id}/payment-link/", {"expiry": "90"}).status_code
        == 303
    )
    assert admin_client.post(f"/customers/{customer.id}/payment-link/email").status_code == 303
    return reload(db, customer.id)


def test_clearing_leaves_no_personal_value_anywhere_and_money_untouched(
    admin_client, app, db, customer_data, make_customer
):
    other = make_customer(name="Other Person Ltd", email="other@example.net")
    contacts.add(db.session, other, None, {"name": "Olga Other", "email": "olga@example.net"})
    notes.add_note(db.session, other.id, None, "Other's note")
    customer = build_rich_customer(admin_client, db, customer_data)

    # Everything the test put in is really there, so finding none afterwards means something.
    found_before = "\n".join(personal_values_found(db))
    for text in [*PERSONAL_TEXTS, *PERSONAL_DIGITS]:
        assert text.casefold() in found_before.casefold(), text
    emails = db.session.scalars(select(Email).where(Email.customer_id == customer.id)).all()
    assert {e.kind for e in emails} == {"invoice", "credit_note", "payment_link"}
    assert {e.recipient for e in emails} == {"zyxwv.q@example.org", "pw@wobble.example"}
    assert all(e.status == EmailStatus.NOT_SENT for e in emails)  # no mail server here
    assert all("Quorrel Zyxwv Trading" in e.text_body + e.html_body for e in emails)
    # One email is still waiting for its job: it must never go out.
    waiting = next(e.id for e in emails if e.kind == "payment_link")
    db.session.execute(
        update(Email).where(Email.id == waiting).values(status=EmailStatus.QUEUED, last_error="")
    )
    db.session.commit()
    billing = admin_client.get(f"/customers/{customer.id}/billing").get_data(as_text=True)
    token = TOKEN_URL.search(billing).group(1)
    assert app.test_client().get(f"/pay/{token}").status_code == 200
    money = money_snapshot(db)
    balance = customer.balance_minor
    assert balance == -(14400 - 2000 - 5000)  # 120.00 + 20 % tax, less the credit and payment
    others = rows_of(db, other.id)

    preview = admin_client.get(url_of(customer.id)).get_data(as_text=True)
    assert "Zyxwv" in preview and "zyxwv.q@example.org" in preview  # the admin sees what goes
    # Two contacts: the one typed in Add customer, then Perpetua, made primary after.
    for phrase in ("2 contacts", "2 addresses", "2 external IDs", "1 note", "3 ledger entries"):
        assert phrase in preview, phrase
    response = admin_client.post(url_of(customer.id), {})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}"

    # Issued invoices and credit notes keep the buyer printed on them (a legal record);
    # nothing else holds a personal value.
    found = personal_values_found(db)
    issued = [value for value in found if value.split(":")[0] in AS_ISSUED]
    assert [value for value in found if value not in issued] == []
    assert "invoices.buyer_name: 'Zyxwv' in 'Quorrel Zyxwv Trading'" in issued
    assert "credit_notes.buyer_name: 'Zyxwv' in 'Quorrel Zyxwv Trading'" in issued
    assert money_snapshot(db) == money
    assert rows_of(db, other.id) == others
    stored = reload(db, customer.id)
    assert stored.balance_minor == balance
    assert stored.name == personal_data.CLEARED_NAME and stored.email == ""
    assert (stored.country, stored.currency, stored.status) == ("GB", "GBP", "active")
    assert stored.personal_data_cleared_at is not None
    assert stored.search_text == "personal data cleared"
    for model in (Contact, Address, Alias, Note):
        assert (
            db.session.scalar(
                select(func.count()).select_from(model).where(model.customer_id == customer.id)
            )
            == 0
        ), model
    assert db.session.scalars(select(Activity.title)).all() == ["Quarterly review"]
    assert db.session.scalars(select(Ticket.subject)).all() == ["Invoice question"]
    emails = db.session.scalars(select(Email).where(Email.customer_id == customer.id)).all()
    assert len(emails) == 5  # kept, emptied
    assert all((e.recipient, e.html_body, e.text_body) == ("", "", "") for e in emails)
    stopped = db.session.get(Email, waiting)
    assert stopped.status == EmailStatus.FAILED
    assert stopped.last_error == personal_data.NOT_SENT_ERROR
    assert app.test_client().get(f"/pay/{token}").status_code == 404

    # History: the personal values are gone, the lines stay, one line says why.
    events = db.session.scalars(
        select(CustomerEvent).where(CustomerEvent.customer_id == customer.id)
    ).all()
    personal = [e for e in events if e.personal]
    assert len(personal) > 10 and all(e.cleared for e in personal)
    assert [e.kind for e in events].count("personal_data.cleared") == 1
    history = admin_client.get(f"/customers/{customer.id}/history").get_data(as_text=True)
    assert "cleared with personal data" in history and "Personal data cleared" in history
    assert "Changed Name" in history and "Changed Email" in history
    audit = db.session.scalars(
        select(AuditEvent).where(AuditEvent.kind == "customer.personal_data_cleared")
    ).one()
    assert (audit.kind, audit.subject, audit.staff_id) == (
        "customer.personal_data_cleared",
        customer.customer_id,
        admin_client.staff.id,
    )
    assert audit.summary.startswith(f"Cleared the personal data of {customer.customer_id}: ")

    # What staff see: the cleared profile, the emptied email, no way to edit.
    profile = admin_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert f"Personal data cleared on {stored.personal_data_cleared_at:%Y-%m-%d}" in profile
    assert "<h1>Personal data cleared</h1>" in profile
    assert f'href="/customers/{customer.id}/edit"' not in profile
    listed = admin_client.get("/customers").get_data(as_text=True)
    assert "Personal data cleared" in listed and "Zyxwv" not in listed
    email_page = admin_client.get(f"/customers/{customer.id}/emails/{emails[0].id}")
    assert "cleared with the customer&#39;s personal data" in email_page.get_data(as_text=True)

    # Billing still works: a charge makes an invoice (emailed to no one), archive works.
    invoices_before = db.session.scalar(select(func.count()).select_from(Invoice))
    charge = admin_client.post(
        f"/customers/{customer.id}/charges/new",
        {"amount": "10", "currency": "GBP", "description": "Support", "key": uuid.uuid4().hex},
    )
    assert charge.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == invoices_before + 1
    assert reload(db, customer.id).balance_minor == balance - 1200
    assert (
        db.session.scalar(
            select(func.count()).select_from(Email).where(Email.customer_id == customer.id)
        )
        == 5
    )
    archive = admin_client.post(f"/customers/{customer.id}/status", {"status": "archived"})
    assert archive.status_code == 303 and reload(db, customer.id).status == "archived"
    assert [value for value in personal_values_found(db) if value not in issued] == []
    assert db.session.scalar(select(func.count()).select_from(CreditNote)) == 1


# -- after clearing, the customer can no longer be edited ------------------------------


def refusal_for(db, customer_id: int) -> str:
    stored = reload(db, customer_id)
    return (
        f"Personal data was cleared on {stored.personal_data_cleared_at:%Y-%m-%d}: "
        "this customer can no longer be edited."
    )


def test_edit_customer_is_refused_and_writes_nothing(admin_client, staff_client, db, customer):
    customer = cleared(db, customer)
    message = refusal_for(db, customer.id)
    assert guard.edit_refusal(customer) == message
    before = everything(db)
    edit = f"/customers/{customer.id}/edit"
    form = {"name": "Back Again", "email": "back@example.com", "country": "DE"}
    for client in (admin_client, staff_client):
        page = client.get(edit)
        assert page.status_code == 409
        html = page.get_data(as_text=True)
        assert message.replace("'", "&#39;") in html and "<h1>Edit customer</h1>" not in html
        assert client.post(edit, form).status_code == 409
        modal = client.get(edit, htmx_target="modal")
        assert modal.status_code == 409 and modal.get_data(as_text=True) == ""
        events = json.loads(modal.headers["HX-Trigger"])
        assert events["showMessage"] == {"text": message, "level": "error"}
        assert events["closeModal"] is True
        assert client.post(edit, form, htmx_target="form").status_code == 409
    assert everything(db) == before


@pytest.mark.parametrize(
    ("kind", "form"),
    [
        ("contacts", {"name": "Back Again", "email": "back@example.com"}),
        ("addresses", {"line1": "1 Back Street", "city": "Berlin", "country": "DE"}),
        ("aliases", {"label": "Stripe", "value": "cus_back"}),
        ("activities", {"kind": "call", "title": "Call", "due_at": "2026-12-01T10:00"}),
        ("tickets", {"subject": "Back", "description": "Back again"}),
        ("sales", {"sold_on": "2026-11-01", "description": "X", "amount": "1", "currency": "EUR"}),
        ("subscriptions", {"plan_name": "Pro", "amount": "1", "currency": "EUR"}),
    ],
)
def test_adding_any_record_is_refused(staff_client, db, customer, kind, form):
    customer = cleared(db, customer)
    before = everything(db)
    new = f"/customers/{customer.id}/{kind}/new"
    page = staff_client.get(new)
    assert page.status_code == 409
    assert "can no longer be edited" in page.get_data(as_text=True)
    assert staff_client.post(new, form).status_code == 409
    assert staff_client.get(new, htmx_target="modal").status_code == 409
    assert staff_client.post(new, form, htmx_target="form").status_code == 409
    assert everything(db) == before


@pytest.mark.parametrize(
    ("kind", "form"),
    [
        ("activities", {"kind": "call", "title": "Renamed", "due_at": "2026-12-01T10:00"}),
        ("tickets", {"subject": "Renamed", "description": "Back again", "status": "new"}),
        ("sales", {"sold_on": "2026-11-01", "description": "Renamed", "amount": "1"}),
    ],
)
def test_editing_a_kept_record_is_refused(staff_client, db, customer, kind, form):
    activities.add(
        db.session,
        customer,
        None,
        {"kind": "call", "title": "Call", "due_at": datetime(2026, 12, 1)},
    )
    tickets.add(db.session, customer, None, {"subject": "Question", "description": ""})
    sales.add(
        db.session,
        customer,
        None,
        {
            "sold_on": date(2026, 11, 1),
            "description": "Consulting",
            "amount_minor": 100,
            "currency": "EUR",
            "status": "open",
        },
    )
    customer = cleared(db, customer)
    model = {"activities": Activity, "tickets": Ticket, "sales": Sale}[kind]
    record_id = db.session.scalar(select(model.id))
    before = everything(db)
    edit = f"/customers/{customer.id}/{kind}/{record_id}/edit"
    assert staff_client.get(edit).status_code == 409
    assert staff_client.post(edit, {**form, "currency": "EUR"}).status_code == 409
    assert staff_client.post(edit, form, htmx_target="form").status_code == 409
    assert everything(db) == before


def test_notes_tags_and_payment_links_are_refused(staff_client, db, customer):
    customer = cleared(db, customer)
    before = everything(db)
    base = f"/customers/{customer.id}"
    note = staff_client.post(f"{base}/notes/", {"body": "Back again"})
    assert note.status_code == 409 and "can no longer be edited" in note.get_data(as_text=True)
    assert (
        staff_client.post(f"{base}/notes/", {"body": "x"}, htmx_target="note_form").status_code
        == 409
    )
    assert staff_client.post(f"{base}/tags", {"tag": "VIP"}).status_code == 409
    assert (
        staff_client.post(f"{base}/tags", {"tag": "VIP"}, htmx_target="tag_form").status_code == 409
    )
    generate = staff_client.post(f"{base}/payment-link/", {"expiry": "90"})
    assert generate.status_code == 409
    assert "can no longer be edited" in generate.get_data(as_text=True)
    assert staff_client.post(f"{base}/payment-link/email").status_code == 409
    assert everything(db) == before
    page = staff_client.get(f"{base}/notes").get_data(as_text=True)
    assert 'id="note_form"' not in page
    billing = staff_client.get(f"{base}/billing").get_data(as_text=True)
    assert "Generate link" not in billing and "Payment links are off" in billing


def test_a_customer_not_cleared_is_edited_as_before(staff_client, db, customer):
    assert guard.edit_refusal(customer) is None
    response = staff_client.post(f"/customers/{customer.id}/notes/", {"body": "Still fine"})
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Note)) == 1


def test_the_audit_summary_counts_without_personal_values(db, customer):
    contacts.add(db.session, customer, None, {"name": "Carla Contact", "email": "c@example.com"})
    aliases.add(db.session, customer, None, {"label": "Stripe", "value": "cus_Carla"})
    result = personal_data.clear_personal_data(db.session, customer.id)
    assert (result.contacts, result.aliases, result.notes) == (1, 1, 0)
    audit = db.session.scalars(
        select(AuditEvent).where(AuditEvent.kind == "customer.personal_data_cleared")
    ).one()
    assert audit.staff_id is None  # no one signed in: the command line
    assert audit.summary == (
        f"Cleared the personal data of {customer.customer_id}: 1 contact, 1 external ID, "
        "3 history values."
    )
    assert "Carla" not in audit.summary and "Acme" not in audit.summary
    assert utcnow() - reload(db, customer.id).personal_data_cleared_at < timedelta(minutes=1)


def test_no_add_or_edit_is_offered_once_cleared(staff_client, db, customer):
    tickets.add(db.session, customer, None, {"subject": "Question", "description": ""})
    contacts.add(db.session, customer, None, {"name": "Carla Contact", "email": "c@example.com"})
    base = f"/customers/{customer.id}"
    before = staff_client.get(f"{base}/tickets").get_data(as_text=True)
    assert f'href="{base}/tickets/new"' in before and "/edit" in before
    assert 'id="tag_form"' in staff_client.get(base).get_data(as_text=True)

    cleared(db, customer)
    profile = staff_client.get(base).get_data(as_text=True)
    assert 'id="tag_form"' not in profile and "+ Add external ID" not in profile
    for tab in ("tickets", "contacts"):
        html = staff_client.get(f"{base}/{tab}").get_data(as_text=True)
        assert f'href="{base}/{tab}/new"' not in html and "/edit" not in html


def test_a_cleared_email_cannot_be_resent(staff_client, db, customer):
    capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=1000,
        currency=customer.currency,
        description="Setup",
        actor_id=None,
        key=None,
    )
    email = db.session.scalar(select(Email))
    assert email.status == EmailStatus.NOT_SENT  # no mail server: Resend would be offered
    cleared(db, customer)
    status = db.session.get(Email, email.id).status
    response = staff_client.post(f"/customers/{customer.id}/emails/{email.id}/resend")
    assert response.status_code == 303
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "it has no recipient and cannot be sent again" in page
    db.session.expire_all()
    assert db.session.get(Email, email.id).status == status != EmailStatus.QUEUED


def test_an_edit_in_flight_while_clearing_is_refused_under_the_lock(db, customer):
    """The route refuses a cleared customer, but an edit that read the customer before
    the clear committed must not write a personal value back: the service re-checks
    under the customer's lock."""
    from webapp.services import customers as customer_service

    stale = db.session.get(Customer, customer.id)  # read before the clear …
    assert stale.personal_data_cleared_at is None
    with db.engine.connect() as other:  # … which another request commits meanwhile
        other.execute(
            update(Customer)
            .where(Customer.id == customer.id)
            .values(personal_data_cleared_at=utcnow(), name=personal_data.CLEARED_NAME)
        )
        other.commit()
    with pytest.raises(customer_service.CustomerError, match="can no longer be edited"):
        customer_service.update_customer(db.session, stale, {"name": "Written Back"})
    assert reload(db, customer.id).name == personal_data.CLEARED_NAME
