"""Sales tab: the tab (page and fragment, newest first), add / edit / delete on the
shared record routes (422 beside the field, nothing written), invoicing a sale through
Capture one time charge exactly once, and the rules that keep an invoiced sale as it
is; sign-in and CSRF on every route."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from tests.conftest import csrf_token_from, empty_database, make_app
from tests.pages import follow, link
from tests.test_ledger_concurrency import new_customer, run_together
from webapp.extensions import db as _db
from webapp.models.base import utcnow
from webapp.models.billing import DocumentCounter, Invoice, LedgerEntry
from webapp.models.crm import Sale, SaleStatus
from webapp.models.customer import Customer
from webapp.models.email import Email
from webapp.services import billing
from webapp.services import sales as sales_service
from webapp.services.ledger import LedgerError, check_balances
from webapp.services.records import RecordError


@pytest.fixture
def customer(euro_customer):
    """Billed in EUR at 19 % tax, Net 14."""
    return euro_customer


def count(db, model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def sale_form(**values) -> dict:
    return {
        "sold_on": "2025-03-14",
        "description": "Consulting, March",
        "amount": "1,250.50",
        "currency": "EUR",
        "status": "open",
        **values,
    }


def add_sale(db, customer, staff_id=None, **values) -> Sale:
    fields = {
        "sold_on": date(2025, 3, 14),
        "description": "Consulting, March",
        "amount_minor": 10000,
        "currency": "EUR",
        "status": "open",
        **values,
    }
    return sales_service.add(db.session, customer, staff_id, fields)


def stored(db, sale_id: int) -> Sale | None:
    db.session.expire_all()
    return db.session.get(Sale, sale_id)


def sales_url(customer, *parts) -> str:
    return "/".join([f"/customers/{customer.id}/sales", *map(str, parts)])


# -- the tab --------------------------------------------------------------------------


def test_the_tab_is_a_page_and_a_fragment(staff_client, customer):
    page = staff_client.get(sales_url(customer))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "No sales yet." in html and "+ New sale" in html
    assert f'href="{sales_url(customer, "new")}"' in html
    fragment = staff_client.get(sales_url(customer), htmx_target="customer_tab")
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="customer_tab">') and "No sales yet." in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_sales_are_listed_newest_first_with_the_actions_each_allows(staff_client, db, customer):
    older = add_sale(db, customer, sold_on=date(2025, 1, 5), description="January order")
    cancelled = add_sale(
        db, customer, sold_on=date(2025, 2, 1), description="February order", status="cancelled"
    )
    invoiced = add_sale(db, customer, sold_on=date(2025, 3, 1), description="March order")
    sales_service.invoice_sale(db.session, customer.id, invoiced.id, staff_client.staff.id)
    older_id, cancelled_id, invoiced_id = older.id, cancelled.id, invoiced.id

    html = staff_client.get(sales_url(customer)).get_data(as_text=True)
    assert html.index("March order") < html.index("February order") < html.index("January order")
    assert "2025-03-01" in html and "€100.00" in html
    invoice = db.session.scalar(select(Invoice))
    assert f'<a href="/invoices/{invoice.id}">{invoice.number}</a>' in html
    assert "Invoiced" in html and "Cancelled" in html and "Open" in html
    # Open: edit, delete, invoice. Cancelled: edit, delete. Invoiced: nothing.
    for sale_id, offered in [
        (older_id, {"edit", "delete", "invoice"}),
        (cancelled_id, {"edit", "delete"}),
        (invoiced_id, set()),
    ]:
        for action in ("edit", "delete", "invoice"):
            link = f'href="{sales_url(customer, sale_id, action)}"'
            assert (link in html) == (action in offered), (sale_id, action)


def test_a_long_list_pages(staff_client, db, customer):
    for day in range(1, 52):
        add_sale(db, customer, sold_on=date(2024, 1, 1) + timedelta(days=day))
    first = staff_client.get(sales_url(customer)).get_data(as_text=True)
    assert first.count("<tr>") == 51  # header + 50 rows
    assert link(first, "next").startswith(f"{sales_url(customer)}?after=")
    second = follow(staff_client, first, "next")
    assert second.count("<tr>") == 2 and "2024-01-02" in second


# -- add, edit, delete ----------------------------------------------------------------


def test_new_sale_is_a_page_and_a_modal_with_today_and_the_billing_currency(
    staff_client, make_customer
):
    yen = make_customer(name="Yen Customer", email="yen@example.com", country="JP", currency="JPY")
    url = f"/customers/{yen.id}/sales/new"
    page = staff_client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and "<h1>New sale</h1>" in html
    assert f'value="{utcnow().date().isoformat()}"' in html and 'type="date"' in html
    assert '<option selected value="JPY">' in html
    assert '<input checked id="status-0" name="status" type="radio" value="open">' in html
    assert ">Invoiced<" not in html  # only invoicing makes a sale invoiced
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal and "Add sale" in modal


def test_adding_a_sale_with_and_without_js(staff_client, db, customer):
    plain = staff_client.post(sales_url(customer, "new"), sale_form())
    assert plain.status_code == 303
    assert plain.headers["Location"] == sales_url(customer)
    assert "Sale added." in staff_client.get(plain.headers["Location"]).get_data(as_text=True)
    sale = db.session.scalar(select(Sale))
    assert (sale.sold_on, sale.description, sale.amount_minor, sale.currency, sale.status) == (
        date(2025, 3, 14),
        "Consulting, March",
        125050,
        "EUR",
        "open",
    )
    assert sale.customer_id == customer.id and sale.staff_id == staff_client.staff.id
    assert sale.invoice_id is None

    swapped = staff_client.post(
        sales_url(customer, "new"),
        sale_form(description="  Licences  ", amount="1500", currency="JPY", status="cancelled"),
        htmx_target="form",
    )
    assert swapped.status_code == 204
    events = json.loads(swapped.headers["HX-Trigger"])
    assert events["closeModal"] and events["customerUpdated"] == customer.id
    assert events["showMessage"] == "Sale added."
    yen = db.session.scalar(select(Sale).where(Sale.currency == "JPY"))
    assert (yen.description, yen.amount_minor, yen.status) == ("Licences", 1500, "cancelled")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"description": "   "}, "description", "Enter a description"),
        ({"description": "x" * 501}, "description", "at most 500 characters"),
        ({"amount": ""}, "amount", "Enter an amount."),
        ({"amount": "twelve"}, "amount", "Enter the amount as a number"),
        ({"amount": "12.345"}, "amount", "EUR has 2 decimals at most."),
        ({"amount": "0"}, "amount", "The amount cannot be zero."),
        ({"amount": "-5"}, "amount", "Enter a positive amount."),
        ({"currency": "ZZZ"}, "currency", "Choose a currency from the list."),
        ({"sold_on": "2025-02-30"}, "sold_on", "Enter a real date, like 2025-03-14."),
        ({"sold_on": "14/03/2025"}, "sold_on", "Enter a real date, like 2025-03-14."),
        ({"sold_on": ""}, "sold_on", "Enter the date of the sale."),
        ({"sold_on": "   "}, "sold_on", "Enter the date of the sale."),
        ({"status": "invoiced"}, "status", "Choose Open or Cancelled."),
    ],
)
def test_a_bad_sale_is_refused_beside_the_field(staff_client, db, customer, values, field, message):
    url = sales_url(customer, "new")
    plain = staff_client.post(url, sale_form(**values))
    assert plain.status_code == 422
    html = plain.get_data(as_text=True)
    assert "<html" in html and message in html
    swapped = staff_client.post(url, sale_form(**values), htmx_target="form")
    assert swapped.status_code == 422
    fragment = swapped.get_data(as_text=True)
    assert fragment.lstrip().startswith('<form id="form"') and "<html" not in fragment
    # The message sits beside its field, which is marked invalid.
    assert f'id="{field}-error"' in fragment and message in fragment
    assert 'aria-invalid="true"' in fragment
    assert count(db, Sale) == 0


def test_editing_a_sale_shows_typed_money_and_saves(staff_client, db, customer):
    sale = add_sale(db, customer, amount_minor=125050)
    url = sales_url(customer, sale.id, "edit")
    html = staff_client.get(url).get_data(as_text=True)
    assert "<h1>Edit sale</h1>" in html
    assert 'value="1250.50"' in html and 'value="2025-03-14"' in html
    assert '<option selected value="EUR">' in html

    refused = staff_client.post(url, sale_form(amount="-1"), htmx_target="form")
    assert refused.status_code == 422
    assert stored(db, sale.id).amount_minor == 125050  # a refusal writes nothing

    saved = staff_client.post(
        url, sale_form(sold_on="2025-04-01", amount="99.9", status="cancelled"), htmx_target="form"
    )
    assert saved.status_code == 204
    assert json.loads(saved.headers["HX-Trigger"])["showMessage"] == "Sale saved."
    sale = stored(db, sale.id)
    assert (sale.sold_on, sale.amount_minor, sale.status) == (date(2025, 4, 1), 9990, "cancelled")


def test_delete_asks_first_then_deletes(staff_client, db, customer):
    sale = add_sale(db, customer, description="Unwanted order")
    url = sales_url(customer, sale.id, "delete")
    confirm = staff_client.get(url)
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "Delete this sale" in html and "2025-03-14 · Unwanted order · €100.00 · Open" in html
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal
    assert count(db, Sale) == 1  # looking at the confirmation deletes nothing

    done = staff_client.post(url)
    assert done.status_code == 303 and done.headers["Location"] == sales_url(customer)
    assert "Sale deleted." in staff_client.get(done.headers["Location"]).get_data(as_text=True)
    assert count(db, Sale) == 0
    assert staff_client.post(url).status_code == 404


def test_a_sale_of_another_customer_is_not_found(staff_client, db, customer, make_customer):
    other = make_customer(name="Bob", email="bob@example.com")
    sale = add_sale(db, customer)
    for action in ("edit", "delete", "invoice"):
        url = f"/customers/{other.id}/sales/{sale.id}/{action}"
        assert staff_client.get(url).status_code == 404, action
        assert staff_client.post(url, sale_form()).status_code == 404, action
    assert count(db, Invoice) == 0
    assert stored(db, sale.id).status == "open"


# -- invoicing ------------------------------------------------------------------------


def test_invoicing_a_sale_confirms_then_creates_exactly_one_invoice(staff_client, db, customer):
    sale = add_sale(db, customer, description="Workshop day", amount_minor=10000)
    sale_id = sale.id
    url = sales_url(customer, sale_id, "invoice")

    confirm = staff_client.get(url)
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "<h1>Invoice sale</h1>" in html
    assert "Invoice this sale?" in html and "Create invoice" in html
    assert "€100.00" in html and "19.00 %" in html and "€19.00" in html and "€119.00" in html
    assert "euro@example.com" in html
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal
    assert count(db, Invoice) == 0  # asking creates nothing

    done = staff_client.post(url)
    assert done.status_code == 303 and done.headers["Location"] == sales_url(customer)
    tab = staff_client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Invoice INV-000001 for €119.00 created from the sale." in tab

    invoice = db.session.scalar(select(Invoice))
    assert (invoice.number, invoice.currency, invoice.customer_id) == (
        "INV-000001",
        "EUR",
        customer.id,
    )
    assert (invoice.subtotal_minor, invoice.tax_rate_bp, invoice.tax_minor) == (10000, 1900, 1900)
    assert invoice.total_minor == 11900 and invoice.staff_id == staff_client.staff.id
    assert [(line.description, line.amount_minor) for line in invoice.lines] == [
        ("Workshop day", 10000)
    ]
    entry = db.session.scalar(select(LedgerEntry))
    assert (entry.amount_minor, entry.invoice_id, entry.idempotency_key) == (
        -11900,
        invoice.id,
        f"sale-{sale_id}",
    )
    sale = stored(db, sale_id)
    assert sale.status == SaleStatus.INVOICED and sale.invoice_id == invoice.id
    email = db.session.scalar(select(Email))
    assert (email.kind, email.name, email.recipient, email.customer_id) == (
        "invoice",
        "Invoice INV-000001",
        "euro@example.com",
        customer.id,
    )
    # The tab shows the sale as invoiced, with its invoice, and offers nothing more.
    assert "Invoiced" in tab and f'<a href="/invoices/{invoice.id}">INV-000001</a>' in tab
    assert f'href="{url}"' not in tab

    # A second post (double click, Back and resubmit, retry) creates nothing new.
    again = staff_client.post(url, htmx_target="form")
    assert again.status_code == 204
    events = json.loads(again.headers["HX-Trigger"])
    assert events["showMessage"] == "This sale was already invoiced: INV-000001 for €119.00."
    assert count(db, Invoice) == 1 and count(db, LedgerEntry) == 1 and count(db, Email) == 1
    assert db.session.scalar(select(DocumentCounter.last_number)) == 1
    assert check_balances(db.session) == []

    # Its confirmation page now just says so and links to the invoice.
    page = staff_client.get(url).get_data(as_text=True)
    assert "This sale is already invoiced (INV-000001)." in page
    assert "Create invoice" not in page and f'href="/invoices/{invoice.id}"' in page


def test_invoicing_with_htmx_closes_the_modal_and_refreshes_the_customer(
    staff_client, db, customer
):
    sale = add_sale(db, customer)
    response = staff_client.post(sales_url(customer, sale.id, "invoice"), htmx_target="form")
    assert response.status_code == 204
    events = json.loads(response.headers["HX-Trigger"])
    assert events["closeModal"] and events["customerUpdated"] == customer.id
    assert events["showMessage"] == "Invoice INV-000001 for €119.00 created from the sale."
    header = staff_client.get(f"/customers/{customer.id}/sales").get_data(as_text=True)
    assert "Owes €119.00" in header  # the balance in the header owes the invoice


def test_an_invoiced_sale_cannot_be_edited_or_deleted(staff_client, db, customer):
    sale = add_sale(db, customer, description="Kept as invoiced")
    sales_service.invoice_sale(db.session, customer.id, sale.id, None)
    sale_id = sale.id
    message = "This sale is invoiced (INV-000001), so it is kept as it is"

    edit = staff_client.post(
        sales_url(customer, sale_id, "edit"), sale_form(amount="1"), htmx_target="form"
    )
    assert edit.status_code == 422
    assert message in edit.get_data(as_text=True)
    delete = staff_client.post(sales_url(customer, sale_id, "delete"))
    assert delete.status_code == 422
    assert message in delete.get_data(as_text=True)
    # Opened directly, the edit and delete pages say why, with nothing to submit.
    edit_page = staff_client.get(sales_url(customer, sale_id, "edit"))
    assert edit_page.status_code == 200
    assert message in edit_page.get_data(as_text=True)
    assert "Save changes" not in edit_page.get_data(as_text=True)
    delete_page = staff_client.get(sales_url(customer, sale_id, "delete")).get_data(as_text=True)
    assert message in delete_page and ">Confirm</button>" not in delete_page

    sale = stored(db, sale_id)
    assert (sale.description, sale.amount_minor, sale.status) == (
        "Kept as invoiced",
        10000,
        "invoiced",
    )
    assert count(db, Invoice) == 1


def test_a_cancelled_sale_cannot_be_invoiced(staff_client, db, customer):
    sale = add_sale(db, customer, status="cancelled")
    url = sales_url(customer, sale.id, "invoice")
    page = staff_client.get(url).get_data(as_text=True)
    assert sales_service.CANCELLED_NOT_INVOICED in page and "Create invoice" not in page

    refused = staff_client.post(url, htmx_target="form")
    assert refused.status_code == 422
    fragment = refused.get_data(as_text=True)
    assert fragment.lstrip().startswith('<form id="form"')
    assert sales_service.CANCELLED_NOT_INVOICED in fragment
    assert count(db, Invoice) == 0 and count(db, LedgerEntry) == 0 and count(db, Email) == 0
    assert stored(db, sale.id).status == "cancelled"


def test_a_sale_deleted_while_it_is_being_invoiced_is_refused_not_a_500(
    staff_client, db, customer, monkeypatch
):
    sale_id = add_sale(db, customer).id
    real_capture = billing.capture_one_time_charge

    def capture_after_a_delete(*args, **kwargs):
        with db.engine.begin() as other_request:
            other_request.execute(text("DELETE FROM sales WHERE id = :id"), {"id": sale_id})
        return real_capture(*args, **kwargs)

    monkeypatch.setattr(billing, "capture_one_time_charge", capture_after_a_delete)
    response = staff_client.post(sales_url(customer, sale_id, "invoice"), htmx_target="form")
    assert response.status_code == 204
    events = json.loads(response.headers["HX-Trigger"])
    assert events["showMessage"] == {"text": "This sale no longer exists.", "level": "error"}
    assert count(db, Invoice) == 0 and count(db, LedgerEntry) == 0 and count(db, Sale) == 0


# -- sign-in and CSRF -----------------------------------------------------------------


def test_sales_need_a_sign_in_and_a_csrf_token(app, staff_client, db, customer):
    sale = add_sale(db, customer)
    sale_id = sale.id
    for url, data in [
        (sales_url(customer, "new"), sale_form()),
        (sales_url(customer, sale_id, "edit"), sale_form(amount="5")),
        (sales_url(customer, sale_id, "delete"), {}),
        (sales_url(customer, sale_id, "invoice"), {}),
    ]:
        assert staff_client.post(url, data, csrf=False).status_code == 400, url
    assert count(db, Sale) == 1 and count(db, Invoice) == 0
    assert stored(db, sale_id).amount_minor == 10000

    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    for method, url in [
        ("GET", sales_url(customer)),
        ("GET", sales_url(customer, "new")),
        ("POST", sales_url(customer, "new")),
        ("GET", sales_url(customer, sale_id, "edit")),
        ("POST", sales_url(customer, sale_id, "edit")),
        ("POST", sales_url(customer, sale_id, "delete")),
        ("GET", sales_url(customer, sale_id, "invoice")),
        ("POST", sales_url(customer, sale_id, "invoice")),
    ]:
        response = anonymous.open(url, method=method, data={"csrf_token": token, **sale_form()})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/sign-in")
    assert count(db, Sale) == 1 and count(db, Invoice) == 0
    assert stored(db, sale_id).status == "open"


# -- the rules, in the service --------------------------------------------------------


def test_the_service_refuses_what_the_form_would(db, customer):
    good = {
        "sold_on": date(2025, 3, 14),
        "description": "Order",
        "amount_minor": 100,
        "currency": "EUR",
        "status": "open",
    }
    for change, field in [
        ({"sold_on": None}, "sold_on"),
        ({"description": " "}, "description"),
        ({"amount_minor": 0}, "amount"),
        ({"amount_minor": -100}, "amount"),
        ({"currency": "EURO"}, "currency"),
        ({"status": "invoiced"}, "status"),
    ]:
        with pytest.raises(RecordError) as refused:
            sales_service.add(db.session, customer, None, {**good, **change})
        assert refused.value.field == field
    assert count(db, Sale) == 0


def test_invoicing_twice_returns_the_first_invoice(db, customer):
    sale = add_sale(db, customer)
    first = sales_service.invoice_sale(db.session, customer.id, sale.id, None)
    second = sales_service.invoice_sale(db.session, customer.id, sale.id, None)
    assert (first.replayed, second.replayed) == (False, True)
    assert first.invoice.id == second.invoice.id
    assert count(db, Invoice) == 1 and count(db, Email) == 1


def test_a_sale_edited_after_it_was_read_is_not_invoiced_with_the_old_values(
    db, customer, monkeypatch
):
    """Another request changes the sale between this one reading it and locking the
    customer: the invoice is refused and undone, not made from stale values."""
    sale_id = add_sale(db, customer, amount_minor=10000).id
    real_capture = billing.capture_one_time_charge

    def capture_after_an_edit(*args, **kwargs):
        with db.engine.begin() as other_request:
            other_request.execute(
                text("UPDATE sales SET amount_minor = 20000 WHERE id = :id"), {"id": sale_id}
            )
        return real_capture(*args, **kwargs)

    monkeypatch.setattr(billing, "capture_one_time_charge", capture_after_an_edit)
    with pytest.raises(LedgerError, match="changed while you were invoicing"):
        sales_service.invoice_sale(db.session, customer.id, sale_id, None)
    monkeypatch.undo()
    assert count(db, Invoice) == 0 and count(db, LedgerEntry) == 0 and count(db, Email) == 0
    assert stored(db, sale_id).status == "open"
    # Invoicing it again uses the sale as it is now, and the first number.
    done = sales_service.invoice_sale(db.session, customer.id, sale_id, None)
    assert (done.invoice.number, done.invoice.subtotal_minor) == ("INV-000001", 20000)


def test_a_refusal_after_the_invoice_is_written_undoes_it(db, customer):
    """capture_one_time_charge's on_written runs in the invoice's transaction: what it
    changes is kept with the invoice, and a refusal there leaves nothing behind."""

    def refuse(invoice):
        assert (invoice.number, invoice.subtotal_minor) == ("INV-000001", 500)
        raise LedgerError("No.")

    with pytest.raises(LedgerError, match="No."):
        billing.capture_one_time_charge(
            db.session,
            customer.id,
            amount_minor=500,
            currency="EUR",
            description="Refused",
            actor_id=None,
            key="refused-once",
            on_written=refuse,
        )
    assert count(db, Invoice) == 0 and count(db, LedgerEntry) == 0 and count(db, Email) == 0
    assert check_balances(db.session) == []
    again = billing.capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=500,
        currency="EUR",
        description="Refused",
        actor_id=None,
        key="refused-once",
    )
    assert again.replayed is False and again.invoice.number == "INV-000001"


# -- at the same time, on PostgreSQL --------------------------------------------------


@pytest.fixture
def pg_app(postgres_url, instance_dir):
    app = make_app(postgres_url, instance_dir)
    empty_database(app)
    yield app
    empty_database(app)


def test_concurrent_clicks_and_a_cancel_never_split_sale_and_invoice(pg_app):
    """Rounds of three Confirm clicks racing a Cancel on the same sale: each round ends
    with either one invoice and the sale Invoiced with it, or no invoice and the sale
    Cancelled; never an invoice without the sale marked, or the reverse."""
    app = pg_app
    customer_id = new_customer(app, tax_rate_bp=1900)
    with app.app_context():
        customer = _db.session.get(Customer, customer_id)
        sale_ids = [add_sale(_db, customer, description=f"Order {n}").id for n in range(10)]

    invoiced_rounds = 0
    for sale_id in sale_ids:
        results: list[str] = []

        def click(sale_id=sale_id, results=results):
            try:
                done = sales_service.invoice_sale(_db.session, customer_id, sale_id, None)
                results.append(done.invoice.number)
            except LedgerError as refusal:
                results.append(str(refusal))

        def cancel(sale_id=sale_id, results=results):
            sale = sales_service.get(_db.session, customer_id, sale_id)
            fields = {
                "sold_on": sale.sold_on,
                "description": sale.description,
                "amount_minor": sale.amount_minor,
                "currency": sale.currency,
                "status": "cancelled",
            }
            try:
                sales_service.change(
                    _db.session, _db.session.get(Customer, customer_id), sale, fields
                )
                results.append("cancelled")
            except RecordError as refusal:
                _db.session.rollback()
                results.append(str(refusal))

        failures, _ = run_together(app, [click, click, click, cancel])
        assert failures == [], "\n".join(failures)
        with app.app_context():
            sale = _db.session.get(Sale, sale_id)
            entries = _db.session.scalars(
                select(LedgerEntry).where(LedgerEntry.idempotency_key == f"sale-{sale_id}")
            ).all()
            if sale.status == SaleStatus.INVOICED:
                invoiced_rounds += 1
                assert len(entries) == 1 and sale.invoice_id == entries[0].invoice_id
                assert sale.invoice.lines[0].description == sale.description
                assert results.count(sale.invoice.number) == 3  # every click got the invoice
                assert "cancelled" not in results  # the cancel was refused, not overwritten
            else:
                assert sale.status == SaleStatus.CANCELLED and sale.invoice_id is None
                assert entries == [] and "cancelled" in results
    with app.app_context():
        numbers = _db.session.scalars(select(Invoice.number).order_by(Invoice.number)).all()
        assert numbers == [f"INV-{n:06d}" for n in range(1, invoiced_rounds + 1)]  # gapless
        assert check_balances(_db.session) == []
