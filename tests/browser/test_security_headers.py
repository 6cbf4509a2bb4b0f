"""The panel under its Content-Security-Policy, in Chromium with JavaScript on.

A staff member walks the main flows (search as they type, the Add customer and Capture
one time charge dialogs, tabs, Copy on the payment link, an email's body in its frame,
an export's progress) and after every step the page must have reported no CSP
violation: the policy forbids inline script and style and eval, so anything in the
panel that relied on them would show up here (and stop working for real users).

Then the clickjacking case from the issue: a page served from another port of the
same host frames a panel Confirm page (Deactivate a staff member) for a signed-in
admin. The frame must stay empty and nothing may change.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from tests.browser.conftest import JS_ON_ONLY, sign_in
from tests.browser.test_billing import CAPTURE, open_tab
from tests.browser.test_exports import ready_email_status
from tests.browser.test_panel import assert_not_reloaded, mark_window, open_actions, results
from tests.waiting import wait_for
from webapp.extensions import db
from webapp.models.email import EmailStatus
from webapp.models.staff import Staff
from webapp.services.staff import create_staff

pytestmark = [pytest.mark.browser, JS_ON_ONLY]

# Runs in every document before the page's own scripts: each violation the page reports
# is kept in window.cspViolations (a fresh array per document, so checked per step).
COLLECT_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.cspViolations.push(
    event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
    " at " + event.sourceFile + ":" + event.lineNumber
  );
}, true);
"""


class CspWatch:
    """Violations a page reports, by event and on the console (the console also keeps
    those of a document the page has since navigated away from)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def assert_enforced(self) -> None:
        """The page is under a policy that refuses inline script, and this watcher sees
        the refusal both ways (so an empty list later means "none", not "not watching")."""
        ran = self.page.evaluate(
            """() => {
              const script = document.createElement("script");
              script.textContent = "window.inlineScriptRan = true";
              document.body.appendChild(script);
              script.remove();
              return window.inlineScriptRan === true;
            }"""
        )
        assert not ran, "an inline script ran: the page is not under the policy"
        self.page.wait_for_function("window.cspViolations.length > 0")
        assert any("inline" in text for text in self.console), self.console
        self.page.evaluate("window.cspViolations = []")
        self.console.clear()

    def assert_none(self, step: str) -> None:
        reported = self.page.evaluate("window.cspViolations || []")
        assert reported == [], f"{step}: the page reported CSP violations {reported}"
        assert self.console == [], f"{step}: CSP messages on the console {self.console}"


@pytest.fixture
def csp(context: BrowserContext, page: Page) -> CspWatch:
    context.add_init_script(COLLECT_VIOLATIONS)
    return CspWatch(page)


def test_main_flows_run_without_any_csp_violation(
    csp, page, context, live_server, live_app, admin, add_customer
):
    add_customer(name="Ada Lovelace", email="ada@example.com", country="DE", currency="EUR")
    add_customer(name="Grace Hopper", email="grace@navy.example", country="US", currency="USD")
    # 127.0.0.1 is a secure context, so Copy may use navigator.clipboard.
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)

    page.goto("/sign-in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    csp.assert_enforced()
    csp.assert_none("the Sign in page")
    sign_in(page, admin.email)
    expect(page.get_by_role("heading", name="Customers", level=1)).to_be_visible()
    csp.assert_none("the customer list")

    # -- search as you type: htmx swaps just the table --------------------------------
    mark_window(page)
    page.get_by_role("searchbox", name="Search").press_sequentially("hopper")
    expect(page).to_have_url(re.compile(r"[?&]q=hopper(&|$)"))
    expect(results(page).get_by_role("link", name="Grace Hopper")).to_be_visible()
    expect(results(page).get_by_role("link", name="Ada Lovelace")).to_have_count(0)
    assert_not_reloaded(page)
    csp.assert_none("typing in the search box")
    page.go_back()
    expect(results(page).get_by_role("link", name="Ada Lovelace")).to_be_visible()
    csp.assert_none("back to the full list")

    # -- the Add customer dialog --------------------------------------------------------
    page.get_by_role("button", name="Add customer").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Add customer")).to_be_visible()
    csp.assert_none("the Add customer dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    csp.assert_none("closing the dialog")

    # -- the customer page, Capture one time charge, tabs --------------------------------
    results(page).get_by_role("link", name="Ada Lovelace").click()
    expect(page.locator(".customer-header h1")).to_have_text("Ada Lovelace")
    csp.assert_none("the customer page")
    csp.assert_enforced()
    mark_window(page)
    open_actions(page, CAPTURE)
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=CAPTURE)).to_be_visible()
    csp.assert_none("the Capture one time charge dialog")
    dialog.get_by_label("Amount").fill("100")
    dialog.get_by_label("Description").fill("Onboarding workshop")
    dialog.get_by_role("button", name=CAPTURE, exact=True).click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("#toasts")).to_contain_text("Invoice INV-000001 for €100.00 created.")
    csp.assert_none("capturing a charge")
    open_tab(page, "Invoices")
    expect(page.locator("table.invoices")).to_contain_text("INV-000001")
    csp.assert_none("the Invoices tab")
    for tab in ("Notes", "History", "Billing"):
        open_tab(page, tab)
        csp.assert_none(f"the {tab} tab")
    assert_not_reloaded(page)

    # -- Generate link and Copy ---------------------------------------------------------
    section = page.locator("section#payment_link")
    section.get_by_role("button", name="Generate link").click()
    field = page.locator("#payment-link-url")
    expect(field).to_be_visible()
    section.get_by_role("button", name="Copy", exact=True).click()
    expect(section.locator(".copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == field.input_value()
    csp.assert_none("Copy on the payment link")

    # -- an email as sent: its body in the sandboxed frame -------------------------------
    open_tab(page, "Emails")
    page.locator("#customer_tab").get_by_role("link", name="Invoice INV-000001").first.click()
    expect(page.get_by_role("heading", name="Invoice INV-000001", level=1)).to_be_visible()
    body = page.frame_locator("iframe.email-body")
    expect(body.locator("body")).to_contain_text("Onboarding workshop")
    csp.assert_none("an email's body in its frame")

    # -- Export, with its progress polling on the list ----------------------------------
    page.goto("/customers")
    page.get_by_role("button", name="Export", exact=True).click()
    expect(page.locator("#export_progress")).to_contain_text("Export ready", timeout=15_000)
    csp.assert_none("the export progress")
    page.locator("header").get_by_role("link", name="Exports", exact=True).click()
    expect(page.get_by_role("heading", name="Exports", level=1)).to_be_visible()
    csp.assert_none("the Exports page")
    # No job of this test may still run when the database is emptied after it.
    wait_for(
        lambda: ready_email_status(live_app) == EmailStatus.NOT_SENT,
        "the export-ready email to be recorded",
        10,
    )


# -- framing from another port of the same host -----------------------------------------


@pytest.fixture
def framing_site(live_server) -> Iterator[tuple[str, list[str]]]:
    """A second loopback server (another port, so the same site for cookies) whose one
    page frames the panel URL named in its query string; yields its base URL and
    the panel URLs it framed."""
    framed: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path, _, frame = self.path.partition("?frame=")
            if path != "/":  # the browser's /favicon.ico
                self.send_error(404)
                return
            target = live_server + frame
            framed.append(target)
            html = (
                "<!doctype html><title>Win a prize</title><h1>Click the red button</h1>"
                f'<iframe id="victim" src="{target}" width="800" height="600" '
                "onload=\"document.body.dataset.frameLoaded = 'yes'\"></iframe>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="framing-site", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", framed
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_another_port_cannot_frame_a_confirm_page(page, admin, live_app, live_server, framing_site):
    with live_app.app_context():
        target = create_staff(db.session, "tess@example.com", "Tess Target", "agent", "x" * 12)
        target_id = target.id
    page.goto("/sign-in")
    sign_in(page, admin.email)
    expect(page.get_by_role("heading", name="Customers", level=1)).to_be_visible()
    # Signed in, the Confirm page opens normally in the panel's own window.
    page.goto(f"/staff/{target_id}/deactivate")
    expect(page.get_by_role("button", name="Deactivate")).to_be_visible()

    site, framed = framing_site
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{site}/?frame=/staff/{target_id}/deactivate")
    assert framed == [f"{live_server}/staff/{target_id}/deactivate"]
    # The frame has finished (its load event fired) and shows nothing of the panel.
    expect(page.locator("body")).to_have_attribute("data-frame-loaded", "yes")
    victim = page.frame_locator("#victim")
    expect(victim.get_by_role("button", name="Deactivate")).to_have_count(0)
    expect(victim.locator("body")).not_to_contain_text("Tess Target")
    frame = next(f for f in page.frames if f.parent_frame is not None)
    assert "Tess Target" not in frame.content()
    assert any("frame-ancestors" in text for text in console), console

    with live_app.app_context():
        assert db.session.scalar(select(Staff.active).where(Staff.id == target_id)) is True
