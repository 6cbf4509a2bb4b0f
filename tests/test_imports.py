"""CSV import of customers: mapping presets, reading files, the dry run's errors, creating and
updating without duplicates, cancel, the rejected rows, the round trip of Tally's own export,
and the HTTP shape of Customers → Import (admins only, CSRF, 422 beside the file field)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.conftest import csrf_token_from
from webapp.models.customer import Customer, format_customer_id
from webapp.models.history import CustomerEvent
from webapp.models.imports import CustomerImport, ImportStatus
from webapp.services import exports as export_service
from webapp.services import imports as import_service
from webapp.services import settings
from webapp.services.exports import HEADINGS
from webapp.services.imports import running
from webapp.services.imports.reading import ImportFileError, sniff

STRIPE_HEADERS = [
    "id", "Description", "Email", "Name", "Created (UTC)", "Card ID", "Delinquent", "Plan",
    "Status", "Account Balance", "Business Vat ID", "Phone", "Address Line1", "Address Line2",
    "Address City", "Address State", "Address Country", "Address Zip", "Currency",
]  # fmt: skip
CHARGEBEE_HEADERS = [
    "customers.id", "customers.first_name", "customers.last_name", "customers.email",
    "customers.company", "customers.phone", "customers.vat_number", "customers.auto_collection",
    "customers.created_at", "billing_address.line1", "billing_address.line2",
    "billing_address.city", "billing_address.state", "billing_address.zip",
    "billing_address.country",
]  # fmt: skip


@pytest.fixture(autouse=True)
def import_dir(app, tmp_path) -> Path:
    app.config["IMPORT_DIR"] = str(tmp_path / "imports")
    app.config["EXPORT_DIR"] = str(tmp_path / "exports")
    return tmp_path / "imports"


def csv_bytes(rows: list[list[str]], delimiter: str = ",", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode()


def run_through(db, staff, data: bytes, match_by: str | None = None, mapping=None, name="c.csv"):
    """Upload, keep the guessed mapping, dry run and import (the jobs run at once in tests)."""
    customer_import = import_service.upload(db.session, staff, name, data)
    chosen = mapping or import_service.mapping_of(customer_import)
    errors = import_service.start_dry_run(
        db.session, customer_import, chosen, match_by or customer_import.match_by
    )
    assert errors == {}
    db.session.refresh(customer_import)
    assert customer_import.status == ImportStatus.CHECKED
    import_service.start_import(db.session, customer_import)
    db.session.refresh(customer_import)
    return customer_import


def problems_of(db, customer_import, phase) -> list[tuple[int, str, str]]:
    return [
        (problem.row_number, problem.field, problem.message)
        for problem in import_service.problems(db.session, customer_import, phase, 1000)
    ]


# -- mapping and reading (no database) --------------------------------------------------


def test_tally_stripe_and_chargebee_exports_are_recognised_and_mapped():
    preset, mapping = import_service.guess_mapping(HEADINGS)
    assert preset == "tally"
    tally = dict(zip(HEADINGS, mapping, strict=True))
    assert tally["Customer ID"] == "customer_id" and tally["Email"] == "email"
    assert tally["Tax rate %"] == "tax_rate" and tally["Status"] == "status"
    # Tally's own figures are never imported: money moves only through the ledger.
    assert tally["Balance"] == tally["Other balances"] == tally["Created"] == ""
    assert sum(1 for field in mapping if field) == 26
    preset, mapping = import_service.guess_mapping(STRIPE_HEADERS)
    assert preset == "stripe"
    stripe = dict(zip(STRIPE_HEADERS, mapping, strict=True))
    assert stripe["id"] == "external_id" and stripe["Email"] == "email"
    assert stripe["Name"] == "name" and stripe["Business Vat ID"] == "tax_id"
    assert stripe["Address Zip"] == "postal_code" and stripe["Address Country"] == "country"
    # Stripe's Status and Plan are a subscription's, its balance its own: not imported.
    assert stripe["Status"] == stripe["Plan"] == stripe["Account Balance"] == ""
    preset, mapping = import_service.guess_mapping(CHARGEBEE_HEADERS)
    assert preset == "chargebee"
    chargebee = dict(zip(CHARGEBEE_HEADERS, mapping, strict=True))
    assert chargebee["customers.id"] == "external_id"
    assert chargebee["customers.first_name"] == "first_name"
    assert chargebee["customers.vat_number"] == "tax_id"
    assert chargebee["customers.auto_collection"] == "auto_pay"
    assert chargebee["billing_address.zip"] == "postal_code"
    assert chargebee["customers.created_at"] == ""


def test_common_header_names_are_mapped_and_the_rest_is_not_imported():
    headers = ["E-mail", "Company name", "VAT number", "Zip", "Postcode", "Shoe size", "Land"]
    preset, mapping = import_service.guess_mapping(headers)
    assert preset == ""
    # A field goes to one column: the second postal code column is not imported.
    assert mapping == ["email", "company", "tax_id", "postal_code", "", "", ""]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "not a CSV file"),
        ("Name,Email\nM\u00fcller,m@example.com\n".encode("latin-1"), "not UTF-8"),
        (b"ada@example.com,Ada\nbob@example.com,Bob\n", "does not look like a header row"),
        (b"Name,Email\n", "no customers under it"),
    ],
    ids=["empty", "binary", "latin-1", "no-header", "header-only"],
)
def test_files_that_cannot_be_imported_say_why(data, message):
    with pytest.raises(ImportFileError, match=message):
        sniff(data)


def test_semicolons_a_bom_and_excel_quoting_are_read():
    data = csv_bytes(
        [["Name", "Email", "Notes"], ['Kunde "Nord"; GmbH', "k@example.com", "a\nb"]],
        delimiter=";",
        bom=True,
    )
    sniffed = sniff(data)
    assert sniffed.delimiter == ";"
    assert sniffed.headers == ["Name", "Email", "Notes"]
    assert sniffed.samples == [['Kunde "Nord"; GmbH', "k@example.com", "a\nb"]]


# -- the dry run and the import -----------------------------------------------------------


def test_the_dry_run_lists_errors_by_row_and_field_and_writes_nothing(db, admin):
    data = csv_bytes(
        [
            ["Name", "Email", "Country", "Currency", "VAT number", "Phone"],
            ["Good GmbH", "good@example.com", "DE", "EUR", "", "+49 30 1234567"],
            ["Bad Mail", "not-an-email", "DE", "EUR", "", ""],
            ["Bad VAT", "vat@example.com", "DE", "EUR", "DE123", ""],
            ["Bad Country", "c@example.com", "Atlantis", "", "", ""],
            ["Bad Currency", "cur@example.com", "DE", "XXY", "", ""],
            ["Bad Phone", "p@example.com", "DE", "EUR", "", "12"],
        ]
    )
    customer_import = import_service.upload(db.session, admin, "people.csv", data)
    assert customer_import.rows_total == 6
    import_service.start_dry_run(
        db.session, customer_import, import_service.mapping_of(customer_import), "email"
    )
    db.session.refresh(customer_import)
    assert customer_import.status == ImportStatus.CHECKED
    assert (customer_import.checked_rows, customer_import.checked_errors) == (6, 5)
    found = problems_of(db, customer_import, import_service.CHECK)
    assert [(row, field) for row, field, _ in found] == [
        (3, "email"),
        (4, "tax_id"),
        (5, "country"),
        (5, "currency"),
        (6, "currency"),
        (7, "phone"),
    ]
    assert found[2][2] == "Choose a country from the list."
    assert "choose the billing currency" in found[3][2]
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_import_creates_and_updates_never_duplicates_and_history_names_the_file(
    db, admin, make_customer
):
    existing = make_customer(name="Old Name", email="old@example.com", country="GB")
    data = csv_bytes(
        [
            ["Name", "E-mail", "Country", "City"],
            ["New Name", "OLD@example.com", "GB", "London"],  # matches (emails are folded)
            ["Fresh Ltd", "fresh@example.com", "GB", ""],
            ["Fresh Ltd (again)", "fresh@example.com", "GB", "Leeds"],  # same email: updates
            ["Broken", "broken", "GB", ""],
        ]
    )
    customer_import = run_through(db, admin, data, match_by="email", name="crm-dump.csv")
    assert customer_import.status == ImportStatus.DONE
    assert (
        customer_import.created_count,
        customer_import.updated_count,
        customer_import.rejected_count,
    ) == (1, 2, 1)
    customers = db.session.scalars(select(Customer).order_by(Customer.id)).all()
    assert [(c.name, c.email, c.city) for c in customers] == [
        ("New Name", "old@example.com", "London"),
        ("Fresh Ltd (again)", "fresh@example.com", "Leeds"),
    ]
    assert customers[0].id == existing.id
    lines = db.session.scalars(
        select(CustomerEvent).where(CustomerEvent.kind == "imported").order_by(CustomerEvent.id)
    ).all()
    assert {line.summary for line in lines} == {"Imported from crm-dump.csv"}
    assert {line.customer_id for line in lines} == {c.id for c in customers}
    assert {line.staff_id for line in lines} == {admin.id}
    # The edit lines of the update name the admin too, not "System".
    edits = db.session.scalars(
        select(CustomerEvent).where(
            CustomerEvent.customer_id == existing.id, CustomerEvent.kind == "edited"
        )
    ).all()
    assert edits and {edit.staff_id for edit in edits} == {admin.id}

    # The same file again: nothing new, nothing doubled (the two rows for one email
    # update that customer in turn, as the first time).
    again = run_through(db, admin, data, match_by="email")
    assert (again.created_count, again.updated_count, again.rejected_count) == (0, 2, 1)
    assert again.unchanged_count == 1
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 2


def test_rejected_rows_download_has_the_columns_the_row_and_the_reason(db, admin):
    data = csv_bytes(
        [
            ["Name", "Email", "Country"],
            ["=HYPERLINK(1)", "bad", "DE"],
            ["Fine", "fine@example.com", "DE"],
            ["No Country", "nc@example.com", ""],
        ]
    )
    customer_import = run_through(db, admin, data, match_by="email")
    text = "".join(import_service.rejected_rows_csv(db.session, customer_import))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["Name", "Email", "Country", "row", "reason"]
    assert rows[1][:4] == ["'=HYPERLINK(1)", "bad", "DE", "2"]
    assert rows[1][4].startswith("Email: ")
    assert rows[2][:4] == ["No Country", "nc@example.com", "", "4"]
    assert rows[2][4].startswith("Country: Choose a country.")


def test_customer_id_matching_refuses_unknown_ids_and_adds_rows_without_one(
    db, admin, make_customer
):
    known = make_customer(email="known@example.com")
    data = csv_bytes(
        [
            ["Customer ID", "Name", "Email", "Country"],
            [format_customer_id(known.id), "Known Renamed", "known@example.com", "GB"],
            ["C-999999", "Ghost", "ghost@example.com", "GB"],
            ["", "Newcomer", "new@example.com", "GB"],
        ]
    )
    customer_import = run_through(db, admin, data, match_by="customer_id")
    assert (customer_import.created_count, customer_import.updated_count) == (1, 1)
    assert problems_of(db, customer_import, import_service.IMPORT) == [
        (
            3,
            "customer_id",
            "No customer C-999999: leave the customer ID empty to add a new customer.",
        )
    ]
    assert db.session.get(Customer, known.id).name == "Known Renamed"


def test_a_cancelled_import_keeps_what_it_wrote_and_says_how_many(db, admin, app, monkeypatch):
    app.config["IMPORT_CHUNK_SIZE"] = 2
    rows = [["Name", "Email", "Country"]] + [
        [f"Kunde {n}", f"k{n}@example.com", "DE"] for n in range(6)
    ]
    customer_import = import_service.upload(db.session, admin, "k.csv", csv_bytes(rows))
    import_service.start_dry_run(
        db.session, customer_import, import_service.mapping_of(customer_import), "email"
    )
    monkeypatch.setattr(running.jobs, "enqueue_after_commit", lambda *args: None)
    db.session.refresh(customer_import)
    assert customer_import.status == ImportStatus.CHECKED, customer_import.last_error
    import_service.start_import(db.session, customer_import)
    process = running._Run._process
    calls = []

    def cancel_after_the_first_chunk(self, prepared):
        calls.append(prepared)
        if len(calls) == 1:
            self.session.execute(
                update(CustomerImport)
                .where(CustomerImport.id == self.import_id)
                .values(cancel_requested=True)
            )
        return process(self, prepared)

    monkeypatch.setattr(running._Run, "_process", cancel_after_the_first_chunk)
    import_id = customer_import.id
    result = import_service.run_import(db.session, import_id)
    assert result == ImportStatus.CANCELLED, db.session.get(CustomerImport, import_id).last_error
    customer_import = db.session.get(CustomerImport, import_id)
    assert (customer_import.rows_done, customer_import.created_count) == (2, 2)
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 2


# -- the round trip -----------------------------------------------------------------------

PROFILE = [
    "name", "company", "first_name", "last_name", "email", "phone", "mobile", "fax",
    "position", "website", "address_line1", "address_line2", "city", "region", "postal_code",
    "country", "currency", "tax_id", "tax_class_id", "tax_rate_bp", "payment_terms_days",
    "invoicing_flow", "auto_pay", "payment_gateway", "status", "footnotes",
]  # fmt: skip


def profiles(db) -> list[dict]:
    db.session.expire_all()
    return [
        {name: getattr(customer, name) for name in PROFILE}
        for customer in db.session.scalars(select(Customer).order_by(Customer.id))
    ]


def test_tallys_own_export_imports_back_with_nothing_lost(db, admin, make_customer):
    reduced = settings.create_tax_class(db.session, "Reduced", 700)
    make_customer(
        name='=Formula, "Quoted" GmbH',
        company="Kunde; Nord",
        first_name="Grete",
        last_name="Müller",
        position="CFO",
        email="grete@kunde.example",
        phone="+49301234567",
        mobile="+4915123456789",
        website="https://kunde.example",
        address_line1="Hauptstraße 1",
        address_line2="Hinterhaus",
        city="Berlin",
        region="BE",
        postal_code="10115",
        country="DE",
        currency="EUR",
        tax_id="DE136695976",
        tax_class_id=reduced.id,
        payment_terms_days=14,
        invoicing_flow="manual",
        auto_pay=True,
        footnotes="-5 % agreed\nsecond line",
    )
    make_customer(name="Plain", email="plain@example.com", country="GB", currency="USD")
    suspended = make_customer(name="Resting", email="rest@example.com", country="FR")
    db.session.execute(
        update(Customer).where(Customer.id == suspended.id).values(status="suspended")
    )
    db.session.commit()
    before = profiles(db)

    export, _new = export_service.start_export(db.session, admin)
    db.session.refresh(export)
    data = export_service.export_path(export).read_bytes()

    # Back onto the same customers: every row matches and nothing changes.
    same = run_through(db, admin, data)
    assert same.preset == "tally" and same.match_by == "customer_id"
    assert (same.created_count, same.updated_count, same.rejected_count) == (0, 0, 0)
    assert same.unchanged_count == 3
    assert profiles(db) == before

    # Every exported field restores what was there.
    db.session.execute(
        update(Customer).values(
            company="x", phone="", city="", footnotes="", status="archived", auto_pay=False,
            payment_terms_days=60, invoicing_flow="automatic", website="", tax_id="",
        )
    )  # fmt: skip
    db.session.commit()
    restored = run_through(db, admin, data)
    assert (restored.updated_count, restored.rejected_count) == (3, 0)
    assert profiles(db) == before
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 3


# -- HTTP ---------------------------------------------------------------------------------


def upload_response(client, data: bytes, name: str = "c.csv", **kwargs):
    return client.post(
        "/customers/import/",
        {"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        **kwargs,
    )


def test_import_is_for_admins_signed_in_with_csrf(app, db, staff_client, admin_client):
    anonymous = app.test_client()
    assert anonymous.get("/customers/import/").status_code == 302
    assert staff_client.get("/customers/import/").status_code == 403
    assert upload_response(staff_client, b"Name,Email\nA,a@example.com\n").status_code == 403
    page = admin_client.get("/customers/import/")
    assert page.status_code == 200 and "CSV file" in page.get_data(as_text=True)
    refused = upload_response(admin_client, b"Name,Email\nA,a@example.com\n", csrf=False)
    assert refused.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(CustomerImport)) == 0
    listing = admin_client.get("/customers").get_data(as_text=True)
    assert 'href="/customers/import/"' in listing
    assert 'href="/customers/import/"' not in staff_client.get("/customers").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"%PDF-1.7\x00\x01", "scan.pdf", "Choose a CSV file"),
        (b"", "empty.csv", "The file is empty"),
        (b"Name,Email\n" + b"x" * 600 + b"\n", "big.csv", "larger than"),
        (b"ada@example.com,Ada\nbob@example.com,Bob\n", "rows.csv", "header row"),
    ],
    ids=["not-csv", "empty", "too-large", "no-header"],
)
def test_a_bad_upload_is_422_with_the_message_beside_the_file(
    app, db, admin_client, data, name, message
):
    app.config["IMPORT_MAX_BYTES"] = 500
    response = upload_response(admin_client, data, name)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    beside = re.search(r'<small id="file-error" class="field-error">([^<]*)</small>', html)
    assert beside and message in beside.group(1)
    assert db.session.scalar(select(func.count()).select_from(CustomerImport)) == 0


def test_upload_mapping_dry_run_and_import_through_the_pages(app, db, admin_client):
    data = csv_bytes(
        [["Company name", "E-mail", "Land", "Zip"], ["Acme", "acme@example.com", "DE", "10115"]]
    )
    response = upload_response(admin_client, data, "acme.csv")
    assert response.status_code == 303
    mapping_url = response.headers["Location"]
    page = admin_client.get(mapping_url).get_data(as_text=True)
    assert "acme@example.com" in page and "Don&#39;t import" in page
    token = csrf_token_from(page)
    form = {
        "csrf_token": token,
        "column_0": "company",
        "column_1": "email",
        "column_2": "",
        "column_3": "postal_code",
        "match_by": "email",
    }
    # No column for the country: the dry run says so for the row.
    response = admin_client.post(mapping_url, form)
    assert response.status_code == 303
    show_url = response.headers["Location"]
    page = admin_client.get(show_url).get_data(as_text=True)
    assert "Dry run done" in page and "Choose a country." in page
    response = admin_client.post(mapping_url, {**form, "column_2": "country"})
    page = admin_client.get(show_url).get_data(as_text=True)
    assert "no errors" in page
    # Two columns for one field: 422 with the reason, nothing started.
    twice = admin_client.post(mapping_url, {**form, "column_2": "country", "column_0": "email"})
    assert twice.status_code == 422 and "more than one column" in twice.get_data(as_text=True)
    response = admin_client.post(show_url + "/start", {"csrf_token": token})
    assert response.status_code == 303
    page = admin_client.get(show_url).get_data(as_text=True)
    assert "Import done" in page and "1 customer added" in page
    customer = db.session.scalar(select(Customer))
    assert (customer.name, customer.company, customer.postal_code) == ("Acme", "Acme", "10115")
    progress = admin_client.get(show_url, htmx_target="import_progress")
    assert progress.get_data(as_text=True).lstrip().startswith('<section id="import_progress"')
    assert "HX-Request" in progress.headers["Vary"]


def test_the_rejected_rows_download_over_http(db, admin, admin_client):
    data = csv_bytes(
        [["Name", "Email", "Country"], ["Fine", "f@example.com", "DE"], ["X", "x", "DE"]]
    )
    customer_import = run_through(db, admin, data, match_by="email")
    response = admin_client.get(f"/customers/import/{customer_import.id}/rejected.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Name", "Email", "Country", "row", "reason"]
    assert rows[1][:4] == ["X", "x", "DE", "3"] and rows[1][4].startswith("Email: ")
    assert len(rows) == 2


def test_a_running_import_shows_its_progress_and_can_be_cancelled(db, admin, admin_client):
    """Mid-import (as a worker leaves it between chunks): the bar and counts, polling for
    htmx and a Refresh link without; Cancel import asks the job to stop after its chunk."""
    rows = [["Name", "Email", "Country"], *[[f"K{n}", f"k{n}@example.com", "DE"] for n in range(4)]]
    customer_import = import_service.upload(db.session, admin, "k.csv", csv_bytes(rows))
    db.session.execute(
        update(CustomerImport)
        .where(CustomerImport.id == customer_import.id)
        .values(status=ImportStatus.RUNNING, rows_done=1, created_count=1)
    )
    db.session.commit()
    show_url = f"/customers/import/{customer_import.id}"
    page = admin_client.get(show_url).get_data(as_text=True)
    text = re.sub(r"<[^>]+>", "", re.sub(r"\s+", " ", page))
    assert "Importing: 1 of 4 rows (25 %): 1 added, 0 updated, 0 rejected." in text
    assert '<progress value="1" max="4"' in page
    assert 'hx-trigger="every 1s"' in page
    assert f'<a href="{show_url}">Refresh</a>' in page

    response = admin_client.post(show_url + "/cancel", {"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(CustomerImport, customer_import.id).cancel_requested
    page = admin_client.get(show_url).get_data(as_text=True)
    assert "Cancelling" in page and "Cancel import</button>" not in page

    # Once the job has stopped, the block no longer polls.
    db.session.execute(
        update(CustomerImport)
        .where(CustomerImport.id == customer_import.id)
        .values(status=ImportStatus.CANCELLED)
    )
    db.session.commit()
    page = admin_client.get(show_url).get_data(as_text=True)
    assert "Import cancelled" in page and "every 1s" not in page
