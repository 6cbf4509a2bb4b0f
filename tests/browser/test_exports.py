"""Export, from the button on the customer list to the CSV file, with JavaScript on and off.

With JavaScript, htmx posts the Export form and the progress block appears on the
customer list, polling every second until the export is ready; without it the form
posts, redirects (303) to the export's own page, and Refresh shows the progress.
Either way "Download CSV" gives a real file, which is read back with the csv module:
every customer, a name starting with "=" made inert with a leading apostrophe, and
accents intact. The export then shows as Ready on the Exports page.

The live server runs jobs in a background thread (JOBS_INLINE="thread"), so the
export really runs while the page is showing it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.test_panel import assert_not_reloaded, mark_window
from tests.waiting import wait_for
from webapp.extensions import db
from webapp.models.email import Email, EmailStatus
from webapp.models.export import Export

pytestmark = pytest.mark.browser

# A spreadsheet would run this as a formula; the quotes and comma also need CSV quoting.
FORMULA_NAME = '=HYPERLINK("https://evil.example","Ada")'
ACCENTED_NAME = "José Ñúñez Müller"
ACCENTED_COMPANY = "Société Générale"
FILE_NAME = re.compile(r"^tally-customers-\d{4}-\d{2}-\d{2}-\d{4}\.csv$")
# The export of three customers takes milliseconds; this is room for a slow machine.
EXPORT_TIMEOUT_MS = 15_000


# -- helpers -----------------------------------------------------------------------


def progress(page: Page) -> Locator:
    return page.locator("#export_progress")


def saved_exports(app) -> list[dict]:
    """What the database holds about exports, as plain values."""
    with app.app_context():
        exports = db.session.scalars(select(Export).order_by(Export.id)).all()
        return [
            {
                "id": e.id,
                "staff_email": e.staff.email,
                "status": e.status,
                "rows_total": e.rows_total,
                "rows_done": e.rows_done,
                "size_bytes": e.size_bytes,
            }
            for e in exports
        ]


def ready_email_status(app) -> str | None:
    with app.app_context():
        return db.session.scalar(select(Email.status).where(Email.kind == "export_ready"))


def refresh_until_ready(page: Page) -> None:
    """Without JavaScript nothing polls: click Refresh, as a person would, until done."""

    def ready() -> bool:
        text = progress(page).inner_text()
        if "Export ready" in text:
            return True
        assert "failed" not in text, text
        with page.expect_navigation():
            progress(page).get_by_role("link", name="Refresh").click()
        return False

    wait_for(ready, "the export to finish", EXPORT_TIMEOUT_MS / 1000)


def read_csv(path: Path) -> tuple[bytes, list[str], list[dict[str, str]]]:
    """The file's bytes, its headings and its rows, read as a spreadsheet would."""
    raw = path.read_bytes()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return raw, list(reader.fieldnames or []), rows


# -- the test -----------------------------------------------------------------------


def test_export_from_the_customer_list_to_the_downloaded_csv(
    signed_in_page, js_enabled, add_customer, staff, live_app
):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace", email="ada@example.com")
    formula = add_customer(name=FORMULA_NAME, email="mallory@example.com")
    accented = add_customer(
        name=ACCENTED_NAME,
        company=ACCENTED_COMPANY,
        email="jose@example.es",
        country="ES",
        currency="EUR",
    )
    page.reload()
    for name in (ada.name, FORMULA_NAME, ACCENTED_NAME):
        expect(page.locator("#results").get_by_role("link", name=name, exact=True)).to_be_visible()

    export_button = page.get_by_role("button", name="Export", exact=True)
    if js_enabled:
        mark_window(page)
        polls: list[str] = []
        page.on(
            "request",
            lambda r: polls.append(r.url) if re.search(r"/exports/\d+$", r.url) else None,
        )
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/exports/")
        ) as posted:
            export_button.click()
        response = posted.value
        assert response.status == 200
        assert response.request.headers.get("hx-request") == "true"
        answered_ready = "Export ready" in response.text()

        # The progress block appears on the list page and polls until the file is ready.
        expect(progress(page)).to_contain_text("Export ready", timeout=EXPORT_TIMEOUT_MS)
        expect(progress(page)).to_have_count(1)
        expect(page).to_have_url(re.compile(r"/customers$"))
        assert_not_reloaded(page)
        if not answered_ready:
            assert polls, "the progress block never polled"
        # The finished block stops polling.
        assert progress(page).get_attribute("hx-trigger") is None
    else:
        with page.expect_navigation() as navigation:
            export_button.click()
        post = navigation.value.request.redirected_from
        assert post is not None and post.method == "POST"
        assert post.response().status == 303
        expect(page).to_have_url(re.compile(r"/exports/\d+$"))
        expect(page.get_by_role("heading", name="Export of all customers", level=1)).to_be_visible()
        refresh_until_ready(page)

    [export] = saved_exports(live_app)
    assert export["status"] == "done"
    assert (export["rows_total"], export["rows_done"]) == (3, 3)
    assert export["staff_email"] == staff.email
    if not js_enabled:
        expect(page).to_have_url(re.compile(rf"/exports/{export['id']}$"))
    expect(progress(page)).to_contain_text("Export ready: 3 customers")
    # The ready email is recorded with the export and sent by the job thread a moment
    # later; with no mail server in the tests it ends "not delivered". The page says
    # which, and never claims a link went out.
    expect(progress(page)).to_contain_text(
        re.compile(
            "No email was sent: no mail server is configured"
            f"|An email with the link is on its way to {re.escape(staff.email)}"
        )
    )
    expect(progress(page)).not_to_contain_text("A link was also emailed")

    # -- the file --------------------------------------------------------------------
    link = progress(page).get_by_role("link", name="Download CSV")
    expect(link).to_have_attribute("href", f"/exports/{export['id']}/download")
    with page.expect_download() as downloading:
        link.click()
    download = downloading.value
    assert download.failure() is None
    assert FILE_NAME.match(download.suggested_filename), download.suggested_filename
    raw, headings, rows = read_csv(Path(download.path()))

    assert raw.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte order mark for spreadsheets"
    assert len(raw) == export["size_bytes"]
    assert raw.split(b"\n", 1)[0].endswith(b"\r"), "lines should end in CRLF"
    assert headings[:3] == ["Customer ID", "Name", "Company"]
    assert {"Email", "Country", "Currency", "Balance"} <= set(headings)
    by_id = {row["Customer ID"]: row for row in rows}
    assert {customer_id: row["Name"] for customer_id, row in by_id.items()} == {
        ada.customer_id: "Ada Lovelace",
        formula.customer_id: "'" + FORMULA_NAME,
        accented.customer_id: ACCENTED_NAME,
    }
    assert by_id[ada.customer_id]["Email"] == "ada@example.com"
    assert (by_id[ada.customer_id]["Currency"], by_id[ada.customer_id]["Balance"]) == (
        "GBP",
        "0.00",
    )
    assert by_id[accented.customer_id]["Company"] == ACCENTED_COMPANY
    assert by_id[accented.customer_id]["Country"] == "ES"
    assert ACCENTED_NAME.encode() in raw, "accents were not written as UTF-8"

    # What the server said about the file, read with the same signed-in cookies.
    served = page.request.get(link.get_attribute("href"))
    assert served.ok
    assert served.headers["content-type"].startswith("text/csv")
    assert served.headers["content-disposition"].startswith("attachment")
    assert "no-store" in served.headers["cache-control"]

    # -- the Exports page --------------------------------------------------------------
    page.locator("header").get_by_role("link", name="Exports", exact=True).click()
    expect(page).to_have_url(re.compile(r"/exports/$"))
    expect(page.get_by_role("heading", name="Exports", level=1)).to_be_visible()
    listed = page.locator("table.exports tbody tr")
    expect(listed).to_have_count(1)
    row = listed.first
    expect(row.get_by_role("cell").first).to_have_text(staff.name)
    expect(row.locator(".status")).to_have_text("Ready")
    expect(row.locator("td.amount")).to_have_text("3")
    expect(row.get_by_role("link", name="Download CSV")).to_have_attribute(
        "href", f"/exports/{export['id']}/download"
    )

    # The "ready" email is recorded (no mail server here, so not delivered); waiting for
    # it also means no job of this test is still running when the database is emptied.
    wait_for(
        lambda: ready_email_status(live_app) == EmailStatus.NOT_SENT,
        "the export-ready email to be recorded",
        10,
    )
