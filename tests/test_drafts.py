"""Draft invoices over HTTP and in the services: the Manual invoicing flow, New invoice,
Add line / Remove without JavaScript and with htmx, Edit draft, Delete draft, Finalize
(exactly once, gapless numbers, seller and buyer as issued, the charge and the email),
the Draft filter, balances that never count a draft, history lines, refusals beside
their fields (422, nothing written), sign-in and CSRF."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_from
from tests.crawl import error_beside
from webapp.models.base import utcnow
from webapp.models.billing import DocumentCounter, Invoice, InvoiceLine, LedgerEntry
from webapp.models.crm import Sale
from webapp.models.email import Email
from webapp.models.history import CustomerEvent
from webapp.services import billing, drafts, ledger
from webapp.services import sales as sales_service
from webapp.services.drafts import DraftLine
from webapp.services.settings import default_legal_entity


@pytest.fixture
def customer(euro_customer, db):
    """EUR at 19 % tax, Net 14, invoiced manually."""
    euro_customer.invoicing_flow = "manual"
    db.session.commit()
    return euro_customer


def count(db, model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def the_invoice(db) -> Invoice:
    db.session.expire_all()
    return db.session.scalar(select(Invoice).order_by(Invoice.id.desc()))


def history(db, customer) -> list[str]:
    db.session.expire_all()
    return db.session.scalars(
        select(CustomerEvent.summary)
        .where(CustomerEvent.customer_id == customer.id)
        .order_by(CustomerEvent.id)
    ).all()


def charge_form(**values) -> dict:
    return {
        "amount": "100",
        "currency": "EUR",
        "description": "Workshop",
        "key": uuid.uuid4().hex,
        **values,
    }


def draft_form(*lines, **values) -> dict:
    """A New invoice / Edit draft form: lines as (description, quantity, unit price)."""
    data = {"currency": "EUR", "due_date": "", "supply_date": "", "key": uuid.uuid4().hex}
    for index, (description, quantity, price) in enumerate(lines):
        data[f"lines-{index}-description"] = description
        data[f"lines-{index}-quantity"] = quantity
        data[f"lines-{index}-unit_price"] = price
    return {**data, **values}


TWO_LINES = (("Consulting", "3", "150.00"), ("Travel", "1", "80.50"))


def new_url(customer) -> str:
    return f"/customers/{customer.id}/invoices/new"


def draft_url(customer, draft_id, action) -> str:
    return f"/customers/{customer.id}/drafts/{draft_id}/{action}"


def start(db, customer, *lines, **values) -> Invoice:
    """A draft made through the service."""
    lines = lines or (DraftLine("Consulting", 3, 15000), DraftLine("Travel", 1, 8050))
    return drafts.start_draft(
        db.session,
        customer.id,
        currency="EUR",
        lines=list(lines),
        actor_id=None,
        key=None,
        **values,
    ).invoice


def confirm(staff_client, customer, invoice, action, **data):
    """GET the confirmation (its form carries the draft's version), then POST it."""
    page = staff_client.get(draft_url(customer, invoice.id, action)).get_data(as_text=True)
    version = re.search(r'name="opened_version"[^>]*value="(\d+)"', page)
    form = {"opened_version": version.group(1) if version else "", **data}
    return staff_client.post(draft_url(customer, invoice.id, action), form)


def flashed(staff_client, response) -> str:
    return staff_client.get(response.headers["Location"]).get_data(as_text=True)


# -- the Manual invoicing flow ---------------------------------------------------------


def test_capture_in_the_manual_flow_makes_a_draft_not_a_charge(staff_client, db, customer):
    page = staff_client.get(f"/customers/{customer.id}/charges/new").get_data(as_text=True)
    assert "creates a draft invoice" in page
    response = staff_client.post(f"/customers/{customer.id}/charges/new", charge_form())
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}/invoices"
    invoice = the_invoice(db)
    assert (invoice.status, invoice.number, invoice.total_minor) == ("draft", None, 11900)
    assert [(line.description, line.quantity, line.unit_price_minor) for line in invoice.lines] == [
        ("Workshop", 1, 10000)
    ]
    assert count(db, LedgerEntry) == 0 and count(db, Email) == 0
    assert count(db, DocumentCounter) == 0  # no number taken
    html = flashed(staff_client, response)
    assert "Draft invoice for €119.00 created." in html
    assert "Owes" not in html  # the header counts no draft
    assert "Draft invoice created: 1 line, total €119.00" in history(db, customer)


def test_a_resubmitted_capture_in_the_manual_flow_makes_one_draft(staff_client, db, customer):
    form = charge_form()
    for _ in range(3):
        assert staff_client.post(f"/customers/{customer.id}/charges/new", form).status_code == 303
    assert count(db, Invoice) == 1 and count(db, InvoiceLine) == 1
    # The same key with another amount (Back, edit, submit) is refused, not dropped.
    again = staff_client.post(
        f"/customers/{customer.id}/charges/new", {**form, "amount": "200"}, htmx_target="form"
    )
    assert again.status_code == 422 and "already submitted" in again.get_data(as_text=True)
    assert count(db, Invoice) == 1


def test_a_negative_capture_in_the_manual_flow_is_still_a_credit_note(staff_client, db, customer):
    response = staff_client.post(f"/customers/{customer.id}/charges/new", charge_form(amount="-25"))
    assert response.headers["Location"] == f"/customers/{customer.id}/credit-notes"
    assert count(db, Invoice) == 0 and count(db, LedgerEntry) == 1


def test_the_automatic_flow_invoices_at_once_as_before(staff_client, db, euro_customer):
    staff_client.post(f"/customers/{euro_customer.id}/charges/new", charge_form())
    invoice = the_invoice(db)
    assert (invoice.status, invoice.number) == ("open", "INV-000001")
    assert count(db, LedgerEntry) == 1 and count(db, Email) == 1


def test_invoicing_a_sale_in_the_manual_flow_makes_a_draft_and_deleting_it_reopens_the_sale(
    staff_client, db, customer
):
    sale = sales_service.add(
        db.session,
        customer,
        None,
        {
            "sold_on": date(2025, 3, 14),
            "description": "Onboarding",
            "amount_minor": 20000,
            "currency": "EUR",
            "status": "open",
        },
    )
    sale_id = sale.id
    url = f"/customers/{customer.id}/sales/{sale_id}/invoice"
    page = staff_client.get(url).get_data(as_text=True)
    assert "draft invoice" in page and "Create draft invoice" in page
    response = staff_client.post(url, {})
    assert response.status_code == 303
    assert "Draft invoice for €238.00 created from the sale." in flashed(staff_client, response)
    invoice = the_invoice(db)
    db.session.expire_all()
    stored = db.session.get(Sale, sale_id)
    assert invoice.is_draft and (stored.status, stored.invoice_id) == ("invoiced", invoice.id)
    assert count(db, LedgerEntry) == 0
    tab = staff_client.get(f"/customers/{customer.id}/sales").get_data(as_text=True)
    assert f'<a href="/invoices/{invoice.id}">Draft</a>' in tab
    # Asked again: the same draft, not a second one.
    assert staff_client.post(url, {}).status_code == 303 and count(db, Invoice) == 1

    assert confirm(staff_client, customer, invoice, "delete").status_code == 303
    db.session.expire_all()
    stored = db.session.get(Sale, sale_id)
    assert (stored.status, stored.invoice_id) == ("open", None) and count(db, Invoice) == 0
    # Open again, it can be invoiced again.
    assert staff_client.post(url, {}).status_code == 303
    assert count(db, Invoice) == 1 and db.session.get(Sale, sale_id).status == "invoiced"


# -- New invoice: lines added and removed on the server ---------------------------------------


def test_new_invoice_is_a_page_with_one_empty_line(staff_client, customer):
    response = staff_client.get(new_url(customer))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>New invoice</h1>" in html
    assert 'id="lines-0-description"' in html and 'id="lines-1-description"' not in html
    assert '<option selected value="EUR">' in html
    # Enter in a field saves: the form's first button is Save draft, not a Remove.
    buttons = re.findall(r"<button[^>]*>([^<]*)</button>", html[html.index('<form id="form"') :])
    assert buttons[0] == "Save draft"


def test_add_line_without_js_adds_an_empty_row_and_saves_nothing(staff_client, db, customer):
    response = staff_client.post(
        new_url(customer), draft_form(("Consulting", "3", "150.00"), line_action="add")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert 'value="Consulting"' in html and 'value="150.00"' in html
    assert re.search(r'<input(?=[^>]*id="lines-1-description")(?=[^>]*autofocus)', html)
    assert "Please correct" not in html
    assert count(db, Invoice) == 0


def test_add_line_with_htmx_answers_the_lines_block(staff_client, db, customer):
    response = staff_client.post(
        new_url(customer),
        draft_form(("Consulting", "3", "150.00"), line_action="add"),
        htmx_target="draft_lines",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<fieldset id="draft_lines"')
    assert html.count('class="draft-line"') == 2 and "Vary" in response.headers
    assert count(db, Invoice) == 0


def test_remove_takes_out_that_row_only(staff_client, db, customer):
    form = draft_form(("First", "1", "10"), ("Second", "2", "20"), ("Third", "3", "30"))
    response = staff_client.post(new_url(customer), {**form, "line_action": "remove:lines-1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="First"' in html and 'value="Third"' in html and "Second" not in html
    assert html.count('class="draft-line"') == 2 and count(db, Invoice) == 0
    # Removing the last row leaves an empty one to type in.
    only = staff_client.post(
        new_url(customer), {**draft_form(("Only", "1", "1")), "line_action": "remove:lines-0"}
    ).get_data(as_text=True)
    assert only.count('class="draft-line"') == 1 and "Only" not in only


def test_new_invoice_with_two_lines_saves_a_draft(staff_client, db, customer):
    form = draft_form(*TWO_LINES, due_date="2031-01-31", supply_date="2030-12-15")
    form["lines-2-description"] = form["lines-2-quantity"] = form["lines-2-unit_price"] = ""
    response = staff_client.post(new_url(customer), form)
    assert response.status_code == 303
    invoice = the_invoice(db)
    assert response.headers["Location"] == f"/invoices/{invoice.id}"
    assert (invoice.status, invoice.number, invoice.currency) == ("draft", None, "EUR")
    assert [
        (
            line.description,
            line.quantity,
            line.unit_price_minor,
            line.amount_minor,
            line.tax_rate_bp,
        )
        for line in invoice.lines
    ] == [("Consulting", 3, 15000, 45000, 1900), ("Travel", 1, 8050, 8050, 1900)]
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (53050, 10080, 63130)
    assert (invoice.due_date, invoice.supply_date) == (date(2031, 1, 31), date(2030, 12, 15))
    html = flashed(staff_client, response)
    assert "Draft invoice for €631.30 (2 lines) saved." in html
    assert "<h1>Draft invoice</h1>" in html and "€450.00" in html and "Travel" in html
    assert "Edit draft" in html and "Finalize" in html and "Delete draft" in html
    assert count(db, LedgerEntry) == 0 and count(db, Email) == 0
    assert "Draft invoice created: 2 lines, total €631.30" in history(db, customer)


def test_new_invoice_is_a_draft_in_the_automatic_flow_too(staff_client, db, euro_customer):
    response = staff_client.post(new_url(euro_customer), draft_form(*TWO_LINES))
    assert response.status_code == 303 and the_invoice(db).is_draft
    assert count(db, LedgerEntry) == 0


def test_new_invoice_saved_with_htmx_opens_the_draft(staff_client, db, customer):
    response = staff_client.post(new_url(customer), draft_form(*TWO_LINES), htmx_target="form")
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/invoices/{the_invoice(db).id}"


def test_a_resubmitted_new_invoice_saves_one_draft(staff_client, db, customer):
    form = draft_form(*TWO_LINES)
    first = staff_client.post(new_url(customer), form)
    second = staff_client.post(new_url(customer), form)
    assert first.headers["Location"] == second.headers["Location"]
    assert count(db, Invoice) == 1 and count(db, InvoiceLine) == 2
    assert "already saved as a draft" in flashed(staff_client, second)


BAD_LINES = [
    (("Consulting", "abc", "10"), "lines-0-quantity", "Enter the quantity as a whole number"),
    (("Consulting", "1.5", "10"), "lines-0-quantity", "Enter the quantity as a whole number"),
    (("Consulting", "0", "10"), "lines-0-quantity", "The quantity must be at least 1."),
    (("Consulting", "", "10"), "lines-0-quantity", "Enter a quantity."),
    (("Consulting", "2000000", "10"), "lines-0-quantity", "at most 1,000,000"),
    (("Consulting", "1", "abc"), "lines-0-unit_price", "Enter the amount as a number"),
    (("Consulting", "1", "-5"), "lines-0-unit_price", "Enter a positive amount."),
    (("Consulting", "1", "0"), "lines-0-unit_price", "The amount cannot be zero."),
    (("Consulting", "1", "1.234"), "lines-0-unit_price", "EUR has 2 decimals at most."),
    (("", "1", "10"), "lines-0-description", "Enter a description"),
    (("x" * 501, "1", "10"), "lines-0-description", "at most 500 characters"),
    (("", "", ""), "lines-0-description", "Add at least one line"),
]


@pytest.mark.parametrize(("line", "field", "message"), BAD_LINES)
def test_a_bad_line_is_refused_beside_its_field(staff_client, db, customer, line, field, message):
    for target in (None, "form"):
        response = staff_client.post(new_url(customer), draft_form(line), htmx_target=target)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (line, target)
        beside = error_beside(html, field)
        assert beside is not None and message in beside, (beside, message)
        assert f'href="#{field}"' in html  # the summary links to it
    assert count(db, Invoice) == 0 and count(db, InvoiceLine) == 0


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"due_date": "2020-01-01"}, "due_date", "The due date cannot be before today."),
        ({"due_date": "2031-02-30"}, "due_date", "Enter a real date"),
        ({"supply_date": "someday"}, "supply_date", "Enter a real date"),
        ({"currency": "XXY"}, "currency", "Choose a currency from the list."),
    ],
)
def test_bad_dates_and_currency_are_refused_beside_their_field(
    staff_client, db, customer, values, field, message
):
    response = staff_client.post(new_url(customer), draft_form(*TWO_LINES, **values))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in (error_beside(html, field) or "")
    assert count(db, Invoice) == 0


def test_the_second_line_is_refused_by_its_own_field(staff_client, db, customer):
    form = draft_form(("Good", "1", "10"), ("Bad", "two", "oops"))
    html = staff_client.post(new_url(customer), form).get_data(as_text=True)
    assert "Enter the quantity" in (error_beside(html, "lines-1-quantity") or "")
    assert "Enter the amount" in (error_beside(html, "lines-1-unit_price") or "")
    assert error_beside(html, "lines-0-quantity") is None
    assert "Line 2, Quantity:" in html  # the summary names the line
    assert count(db, Invoice) == 0


# -- Edit draft ------------------------------------------------------------------------


def test_edit_draft_shows_the_lines_and_saves_changes(staff_client, db, customer):
    invoice = start(db, customer)
    invoice_id, version = invoice.id, invoice.version
    page = staff_client.get(draft_url(customer, invoice_id, "edit")).get_data(as_text=True)
    assert "<h1>Edit draft invoice</h1>" in page
    assert 'value="Consulting"' in page and 'value="80.50"' in page
    assert f'name="opened_version" type="hidden" value="{version}"' in page
    form = draft_form(
        ("Consulting", "4", "150.00"),
        ("Workshop", "1", "500"),
        due_date="2031-03-01",
        supply_date="2031-02-01",
        opened_version=str(version),
    )
    response = staff_client.post(draft_url(customer, invoice_id, "edit"), form)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/invoices/{invoice_id}"
    invoice = the_invoice(db)
    assert [(line.description, line.quantity) for line in invoice.lines] == [
        ("Consulting", 4),
        ("Workshop", 1),
    ]
    assert (invoice.subtotal_minor, invoice.total_minor) == (110000, 130900)
    assert (invoice.due_date, invoice.supply_date) == (date(2031, 3, 1), date(2031, 2, 1))
    assert invoice.version == version + 1 and invoice.is_draft
    assert count(db, InvoiceLine) == 2 and count(db, LedgerEntry) == 0
    assert history(db, customer)[-1] == "Draft invoice edited: 2 lines, total €1,309.00"


def test_editing_only_a_description_is_saved_and_recorded(staff_client, db, customer):
    invoice = start(db, customer, DraftLine("Consulting", 1, 1000))
    form = draft_form(("Consulting, March", "1", "10"), opened_version=str(invoice.version))
    assert staff_client.post(draft_url(customer, invoice.id, "edit"), form).status_code == 303
    assert the_invoice(db).lines[0].description == "Consulting, March"
    assert history(db, customer)[-1] == "Draft invoice edited: 1 line, total €11.90"


def test_a_refused_edit_leaves_the_draft_as_it_was(staff_client, db, customer):
    invoice = start(db, customer)
    form = draft_form(("Consulting", "0", "150"), opened_version=str(invoice.version))
    response = staff_client.post(draft_url(customer, invoice.id, "edit"), form)
    assert response.status_code == 422
    assert [line.quantity for line in the_invoice(db).lines] == [3, 1]


def test_an_edit_from_an_older_view_is_refused_then_saved_on_purpose(staff_client, db, customer):
    invoice = start(db, customer)
    invoice_id, opened = invoice.id, invoice.version
    # Someone else saves it meanwhile.
    drafts.save_draft(
        db.session,
        customer.id,
        invoice_id,
        currency="EUR",
        lines=[DraftLine("Their line", 1, 100)],
        due_date=None,
        supply_date=None,
    )
    form = draft_form(("My line", "2", "10"), opened_version=str(opened))
    response = staff_client.post(draft_url(customer, invoice_id, "edit"), form)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else saved this draft since you opened it" in html
    assert 'value="My line"' in html  # what this person typed is kept
    assert [line.description for line in the_invoice(db).lines] == ["Their line"]
    # The form now carries the version it was refused at: saving again is deliberate.
    version = re.search(r'name="opened_version" type="hidden" value="(\d+)"', html).group(1)
    again = staff_client.post(
        draft_url(customer, invoice_id, "edit"), {**form, "opened_version": version}
    )
    assert again.status_code == 303
    assert [line.description for line in the_invoice(db).lines] == ["My line"]


def test_an_issued_invoice_is_not_edited(staff_client, db, customer):
    invoice = start(db, customer)
    billing.finalize_draft(db.session, customer.id, invoice.id, None)
    url = draft_url(customer, invoice.id, "edit")
    response = staff_client.get(url)
    assert response.status_code == 303 and response.headers["Location"] == f"/invoices/{invoice.id}"
    assert "INV-000001 is issued: it can no longer be edited." in flashed(staff_client, response)
    assert staff_client.post(url, draft_form(("Changed", "1", "1"))).status_code == 303
    assert the_invoice(db).lines[0].description == "Consulting"
    # Saved in a tab opened before it was finalized: refused by the service too.
    with pytest.raises(drafts.DraftError, match="finalized as INV-000001"):
        drafts.save_draft(
            db.session,
            customer.id,
            invoice.id,
            currency="EUR",
            lines=[DraftLine("Changed", 1, 1)],
            due_date=None,
            supply_date=None,
        )


def test_a_draft_of_another_customer_is_not_found(staff_client, db, customer, make_customer):
    other = make_customer(name="Other", email="other@example.com", currency="EUR")
    invoice = start(db, customer)
    for action in ("edit", "finalize", "delete"):
        assert staff_client.get(draft_url(other, invoice.id, action)).status_code == 404


# -- Delete draft ----------------------------------------------------------------------


def test_delete_asks_first_then_deletes_the_draft_and_its_lines(staff_client, db, customer):
    invoice = start(db, customer)
    page = staff_client.get(draft_url(customer, invoice.id, "delete")).get_data(as_text=True)
    assert "Delete draft" in page and "No number was taken" in page
    assert count(db, Invoice) == 1  # asking deleted nothing
    response = confirm(staff_client, customer, invoice, "delete")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}/invoices"
    assert "Draft invoice for €631.30 deleted." in flashed(staff_client, response)
    assert count(db, Invoice) == 0 and count(db, InvoiceLine) == 0
    assert history(db, customer)[-1] == "Draft invoice deleted: 2 lines, total €631.30"
    # Sent again (a double click without JavaScript): not an error.
    again = staff_client.post(draft_url(customer, invoice.id, "delete"), {})
    assert again.status_code == 303
    assert "already been deleted" in flashed(staff_client, again)


def test_an_issued_invoice_cannot_be_deleted(staff_client, db, customer):
    invoice = start(db, customer)
    billing.finalize_draft(db.session, customer.id, invoice.id, None)
    page = staff_client.get(draft_url(customer, invoice.id, "delete")).get_data(as_text=True)
    assert (
        "This draft was finalized as INV-000001." in page and ">Delete draft</button>" not in page
    )
    response = staff_client.post(draft_url(customer, invoice.id, "delete"), {})
    assert response.status_code == 422
    assert "INV-000001 is issued: it cannot be deleted. Void it instead." in response.get_data(
        as_text=True
    )
    assert count(db, Invoice) == 1


# -- Finalize --------------------------------------------------------------------------


def test_finalize_numbers_snapshots_charges_and_emails_the_draft(staff_client, db, customer):
    invoice = start(db, customer, supply_date=date(2030, 12, 1))
    page = staff_client.get(draft_url(customer, invoice.id, "finalize")).get_data(as_text=True)
    assert "euro@example.com" in page and ">Finalize</button>" in page
    response = confirm(staff_client, customer, invoice, "finalize")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/invoices/{invoice.id}"
    html = flashed(staff_client, response)
    assert "Invoice INV-000001 for €631.30 finalized, charged and emailed." in html
    assert re.search(r"<h1>Invoice <span[^>]*>INV-000001</span></h1>", html)
    assert "Euro Customer" in html and "Travel" in html  # the page as issued
    invoice = the_invoice(db)
    today = utcnow().date()
    assert (invoice.number, invoice.status, invoice.issue_date) == ("INV-000001", "open", today)
    assert invoice.due_date == today + timedelta(days=14)
    assert invoice.supply_date == date(2030, 12, 1)
    assert (invoice.buyer_name, invoice.buyer_customer_number) == (
        "Euro Customer",
        customer.customer_id,
    )
    assert invoice.seller_name == default_legal_entity(db.session).name
    [entry] = db.session.scalars(select(LedgerEntry)).all()
    assert (entry.amount_minor, entry.kind, entry.invoice_id) == (-63130, "charge", invoice.id)
    assert entry.description == "Invoice INV-000001 (2 lines)"
    assert entry.idempotency_key == billing.finalize_key(invoice.id)
    assert db.session.get(type(customer), customer.id).balance_minor == -63130
    [email] = db.session.scalars(select(Email)).all()
    assert email.subject.startswith("Invoice INV-000001 from ")
    assert "Consulting" in email.text_body and "Travel" in email.text_body
    assert "3 × Consulting: €450.00" in email.text_body
    lines = history(db, customer)
    assert "Draft invoice finalized as INV-000001: 2 lines, total €631.30" in lines
    assert "Charge of €631.30 (invoice INV-000001)" in lines
    assert not any(line.startswith("Draft invoice edited") for line in lines)
    assert ledger.check_balances(db.session) == []


def test_finalize_sent_twice_charges_and_numbers_once(staff_client, db, customer):
    invoice = start(db, customer)
    page = staff_client.get(draft_url(customer, invoice.id, "finalize")).get_data(as_text=True)
    token = csrf_token_from(page)
    version = re.search(r'name="opened_version"[^>]*value="(\d+)"', page).group(1)
    form = {"csrf_token": token, "opened_version": version}
    first = staff_client.post(draft_url(customer, invoice.id, "finalize"), form)
    second = staff_client.post(draft_url(customer, invoice.id, "finalize"), form)
    assert first.status_code == second.status_code == 303
    assert "already finalized: INV-000001" in flashed(staff_client, second)
    assert count(db, LedgerEntry) == 1 and count(db, Email) == 1
    assert db.session.scalar(select(DocumentCounter.last_number)) == 1
    # With htmx: a page load of the issued invoice, no second charge.
    third = staff_client.post(draft_url(customer, invoice.id, "finalize"), form, htmx_target="form")
    assert third.status_code == 204 and third.headers["HX-Redirect"] == f"/invoices/{invoice.id}"
    assert count(db, LedgerEntry) == 1


def test_finalize_from_an_older_view_is_refused_and_takes_no_number(staff_client, db, customer):
    invoice = start(db, customer)
    opened = invoice.version
    drafts.save_draft(
        db.session,
        customer.id,
        invoice.id,
        currency="EUR",
        lines=[DraftLine("Changed meanwhile", 1, 100)],
        due_date=None,
        supply_date=None,
    )
    response = staff_client.post(
        draft_url(customer, invoice.id, "finalize"), {"opened_version": str(opened)}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "Someone else saved this draft" in html
    assert "€1.19" in html  # the draft as it is now
    assert the_invoice(db).is_draft and count(db, LedgerEntry) == 0
    assert count(db, DocumentCounter) == 0


def test_a_draft_whose_due_date_has_passed_is_not_finalized(staff_client, db, customer):
    invoice = start(db, customer, today=date(2020, 1, 1), due_date=date(2020, 1, 15))
    page = staff_client.get(draft_url(customer, invoice.id, "finalize")).get_data(as_text=True)
    assert "The due date 2020-01-15 is before today" in page and ">Finalize</button>" not in page
    response = staff_client.post(draft_url(customer, invoice.id, "finalize"), {})
    assert response.status_code == 422
    assert "The due date 2020-01-15 is before today" in response.get_data(as_text=True)
    assert the_invoice(db).is_draft and count(db, LedgerEntry) == 0
    assert db.session.scalar(select(DocumentCounter.last_number)) in (None, 0)


def test_numbers_stay_gapless_whatever_happens_to_drafts(staff_client, db, customer, euro_customer):
    first, second = start(db, customer), start(db, customer)
    drafts.delete_draft(db.session, customer.id, first.id)
    assert billing.finalize_draft(db.session, customer.id, second.id, None).invoice.number == (
        "INV-000001"
    )
    customer.invoicing_flow = "automatic"
    db.session.commit()
    captured = billing.capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=100,
        currency="EUR",
        description="At once",
        actor_id=None,
        key="at-once",
    )
    assert captured.invoice.number == "INV-000002"
    third = start(db, customer)
    start(db, customer)  # left a draft: takes nothing
    assert billing.finalize_draft(db.session, customer.id, third.id, None).invoice.number == (
        "INV-000003"
    )
    numbers = db.session.scalars(
        select(Invoice.number).where(Invoice.number.is_not(None)).order_by(Invoice.number)
    ).all()
    assert numbers == ["INV-000001", "INV-000002", "INV-000003"]


def test_finalize_takes_the_customers_rate_of_that_day(db, customer):
    invoice = start(db, customer, DraftLine("Consulting", 1, 10000))
    assert invoice.tax_minor == 1900
    customer.tax_rate_bp = 700
    db.session.commit()
    issued = billing.finalize_draft(db.session, customer.id, invoice.id, None).invoice
    assert (issued.tax_rate_bp, issued.tax_minor, issued.total_minor) == (700, 700, 10700)
    assert [line.tax_rate_bp for line in issued.lines] == [700]


def test_status_actions_are_not_offered_on_a_draft(staff_client, db, customer):
    invoice = start(db, customer)
    tab = staff_client.get(f"/customers/{customer.id}/invoices").get_data(as_text=True)
    assert f"/invoices/{invoice.id}/pay" not in tab and f"/invoices/{invoice.id}/void" not in tab
    assert draft_url(customer, invoice.id, "finalize") in tab
    response = staff_client.post(f"/invoices/{invoice.id}/pay", {})
    assert response.status_code == 422
    assert "A draft invoice cannot be marked as paid: finalize it first." in response.get_data(
        as_text=True
    )
    assert count(db, LedgerEntry) == 0


# -- the Invoices tab and balances -------------------------------------------------------------


def test_the_draft_filter_lists_drafts_only(staff_client, db, customer, euro_customer):
    draft = start(db, customer)
    customer.invoicing_flow = "automatic"
    db.session.commit()
    staff_client.post(f"/customers/{customer.id}/charges/new", charge_form())
    url = f"/customers/{customer.id}/invoices"
    everything = staff_client.get(url).get_data(as_text=True)
    assert "INV-000001" in everything and f"/invoices/{draft.id}" in everything
    assert f'href="{url}?status=draft"' in everything and ">New invoice</a>" in everything
    only = staff_client.get(f"{url}?status=draft", htmx_target="customer_tab").get_data(
        as_text=True
    )
    assert f"/invoices/{draft.id}" in only and "INV-000001" not in only
    assert re.search(r'aria-current="page"[^>]*>Draft</a>|>Draft</a>', only)
    drafts.delete_draft(db.session, customer.id, draft.id)
    assert "No draft invoices." in staff_client.get(f"{url}?status=draft").get_data(as_text=True)


def test_balances_and_every_currency_figures_never_count_drafts(
    staff_client, db, customer, make_customer
):
    start(db, customer)
    other = make_customer(name="Dollar Drafts", email="usd@example.com", currency="USD")
    drafts.start_draft(
        db.session,
        other.id,
        currency="USD",
        lines=[DraftLine("Draft only", 1, 5000)],
        actor_id=None,
        key=None,
    )
    page = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Owes" not in page and "€631.30" not in page
    owing = staff_client.get("/customers?balance=owes").get_data(as_text=True)
    assert "Euro Customer" not in owing and "Dollar Drafts" not in owing
    db.session.expire_all()
    assert {(c.balance_minor, c.owes_any) for c in (customer, other)} == {(0, False)}
    assert ledger.check_balances(db.session) == []


# -- services: the same rules without a form -------------------------------------------------


def test_the_service_refuses_what_the_form_would(db, customer):
    cases = [
        ([], "Add at least one line"),
        ([DraftLine("", 1, 100)], "Correct the lines"),
        ([DraftLine("Fine", 0, 100)], "Correct the lines"),
        ([DraftLine("Fine", 1, -100)], "Correct the lines"),
        ([DraftLine("Fine", 1, 100)] * 101, "at most 100 lines"),
    ]
    for lines, message in cases:
        with pytest.raises(drafts.DraftError, match=message):
            drafts.start_draft(
                db.session, customer.id, currency="EUR", lines=lines, actor_id=None, key=None
            )
    with pytest.raises(drafts.DraftError, match="before today") as refused:
        start(db, customer, due_date=utcnow().date() - timedelta(days=1))
    assert refused.value.field == "due_date"
    assert count(db, Invoice) == 0


def test_a_draft_key_reused_with_other_lines_is_refused(db, customer):
    drafts.start_draft(
        db.session,
        customer.id,
        currency="EUR",
        lines=[DraftLine("One", 1, 100)],
        actor_id=None,
        key="k" * 32,
    )
    with pytest.raises(ledger.LedgerError, match="already submitted with other values"):
        drafts.start_draft(
            db.session,
            customer.id,
            currency="EUR",
            lines=[DraftLine("Two", 1, 100)],
            actor_id=None,
            key="k" * 32,
        )
    assert count(db, Invoice) == 1


# -- sign-in and CSRF ------------------------------------------------------------------------


def test_drafts_need_a_sign_in_and_a_csrf_token(app, staff_client, db, customer):
    invoice = start(db, customer)
    invoice_id = invoice.id
    posts = [
        (new_url(customer), draft_form(*TWO_LINES)),
        (new_url(customer), draft_form(*TWO_LINES, line_action="add")),
        (draft_url(customer, invoice_id, "edit"), draft_form(("Changed", "1", "1"))),
        (draft_url(customer, invoice_id, "finalize"), {}),
        (draft_url(customer, invoice_id, "delete"), {}),
    ]
    for url, data in posts:
        assert staff_client.post(url, data, csrf=False).status_code == 400, url
    assert count(db, Invoice) == 1 and the_invoice(db).is_draft
    assert the_invoice(db).lines[0].description == "Consulting"

    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    for url, data in posts:
        for method in ("GET", "POST"):
            response = anonymous.open(url, method=method, data={"csrf_token": token, **data})
            assert response.status_code == 302, (method, url)
            assert response.headers["Location"].startswith("/sign-in")
    assert anonymous.get(f"/invoices/{invoice_id}").status_code == 302
    assert count(db, Invoice) == 1 and count(db, LedgerEntry) == 0


def test_clear_personal_data_counts_a_draft_apart_from_issued_invoices(db, customer):
    from webapp.services import personal_data

    start(db, customer)
    preview = personal_data.preview(db.session, customer)
    assert "0 invoices, as issued" in preview.kept
    assert "1 draft invoice, not issued" in preview.kept
    assert preview.issued_documents == 0
