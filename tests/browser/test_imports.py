"""Customers -> Import, with JavaScript on and off: upload a file, check the mapping (the
samples shown, one column changed), the dry run's error for a row, the import, and the
customers it added. With JavaScript the progress block polls itself; without, the page's
Refresh link is followed until the job is done. The live server runs the job in a thread.

``TALLY_SCREENSHOTS=<folder>`` keeps a screenshot of each step at 1280x800 and 390x844.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.waiting import wait_for
from webapp.extensions import db
from webapp.models.customer import Customer

pytestmark = pytest.mark.browser

FILE = (
    "Company name;E-mail;Land;Postcode\r\n"
    "Müller Maschinenbau GmbH;einkauf@mueller.example;DE;10115\r\n"
    '"Dupont; Fils SARL";compta@dupont.example;FR;75002\r\n'
    "Broken Row Ltd;not-an-email;GB;SW1A 1AA\r\n"
)


def shoot(page: Page, name: str, js_enabled: bool) -> None:
    folder = os.environ.get("TALLY_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        suffix = f"{'js' if js_enabled else 'nojs'}-{width}"
        page.screenshot(path=f"{folder}/{name}-{suffix}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def until_shown(page: Page, text: str, js_enabled: bool) -> None:
    """Wait for the progress block to say ``text``: by its polling, or by Refresh."""
    if js_enabled:
        expect(page.locator("#import_progress")).to_contain_text(text, timeout=15_000)
        return

    def refreshed() -> bool:
        if text in page.locator("#import_progress").inner_text():
            return True
        page.get_by_role("link", name="Refresh").click()
        return False

    wait_for(refreshed, f"the page to say {text!r}")


def test_import_from_upload_to_done(admin_page, live_app, js_enabled, tmp_path):
    page = admin_page
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Import customers", level=1)).to_be_visible()
    path = tmp_path / "kunden.csv"
    path.write_text(FILE, encoding="utf-8-sig")
    page.get_by_label("CSV file").set_input_files(str(path))
    shoot(page, "1-upload", js_enabled)
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_role("heading", name="Map columns", level=1)).to_be_visible()
    expect(page.get_by_text("einkauf@mueller.example")).to_be_visible()
    expect(page.get_by_text("Dupont; Fils SARL")).to_be_visible()
    # "Land" is no heading Tally knows: the admin maps it to Country.
    land = page.get_by_label("Column 3: Land")
    expect(land).to_have_value("")
    land.select_option("country")
    expect(page.get_by_label("Email", exact=True)).to_be_checked()
    shoot(page, "2-mapping", js_enabled)
    page.get_by_role("button", name="Dry run").click()

    until_shown(page, "Dry run done", js_enabled)
    progress = page.locator("#import_progress")
    expect(progress).to_contain_text("1 with errors")
    row = progress.get_by_role("row").filter(has_text="Email")
    expect(row).to_contain_text("4")
    expect(row).to_contain_text("An email address must have an @-sign.")
    shoot(page, "3-dry-run", js_enabled)
    page.get_by_role("button", name="Import 2 rows").click()

    until_shown(page, "Import done", js_enabled)
    expect(progress).to_contain_text("2 customers added")
    expect(page.get_by_role("link", name="Download rejected rows (CSV)")).to_be_visible()
    shoot(page, "4-done", js_enabled)
    with live_app.app_context():
        names = db.session.scalars(select(Customer.name).order_by(Customer.id)).all()
    assert names == ["Müller Maschinenbau GmbH", "Dupont; Fils SARL"]
