"""The History tab (issue 7): every kind of change to a customer, made the way staff make
it (over HTTP, through the routes the panel uses), is a line in the History tab with
who, when, what and, for edits, from → to, and a row in customer_events with the kind,
field, values and personal flag; newest first, filtered by kind, a page of 50 at a
time, a fragment for htmx and a page without; summaries never hold personal data, and
values cleared with personal data read "cleared with personal data"."""

from __future__ import annotations

import html as html_lib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, StaffClient, _fresh_request_globals, make_app, sign_in
from tests.pages import link
from webapp.extensions import db as _db
from webapp.models.base import utcnow
from webapp.models.billing import Invoice
from webapp.models.contacts import Address, Alias, Contact
from webapp.models.crm import Activity, Sale, Tag, Ticket
from webapp.models.customer import Customer
from webapp.models.email import Email, EmailStatus
from webapp.models.history import CustomerEvent
from webapp.models.notes import Note
from webapp.models.subscriptions import Subscription
from webapp.services import history, settings, tags

AGENT = "Alex Agent"

# -- reading the History tab and the database ------------------------------------------


@dataclass(frozen=True)
class Line:
    """One row of the History tab as staff read it."""

    kind: str
    when: str
    who: str
    what: str
    change: str


_ROW = re.compile(
    r'<tr data-kind="(?P<kind>[^"]+)">\s*'
    r'<td><time datetime="[^"]*">(?P<when>[^<]*)</time></td>\s*'
    r"<td>(?P<who>.*?)</td>\s*<td>(?P<what>.*?)</td>\s*"
    r'<td class="change">(?P<change>.*?)</td>\s*</tr>',
    re.S,
)


def text_of(fragment: str) -> str:
    """The visible words of some HTML, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def lines_of(page: str) -> list[Line]:
    return [
        Line(
            match["kind"],
            text_of(match["when"]),
            text_of(match["who"]),
            text_of(match["what"]),
            text_of(match["change"]),
        )
        for match in _ROW.finditer(page)
    ]


def history_page(client: StaffClient, customer_id: int, query: str = "", **kwargs) -> str:
    response = client.get(f"/customers/{customer_id}/history{query}", **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def tab(client: StaffClient, customer_id: int, query: str = "") -> list[Line]:
    """The lines of the History tab, as shown (newest first)."""
    return lines_of(history_page(client, customer_id, query))


def events(db, customer_id: int, group: str = "") -> list[CustomerEvent]:
    """The customer's history rows of one kind group, oldest first."""
    db.session.expire_all()
    statement = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if group:
        statement = statement.where(
            (CustomerEvent.kind == group) | CustomerEvent.kind.startswith(group + ".")
        )
    return list(db.session.scalars(statement.order_by(CustomerEvent.id)))


def rows(db, customer_id: int, group: str = "") -> list[tuple]:
    """(kind, summary, field, old, new, personal) of each row of a group, oldest first."""
    return [
        (e.kind, e.summary, e.field, e.old_value, e.new_value, e.personal)
        for e in events(db, customer_id, group)
    ]


def shown_time(event: CustomerEvent) -> str:
    return f"{event.created_at:%Y-%m-%d %H:%M} UTC"


def assert_tab_shows(client, db, customer_id: int, group: str, expected: list[tuple]) -> None:
    """The tab, filtered to ``group``, shows exactly ``expected`` (what, change; oldest
    first), newest first, each by the client's staff member at the time its row was
    written."""
    stored = events(db, customer_id, group)
    shown = tab(client, customer_id, f"?kind={group}")
    assert [(line.what, line.change) for line in reversed(shown)] == expected
    assert [line.kind for line in reversed(shown)] == [e.kind for e in stored]
    assert [line.when for line in reversed(shown)] == [shown_time(e) for e in stored]
    assert {line.who for line in shown} == {client.staff.name}
    assert {e.staff_id for e in stored} == {client.staff.id}


def new_key() -> str:
    return uuid.uuid4().hex


def last_id(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(model.id).order_by(model.id.desc()).limit(1))


@pytest.fixture
def customer(make_customer):
    """A customer made before the test (its own "created" line is System's)."""
    return make_customer(
        name="Ada Lovelace",
        email="ada@example.com",
        phone="+442079460958",
        country="GB",
        currency="GBP",
        tax_rate_bp=2000,
    )


def started() -> datetime:
    return utcnow() - timedelta(seconds=1)


# -- created, edited fields, status -----------------------------------------------------------


def test_created_and_each_edited_field_from_to(staff_client, db, customer_data):
    before = started()
    response = staff_client.post("/customers/new", customer_data)
    assert response.status_code == 303
    customer_id = db.session.scalar(select(Customer.id))
    reduced = settings.tax_class_for_rate(db.session, 550)
    first_entity = settings.default_legal_entity(db.session).name
    second_entity = settings.create_legal_entity(
        db.session, {"name": "Acme Europe GmbH", "default_currency": "EUR", "number_prefix": "AE"}
    )
    edit = {
        **customer_data,
        "name": "Ada King",
        "email": "ada.king@example.com",
        "phone": "+44 20 7946 0000",
        "country": "IE",
        "currency": "GBP",
        "city": "Dublin",
        "first_name": "Augusta",
        "tax_class_id": str(reduced.id),
        "legal_entity_id": str(second_entity.id),
        "payment_terms_days": "14",
        "invoicing_flow": "manual",
        "auto_pay": "y",
        "payment_gateway": "card_refunds_only",
        "footnotes": "PO required",
    }
    assert staff_client.post(f"/customers/{customer_id}/edit", edit).status_code == 303
    # Saving the same values again is no change.
    assert staff_client.post(f"/customers/{customer_id}/edit", edit).status_code == 303

    assert rows(db, customer_id, "created") == [
        ("created", "Customer created", "name", None, "Ada Lovelace", True)
    ]
    assert rows(db, customer_id, "edited") == [
        ("edited", "Changed Name", "name", "Ada Lovelace", "Ada King", True),
        ("edited", "Changed Email", "email", "ada@example.com", "ada.king@example.com", True),
        ("edited", "Changed Phone", "phone", "+442079460958", "+442079460000", True),
        ("edited", "Changed Country", "country", "United Kingdom", "Ireland", False),
        ("edited", "Changed Tax class", "tax_class_id", "Rate 20.00 % (20.00 %)",
         "Rate 5.50 % (5.50 %)", False),
        ("edited", "Changed Legal entity", "legal_entity_id", first_entity, "Acme Europe GmbH",
         False),
        ("edited", "Changed Payment terms (days)", "payment_terms_days", "30", "14", False),
        ("edited", "Changed Invoicing flow", "invoicing_flow", "Automatic", "Manual", False),
        ("edited", "Changed Auto pay", "auto_pay", "Off", "On", False),
        ("edited", "Changed Footnotes", "footnotes", "", "PO required", True),
        ("edited", "Changed Payment gateway", "payment_gateway",
         "Manual (bank transfer, cheque)", "Card processor (refunds only, no credit notes)",
         False),
    ]  # fmt: skip
    # The contact and address fields of the form are the primary contact and the billing
    # address: their own lines say so.
    assert rows(db, customer_id, "record") == [
        ("record.contact.added", "Contact added", None, None, "Ada Lovelace", True),
        ("record.address.added", "Address added", None, None,
         "12 Byron Street, W1 1AA, London", True),
        ("record.contact.changed", "Contact changed: Name", "name", "Ada Lovelace",
         "Augusta Lovelace", True),
        ("record.address.changed", "Address changed: City", "city", "London", "Dublin", True),
    ]  # fmt: skip

    lines = tab(staff_client, customer_id)
    stored = events(db, customer_id)
    assert len(lines) == len(stored) == 16
    assert [line.kind for line in lines] == [e.kind for e in reversed(stored)]  # newest first
    assert {line.who for line in lines} == {AGENT}
    assert all(before <= e.created_at <= utcnow() for e in stored)
    assert lines[-1] == Line(
        "created", shown_time(stored[0]), AGENT, "Customer created", "Ada Lovelace"
    )
    edits = {line.what: line.change for line in lines if line.kind == "edited"}
    assert edits["Changed Email"] == "ada@example.com → ada.king@example.com"
    assert edits["Changed Invoicing flow"] == "Automatic → Manual"
    assert edits["Changed Footnotes"] == "(empty) → PO required"
    assert edits["Changed Legal entity"] == f"{first_entity} → Acme Europe GmbH"


def test_status_changes_suspend_archive_reactivate(staff_client, db, customer):
    for status in ("suspended", "archived", "active"):
        response = staff_client.post(f"/customers/{customer.id}/status", {"status": status})
        assert response.status_code == 303
    assert rows(db, customer.id, "status") == [
        ("status", "Status changed", "status", "Active", "Suspended", False),
        ("status", "Status changed", "status", "Suspended", "Archived", False),
        ("status", "Status changed", "status", "Archived", "Active", False),
    ]
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "status",
        [
            ("Status changed", "Active → Suspended"),
            ("Status changed", "Suspended → Archived"),
            ("Status changed", "Archived → Active"),
        ],
    )


def test_a_refused_change_records_nothing(staff_client, db, customer):
    before = rows(db, customer.id)
    # Already active: refused (422), and an invalid edit is refused too.
    refused = staff_client.post(
        f"/customers/{customer.id}/status", {"status": "active"}, htmx_target="form"
    )
    assert refused.status_code == 422
    invalid = staff_client.post(
        f"/customers/{customer.id}/edit", {"name": "", "email": "x"}, htmx_target="form"
    )
    assert invalid.status_code == 422
    assert rows(db, customer.id) == before


# -- money ------------------------------------------------------------------------------------


def test_charges_and_credits_from_add_entry_and_one_time_charges(staff_client, db, customer):
    base = f"/customers/{customer.id}"
    for kind, amount, description in (("charge", "40", "Consulting"), ("credit", "15.50", "Cash")):
        response = staff_client.post(
            f"{base}/entries/new",
            {
                "kind": kind,
                "amount": amount,
                "currency": "GBP",
                "description": description,
                "payment_method": "cash",
                "key": new_key(),
            },
        )
        assert response.status_code == 303
    for amount, description in (("100", "Workshop"), ("-10", "Goodwill")):
        response = staff_client.post(
            f"{base}/charges/new",
            {"amount": amount, "currency": "GBP", "description": description, "key": new_key()},
        )
        assert response.status_code == 303

    assert rows(db, customer.id, "entry") == [
        ("entry.charge", "Charge of £40.00", None, None, "Consulting", False),
        ("entry.credit", "Credit of £15.50", None, None, "Cash", False),
        ("entry.charge", "Charge of £120.00 (invoice INV-000001)", None, None, "Workshop", False),
        ("entry.credit", "Credit of £10.00 (credit note CN-000001)", None, None, "Goodwill",
         False),
    ]  # fmt: skip
    assert rows(db, customer.id, "invoice") == [
        ("invoice.issued", "Invoice INV-000001 issued, total £120.00", None, None, None, False)
    ]
    assert rows(db, customer.id, "credit_note") == [
        ("credit_note.issued", "Credit note CN-000001 issued, total £10.00", None, None, None,
         False)
    ]  # fmt: skip
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "entry",
        [
            ("Charge of £40.00", "Consulting"),
            ("Credit of £15.50", "Cash"),
            ("Charge of £120.00 (invoice INV-000001)", "Workshop"),
            ("Credit of £10.00 (credit note CN-000001)", "Goodwill"),
        ],
    )
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "credit_note",
        [("Credit note CN-000001 issued, total £10.00", "")],
    )


def test_a_form_posted_twice_is_one_line(staff_client, db, customer):
    form = {"amount": "100", "currency": "GBP", "description": "Workshop", "key": new_key()}
    for _ in range(2):
        assert staff_client.post(f"/customers/{customer.id}/charges/new", form).status_code == 303
    assert [kind for kind, *_ in rows(db, customer.id, "entry")] == ["entry.charge"]
    assert [kind for kind, *_ in rows(db, customer.id, "invoice")] == ["invoice.issued"]


def capture(client, customer_id: int, amount: str, description: str) -> int:
    response = client.post(
        f"/customers/{customer_id}/charges/new",
        {"amount": amount, "currency": "GBP", "description": description, "key": new_key()},
    )
    assert response.status_code == 303
    return last_id(_db, Invoice)


def test_invoice_status_changes_paid_refunded_void(staff_client, db, customer):
    first = capture(staff_client, customer.id, "100", "Workshop")
    second = capture(staff_client, customer.id, "50", "Follow-up")
    for invoice_id, action in ((first, "pay"), (first, "refund"), (second, "void")):
        assert staff_client.post(f"/invoices/{invoice_id}/{action}").status_code == 303

    assert rows(db, customer.id, "invoice") == [
        ("invoice.issued", "Invoice INV-000001 issued, total £120.00", None, None, None, False),
        ("invoice.issued", "Invoice INV-000002 issued, total £60.00", None, None, None, False),
        ("invoice.paid", "Invoice INV-000001 marked as paid", "status", "Open", "Paid", False),
        ("invoice.refunded", "Invoice INV-000001 refunded", "status", "Paid", "Refunded", False),
        ("invoice.void", "Invoice INV-000002 voided", "status", "Open", "Void", False),
    ]
    # Paying, refunding and voiding move money: payment, refund and adjustment entries.
    assert [(kind, summary) for kind, summary, *_ in rows(db, customer.id, "entry")][2:] == [
        ("entry.payment", "Payment of £120.00 (invoice INV-000001)"),
        ("entry.refund", "Refund of £120.00 (invoice INV-000001)"),
        ("entry.adjustment", "Adjustment of £120.00 (invoice INV-000001)"),
        ("entry.adjustment", "Adjustment of £60.00 (invoice INV-000002)"),
    ]
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "invoice",
        [
            ("Invoice INV-000001 issued, total £120.00", ""),
            ("Invoice INV-000002 issued, total £60.00", ""),
            ("Invoice INV-000001 marked as paid", "Open → Paid"),
            ("Invoice INV-000001 refunded", "Paid → Refunded"),
            ("Invoice INV-000002 voided", "Open → Void"),
        ],
    )
    # A refused action (paying a refunded invoice) records nothing.
    assert staff_client.post(f"/invoices/{first}/pay", htmx_target="form").status_code == 422
    assert len(rows(db, customer.id, "invoice")) == 5


# -- payment links and emails -----------------------------------------------------------------


def test_payment_link_generate_email_revoke(staff_client, db, customer):
    base = f"/customers/{customer.id}/payment-link"
    assert staff_client.post(f"{base}/", {"expiry": "never"}).status_code == 303
    assert staff_client.post(f"{base}/email").status_code == 303
    assert staff_client.post(f"{base}/revoke").status_code == 303
    assert rows(db, customer.id, "payment_link") == [
        ("payment_link.generated", "Generated a payment link (never expires).", None, None, None,
         False),
        ("payment_link.emailed", "Emailed the payment link.", "recipient", None,
         "ada@example.com", True),
        ("payment_link.revoked", "Revoked the payment link.", None, None, None, False),
    ]  # fmt: skip
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "payment_link",
        [
            ("Generated a payment link (never expires).", ""),
            ("Emailed the payment link.", "ada@example.com"),
            ("Revoked the payment link.", ""),
        ],
    )


@pytest.fixture
def mail_client(app, database_url, instance_dir, smtp, make_staff):
    """A signed-in agent on an app that delivers to the ``smtp`` fixture (Flask-Mail
    reads MAIL_SERVER when the app is made: a second app on the same database)."""
    mail_app = make_app(
        database_url, instance_dir, SECRET_KEY=app.config["SECRET_KEY"], **smtp.config()
    )
    mail_app.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_globals)
    with mail_app.app_context():
        staff = make_staff()
        client = mail_app.test_client()
        assert sign_in(client, staff.email, PASSWORD).status_code == 303
        yield StaffClient(client, staff)
        _db.session.remove()
        _db.engine.dispose()


def test_emails_sent_are_recorded_by_the_system_when_the_server_accepts_them(
    mail_client, db, make_customer, smtp
):
    customer = make_customer(name="Ada Lovelace", email="ada@example.com", currency="GBP")
    capture(mail_client, customer.id, "100", "Workshop")  # the invoice is emailed at once
    assert len(smtp.to("ada@example.com")) == 1
    (sent,) = events(db, customer.id, "email")
    assert (sent.kind, sent.summary, sent.field, sent.new_value, sent.personal) == (
        "email.sent",
        "Email sent: Invoice INV-000001",
        "recipient",
        "ada@example.com",
        True,
    )
    assert sent.staff_id is None  # the job sent it, not the agent
    (line,) = tab(mail_client, customer.id, "?kind=email")
    assert line == Line(
        "email.sent",
        shown_time(sent),
        "System",
        "Email sent: Invoice INV-000001",
        "ada@example.com",
    )
    # The charge itself is the agent's.
    (charge,) = tab(mail_client, customer.id, "?kind=entry")
    assert charge.who == AGENT

    # An email the server does not take is no "sent" line.
    smtp.stop()
    capture(mail_client, customer.id, "50", "Follow-up")
    db.session.expire_all()
    waiting = db.session.scalar(select(Email).order_by(Email.id.desc()).limit(1))
    assert waiting.status == EmailStatus.QUEUED and waiting.attempts == 1
    assert len(events(db, customer.id, "email")) == 1


# -- subscriptions ---------------------------------------------------------------------------


def test_subscription_added_and_cancelled(staff_client, db, customer):
    form = {
        "plan_name": "Pro",
        "amount": "49.00",
        "currency": "GBP",
        "interval": "monthly",
        "starts_on": "2026-12-01",
    }
    assert staff_client.post(f"/customers/{customer.id}/subscriptions/new", form).status_code == 303
    subscription_id = last_id(db, Subscription)
    url = f"/customers/{customer.id}/subscriptions/{subscription_id}/cancel"
    assert staff_client.post(url).status_code == 303
    assert staff_client.post(url, htmx_target="form").status_code == 422  # already cancelled
    assert rows(db, customer.id, "subscription") == [
        ("subscription.added", "Subscription Pro added (£49.00 monthly, from 2026-12-01)", None,
         None, None, False),
        ("subscription.cancelled", "Subscription Pro cancelled", "status", "Active", "Cancelled",
         False),
    ]  # fmt: skip
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "subscription",
        [
            ("Subscription Pro added (£49.00 monthly, from 2026-12-01)", ""),
            ("Subscription Pro cancelled", "Active → Cancelled"),
        ],
    )


# -- records around the customer ---------------------------------------------------------------


def test_contacts_added_changed_removed(staff_client, db, customer):
    base = f"/customers/{customer.id}/contacts"
    first = {"name": "Bob Baker", "email": "bob@example.com", "wants_billing": "y"}
    assert staff_client.post(f"{base}/new", first).status_code == 303
    bob = last_id(db, Contact)
    second = {"name": "Carol Cook", "email": "carol@example.com", "position": "CFO"}
    assert staff_client.post(f"{base}/new", second).status_code == 303
    carol = last_id(db, Contact)
    changed = {**second, "email": "carol.cook@example.com", "is_primary": "y"}
    assert staff_client.post(f"{base}/{carol}/edit", changed).status_code == 303
    assert staff_client.post(f"{base}/{bob}/delete").status_code == 303
    assert rows(db, customer.id, "record") == [
        ("record.contact.added", "Contact added", None, None, "Bob Baker", True),
        ("record.contact.added", "Contact added", None, None, "Carol Cook", True),
        ("record.contact.changed", "Contact changed: Email", "email", "carol@example.com",
         "carol.cook@example.com", True),
        ("record.contact.changed", "Contact changed: Primary contact", "is_primary", "No", "Yes",
         False),
        ("record.contact.removed", "Contact removed", None, "Bob Baker", None, True),
    ]  # fmt: skip
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "record",
        [
            ("Contact added", "Bob Baker"),
            ("Contact added", "Carol Cook"),
            ("Contact changed: Email", "carol@example.com → carol.cook@example.com"),
            ("Contact changed: Primary contact", "No → Yes"),
            ("Contact removed", "Bob Baker"),
        ],
    )


def test_addresses_added_changed_removed(staff_client, db, customer):
    base = f"/customers/{customer.id}/addresses"
    head_office = {"label": "Head office", "line1": "1 Main St", "city": "Leeds", "country": "GB"}
    assert staff_client.post(f"{base}/new", head_office).status_code == 303
    first = last_id(db, Address)
    warehouse = {"label": "Warehouse", "line1": "2 Dock Rd", "city": "Hull", "country": "GB"}
    assert staff_client.post(f"{base}/new", warehouse).status_code == 303
    second = last_id(db, Address)
    moved = {**warehouse, "postal_code": "HU1 1AA", "country": "IE", "is_billing": "y"}
    assert staff_client.post(f"{base}/{second}/edit", moved).status_code == 303
    assert staff_client.post(f"{base}/{first}/delete").status_code == 303
    assert rows(db, customer.id, "record") == [
        ("record.address.added", "Address added", None, None, "1 Main St, Leeds", True),
        ("record.address.added", "Address added", None, None, "2 Dock Rd, Hull", True),
        ("record.address.changed", "Address changed: Postal code", "postal_code", "", "HU1 1AA",
         True),
        ("record.address.changed", "Address changed: Country", "country", "United Kingdom",
         "Ireland", False),
        ("record.address.changed", "Address changed: Billing address", "is_billing", "No", "Yes",
         False),
        ("record.address.removed", "Address removed", None, "1 Main St, Leeds", None, True),
    ]  # fmt: skip
    lines = tab(staff_client, customer.id, "?kind=record")
    assert lines[0].what == "Address removed" and lines[0].change == "1 Main St, Leeds"
    assert ("Address changed: Postal code", "(empty) → HU1 1AA") in [
        (line.what, line.change) for line in lines
    ]


def test_external_ids_added_changed_removed(staff_client, db, customer):
    base = f"/customers/{customer.id}/aliases"
    assert (
        staff_client.post(f"{base}/new", {"label": "Stripe", "value": "cus_1"}).status_code == 303
    )
    alias = last_id(db, Alias)
    changed = {"label": "Stripe", "value": "cus_2"}
    assert staff_client.post(f"{base}/{alias}/edit", changed).status_code == 303
    assert staff_client.post(f"{base}/{alias}/delete").status_code == 303
    assert rows(db, customer.id, "record") == [
        ("record.external_id.added", "External ID added", None, None, "Stripe: cus_1", True),
        ("record.external_id.changed", "External ID changed: ID", "value", "cus_1", "cus_2", True),
        ("record.external_id.removed", "External ID removed", None, "Stripe: cus_2", None, True),
    ]
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "record",
        [
            ("External ID added", "Stripe: cus_1"),
            ("External ID changed: ID", "cus_1 → cus_2"),
            ("External ID removed", "Stripe: cus_2"),
        ],
    )


def test_notes_added_and_deleted(staff_client, db, customer):
    body = "Called Ada about the O'Brien invoice"
    assert staff_client.post(f"/customers/{customer.id}/notes/", {"body": body}).status_code == 303
    note = last_id(db, Note)
    assert staff_client.post(f"/customers/{customer.id}/notes/{note}/delete").status_code == 303
    assert rows(db, customer.id, "record") == [
        ("record.note.added", "Note added", None, None, body, True),
        ("record.note.removed", "Note removed", None, body, None, True),
    ]
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "record",
        [("Note added", body), ("Note removed", body)],
    )


def test_activities_added_changed_deleted(staff_client, db, customer):
    base = f"/customers/{customer.id}/activities"
    form = {"title": "Renewal", "kind": "call", "due_at": "2026-03-14T15:30", "notes": ""}
    assert staff_client.post(f"{base}/new", form).status_code == 303
    activity = last_id(db, Activity)
    changed = {
        **form,
        "kind": "meeting",
        "due_at": "2026-03-15T09:00",
        "notes": "Bring the contract",
        "done": "y",
    }
    assert staff_client.post(f"{base}/{activity}/edit", changed).status_code == 303
    assert staff_client.post(f"{base}/{activity}/delete").status_code == 303
    assert rows(db, customer.id, "record") == [
        ("record.activity.added", "Activity added", None, None, "Renewal", False),
        ("record.activity.changed", "Activity changed: Kind", "kind", "Call", "Meeting", False),
        ("record.activity.changed", "Activity changed: When", "due_at", "2026-03-14 15:30 UTC",
         "2026-03-15 09:00 UTC", False),
        ("record.activity.changed", "Activity changed: Notes", "notes", "",
         "Bring the contract", True),
        ("record.activity.changed", "Activity changed: Done", "done", "No", "Yes", False),
        ("record.activity.removed", "Activity removed", None, "Renewal", None, False),
    ]  # fmt: skip
    lines = tab(staff_client, customer.id, "?kind=record")
    assert [line.what for line in lines][:2] == ["Activity removed", "Activity changed: Done"]
    assert ("Activity changed: Kind", "Call → Meeting") in [(ln.what, ln.change) for ln in lines]


def test_tickets_added_status_changed_and_edited(staff_client, db, customer):
    base = f"/customers/{customer.id}/tickets"
    form = {"subject": "Invoice address wrong", "description": "Says Leeds"}
    assert staff_client.post(f"{base}/new", form).status_code == 303
    ticket = last_id(db, Ticket)
    quick = staff_client.post(f"{base}/{ticket}/status", {"status": "in_progress"})
    assert quick.status_code == 303
    edited = {"subject": "Invoice address wrong", "description": "Says Hull", "status": "solved"}
    assert staff_client.post(f"{base}/{ticket}/edit", edited).status_code == 303
    assert rows(db, customer.id, "record") == [
        ("record.ticket.added", "Ticket added", None, None, "Invoice address wrong", False),
        ("record.ticket.changed", "Ticket changed: Status", "status", "New", "In progress",
         False),
        ("record.ticket.changed", "Ticket changed: Description", "description", "Says Leeds",
         "Says Hull", True),
        ("record.ticket.changed", "Ticket changed: Status", "status", "In progress", "Solved",
         False),
    ]  # fmt: skip
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "record",
        [
            ("Ticket added", "Invoice address wrong"),
            ("Ticket changed: Status", "New → In progress"),
            ("Ticket changed: Description", "Says Leeds → Says Hull"),
            ("Ticket changed: Status", "In progress → Solved"),
        ],
    )


def test_sales_added_changed_invoiced(staff_client, db, customer):
    base = f"/customers/{customer.id}/sales"
    form = {
        "sold_on": "2026-01-02",
        "description": "Chairs",
        "amount": "20",
        "currency": "GBP",
        "status": "open",
    }
    assert staff_client.post(f"{base}/new", form).status_code == 303
    sale = last_id(db, Sale)
    assert staff_client.post(f"{base}/{sale}/edit", {**form, "amount": "25"}).status_code == 303
    assert staff_client.post(f"{base}/{sale}/invoice").status_code == 303
    assert rows(db, customer.id, "record") == [
        ("record.sale.added", "Sale added", None, None, "Chairs (£20.00)", False),
        ("record.sale.changed", "Sale changed: Amount", "amount_minor", "£20.00", "£25.00", False),
        ("record.sale.changed", "Sale changed: Status", "status", "Open", "Invoiced", False),
    ]
    assert rows(db, customer.id, "invoice") == [
        ("invoice.issued", "Invoice INV-000001 issued, total £30.00", None, None, None, False)
    ]
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "record",
        [
            ("Sale added", "Chairs (£20.00)"),
            ("Sale changed: Amount", "£20.00 → £25.00"),
            ("Sale changed: Status", "Open → Invoiced"),
        ],
    )


def test_tags_added_and_removed_once_each(staff_client, db, customer):
    url = f"/customers/{customer.id}/tags"
    assert staff_client.post(url, {"tag": "VIP"}).status_code == 303
    assert staff_client.post(url, {"tag": "vip"}).status_code == 422  # already has it
    tag = last_id(db, Tag)
    assert staff_client.post(f"{url}/{tag}/remove").status_code == 303
    assert rows(db, customer.id, "record") == [
        ("record.tag.added", "Tag added", None, None, "VIP", False),
        ("record.tag.removed", "Tag removed", None, "VIP", None, False),
    ]
    assert_tab_shows(
        staff_client,
        db,
        customer.id,
        "record",
        [("Tag added", "VIP"), ("Tag removed", "VIP")],
    )


def test_a_double_click_on_add_tag_is_one_line(db, customer, monkeypatch):
    """Two requests that both found the tag missing (the second checked before the first
    committed): the tag is added once, and so is its line."""
    monkeypatch.setattr(tags, "_has_tag", lambda *_: False)
    tags.add_tag(db.session, customer, "VIP")
    tags.add_tag(db.session, customer, "VIP")
    assert len(tags.tags_of(db.session, customer.id)) == 1
    assert rows(db, customer.id, "record") == [
        ("record.tag.added", "Tag added", None, None, "VIP", False)
    ]


def test_a_tax_class_rate_change_is_a_line_for_each_customer_in_the_class(
    admin_client, db, make_customer
):
    standard = settings.create_tax_class(db.session, "Standard", 1900)
    reduced = settings.create_tax_class(db.session, "Reduced", 700)
    first = make_customer(tax_class_id=standard.id)
    second = make_customer(name="Grace Hopper", email="g@example.com", tax_class_id=standard.id)
    other = make_customer(name="Other", email="o@example.com", tax_class_id=reduced.id)
    response = admin_client.post(
        f"/settings/tax-classes/{standard.id}/edit", {"name": "Standard", "rate": "20"}
    )
    assert response.status_code == 303
    for moved in (first, second):
        assert rows(db, moved.id, "edited") == [
            ("edited", "Tax rate changed with tax class Standard", "tax_rate_bp", "19.00 %",
             "20.00 %", False)
        ]  # fmt: skip
        assert_tab_shows(
            admin_client,
            db,
            moved.id,
            "edited",
            [("Tax rate changed with tax class Standard", "19.00 % → 20.00 %")],
        )
    assert rows(db, other.id, "edited") == []
    # Renaming alone moves no rate: no line.
    admin_client.post(f"/settings/tax-classes/{standard.id}/edit", {"name": "Std", "rate": "20"})
    assert len(rows(db, first.id, "edited")) == 1


# -- who ----------------------------------------------------------------------------------------


def test_each_change_is_the_staff_member_who_made_it(app, staff_client, db, customer, make_staff):
    """Alex adds an activity, Sam changes and deletes it: the change is Sam's, not the
    activity's author's."""
    base = f"/customers/{customer.id}/activities"
    form = {"title": "Renewal", "kind": "call", "due_at": "2026-03-14T15:30"}
    assert staff_client.post(f"{base}/new", form).status_code == 303
    activity = last_id(db, Activity)
    sam = make_staff(email="sam@example.com", name="Sam Second")
    other = app.test_client()
    assert sign_in(other, sam.email, PASSWORD).status_code == 303
    second = StaffClient(other, sam)
    assert second.post(f"{base}/{activity}/edit", {**form, "done": "y"}).status_code == 303
    assert second.post(f"{base}/{activity}/delete").status_code == 303
    assert [(e.kind, e.staff_id) for e in events(db, customer.id, "record")] == [
        ("record.activity.added", staff_client.staff.id),
        ("record.activity.changed", sam.id),
        ("record.activity.removed", sam.id),
    ]
    assert [line.who for line in tab(staff_client, customer.id, "?kind=record")] == [
        "Sam Second",
        "Sam Second",
        AGENT,
    ]
    # A change made outside a request (a job, the command line) is the System's.
    assert [line.who for line in tab(staff_client, customer.id, "?kind=created")] == ["System"]


# -- the tab: filter, fragment, paging -----------------------------------------------------------


def walk_through(client, customer_id: int) -> None:
    """A few kinds of change: an edit, a status change, a charge, a contact, a note."""
    base = f"/customers/{customer_id}"
    client.post(f"{base}/status", {"status": "suspended"})
    client.post(
        f"{base}/entries/new",
        {
            "kind": "charge",
            "amount": "5",
            "currency": "GBP",
            "description": "Fee",
            "key": new_key(),
        },
    )
    client.post(f"{base}/contacts/new", {"name": "Bob Baker", "email": "bob@example.com"})
    client.post(f"{base}/notes/", {"body": "Ada prefers email"})


def test_filter_by_kind_and_an_unknown_kind_shows_all(staff_client, db, customer):
    walk_through(staff_client, customer.id)
    everything = tab(staff_client, customer.id)
    assert [line.kind for line in everything] == [
        "record.note.added",
        "record.contact.added",
        "entry.charge",
        "status",
        "created",
    ]
    assert [line.kind for line in tab(staff_client, customer.id, "?kind=entry")] == ["entry.charge"]
    assert [line.kind for line in tab(staff_client, customer.id, "?kind=record")] == [
        "record.note.added",
        "record.contact.added",
    ]
    for unknown in ("?kind=bogus", "?kind=", "?kind=record.note", "?kind=entry%25"):
        assert tab(staff_client, customer.id, unknown) == everything, unknown
    page = history_page(staff_client, customer.id, "?kind=entry")
    current = re.findall(r'<a href="([^"]+)"[^>]*aria-current="page">([^<]+)</a>', page)
    assert (f"/customers/{customer.id}/history?kind=entry", "Charges and credits") in current
    nothing = history_page(staff_client, customer.id, "?kind=subscription")
    assert "No changes of this kind." in nothing and lines_of(nothing) == []


def test_the_tab_is_a_fragment_for_htmx_and_a_page_without(staff_client, db, customer):
    walk_through(staff_client, customer.id)
    full = staff_client.get(f"/customers/{customer.id}/history?kind=entry")
    page = full.get_data(as_text=True)
    assert full.status_code == 200 and "<html" in page and "<h1>Ada Lovelace</h1>" in page
    fragment = staff_client.get(
        f"/customers/{customer.id}/history?kind=entry", htmx_target="customer_tab"
    )
    part = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert "<html" not in part and part.lstrip().startswith('<section id="customer_tab">')
    assert "HX-Request" in fragment.headers["Vary"]
    assert lines_of(part) == lines_of(page) and [line.kind for line in lines_of(part)] == [
        "entry.charge"
    ]
    # The filter links work without JavaScript and swap only the tab with htmx.
    link = f"/customers/{customer.id}/history?kind=record"
    assert f'href="{link}" hx-get="{link}" hx-target="#customer_tab" hx-push-url="true"' in part


def test_more_than_fifty_lines_come_a_page_at_a_time(staff_client, db, customer):
    for number in range(1, 56):
        history.record(
            db.session, customer.id, "edited", f"Change {number}", staff_id=staff_client.staff.id
        )
    db.session.commit()
    first = history_page(staff_client, customer.id)
    lines = lines_of(first)
    assert len(lines) == 50
    assert lines[0].what == "Change 55" and lines[-1].what == "Change 6"
    assert "Older →" in first and "← Newer" not in first
    older = link(first, "next")
    assert older.startswith(f"/customers/{customer.id}/history?after=")
    second = history_page(staff_client, customer.id, older.partition("history")[2])
    assert [line.what for line in lines_of(second)] == [
        *(f"Change {number}" for number in range(5, 0, -1)),
        "Customer created",
    ]
    assert link(second, "first") == f"/customers/{customer.id}/history"
    assert "← Newer" in second and "Older →" not in second
    # The filter is kept from page to page.
    filtered = history_page(staff_client, customer.id, "?kind=edited")
    older = link(filtered, "next")
    assert older.startswith(f"/customers/{customer.id}/history?kind=edited&after=")
    assert (
        len(lines_of(history_page(staff_client, customer.id, older.partition("history")[2]))) == 5
    )


# -- personal data ---------------------------------------------------------------------------------


PERSONAL = (
    "Ada Lovelace",
    "ada@example.com",
    "442079460958",
    "Bob Baker",
    "bob@example.com",
    "Ada prefers email",
    "cus_secret_42",
    "7 Secret Lane",
)


def personal_walk_through(client, db, customer_id: int) -> None:
    base = f"/customers/{customer_id}"
    walk_through(client, customer_id)
    client.post(f"{base}/aliases/new", {"label": "Stripe", "value": "cus_secret_42"})
    client.post(
        f"{base}/addresses/new", {"line1": "7 Secret Lane", "city": "Leeds", "country": "GB"}
    )
    client.post(f"{base}/payment-link/", {"expiry": "30"})
    client.post(f"{base}/payment-link/email")
    contact = last_id(db, Contact)
    client.post(f"{base}/contacts/{contact}/delete")


def test_summaries_hold_no_personal_values(staff_client, db, customer):
    personal_walk_through(staff_client, db, customer.id)
    stored = events(db, customer.id)
    assert len(stored) >= 10
    for event in stored:
        for value in PERSONAL:
            assert value not in event.summary, (event.kind, event.summary)
            # Wherever a personal value is kept, the line is flagged personal.
            if value in (event.old_value or "") + (event.new_value or ""):
                assert event.personal, (event.kind, event.field, value)
    summaries = " ".join(line.what for line in tab(staff_client, customer.id))
    assert not [value for value in PERSONAL if value in summaries]


def test_clearing_personal_values_blanks_them_in_the_history(staff_client, db, customer):
    personal_walk_through(staff_client, db, customer.id)
    before = {e.id: e for e in events(db, customer.id)}
    personal_ids = {e.id for e in before.values() if e.personal}
    assert personal_ids and len(personal_ids) < len(before)

    cleared = history.clear_personal_values(db.session, customer.id)
    db.session.commit()
    assert cleared == len(personal_ids)
    after = {e.id: e for e in events(db, customer.id)}
    for event_id, event in after.items():
        old = before[event_id]
        assert (event.kind, event.summary, event.staff_id) == (old.kind, old.summary, old.staff_id)
        if event.personal:
            assert (event.old_value, event.new_value, event.cleared) == (None, None, True)
        else:  # the rest of the history is kept as it was
            assert (event.old_value, event.new_value) == (old.old_value, old.new_value)
    page = history_page(staff_client, customer.id)
    table = page.split('<table class="history">')[1].split("</table>")[0]
    assert not [value for value in PERSONAL if value in table]
    lines = lines_of(page)
    by_kind = {line.kind: line for line in lines}
    assert by_kind["created"].change == "cleared with personal data"
    assert by_kind["record.note.added"].change == "cleared with personal data"
    assert by_kind["payment_link.emailed"].change == "cleared with personal data"
    assert by_kind["status"].change == "Active → Suspended"  # not personal: kept
    assert by_kind["entry.charge"].change == "Fee"
    assert sum(line.change == "cleared with personal data" for line in lines) == len(personal_ids)


def test_an_attribute_set_without_being_loaded_keeps_its_old_value(db, customer):
    """A change made to a customer read before a commit (its attributes expired) still
    says what it replaced."""
    db.session.commit()  # expires the customer: nothing loaded now
    customer.email = "changed@example.com"
    db.session.commit()
    (changed,) = rows(db, customer.id, "edited")
    assert changed == (
        "edited",
        "Changed Email",
        "email",
        "ada@example.com",
        "changed@example.com",
        True,
    )
