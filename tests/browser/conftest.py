"""Browser fixtures: the app on a live server, and headless Chromium with JS on and off.

The app runs on a SQLite file database (migrated with the real migrations)
behind werkzeug's threaded server on a free loopback port, once per run; its jobs
run in a background thread of that server (JOBS_INLINE="thread").
Every test gets a fresh browser context, once with JavaScript enabled
("js-on") and once without ("js-off"), and the database is emptied after it.
Chromium is the system one (/usr/bin/chromium); nothing is downloaded.
Every page a test opens is checked with axe-core as the test goes (see
accessibility.py): a serious or critical WCAG 2.1 A/AA violation fails the test.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.browser.accessibility import AccessibilityWatch
from tests.conftest import PASSWORD, empty_database, make_app
from webapp.extensions import db
from webapp.services.customers import create_customer
from webapp.services.staff import create_staff

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Auto-waiting assertions and actions give up after this long: the app answers in
# milliseconds, and the axe-core check of what appeared (accessibility.py), which runs
# before an action or assertion, takes a fraction of a second more.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so the page fixture can see a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a test that passed, check what its pages show last and fail it with every
    serious or critical accessibility violation its pages showed."""
    result = yield
    watch = getattr(item, "accessibility_watch", None)
    if watch is not None:
        watch.finish()
    return result


# -- the live server -----------------------------------------------------------


@pytest.fixture(scope="session")
def live_app(instance_dir, tmp_path_factory):
    """The app on its own SQLite file; no app context is left open while it serves.
    Jobs (exports, emails) run in a background thread of the server, as in the embedded
    default, so a page shows work in progress rather than work done before it answered."""
    database = tmp_path_factory.mktemp("browser") / "tally-browser.db"
    return make_app(f"sqlite:///{database}", instance_dir, JOBS_INLINE="thread")


class QuietRequestHandler(WSGIRequestHandler):
    """No access log: a failing test's output should show the failure, not every GET."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Serve ``app`` with werkzeug in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def live_server(live_app) -> Iterator[str]:
    """The base URL of the app served by werkzeug in a background thread."""
    with serving(live_app) as url:
        yield url


@pytest.fixture(autouse=True)
def _empty_database_after_test(live_app) -> Iterator[None]:
    """Set up first, so it runs last: after the browser context has closed."""
    yield
    empty_database(live_app)


# -- data ------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffMember:
    email: str
    name: str
    password: str = PASSWORD


@dataclass(frozen=True)
class CustomerRow:
    id: int
    customer_id: str
    name: str


@pytest.fixture
def staff(live_app) -> StaffMember:
    """A staff member (agent) who can sign in."""
    with live_app.app_context():
        member = create_staff(db.session, "agent@example.com", "Alex Agent", "agent", PASSWORD)
        return StaffMember(email=member.email, name=member.name)


@pytest.fixture
def add_customer(live_app) -> Callable[..., CustomerRow]:
    """Create a customer through the service, as if added earlier."""

    def _add(**fields) -> CustomerRow:
        values = {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "country": "GB",
            "currency": "GBP",
            **fields,
        }
        with live_app.app_context():
            customer = create_customer(db.session, values)
            return CustomerRow(customer.id, customer.customer_id, customer.name)

    return _add


# -- the browser -----------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for all browser tests. Package scope, not session: while the sync
    Playwright runs, its event loop counts as running in this thread, so a later test
    calling asyncio.run() would fail; it is stopped when the browser tests are done."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(params=[True, False], ids=["js-on", "js-off"])
def js_enabled(request) -> bool:
    """Each browser test runs with JavaScript on and off; override with JS_ON_ONLY."""
    return request.param


JS_ON_ONLY = pytest.mark.parametrize("js_enabled", [True], ids=["js-on"])


@pytest.fixture
def accessibility(request, live_server) -> AccessibilityWatch:
    """Checks every page of Tally (the live server) in the test's contexts with axe-core;
    a test that opens its own context passes it to ``accessibility.watch_context``."""
    watch = AccessibilityWatch(live_server)
    request.node.accessibility_watch = watch
    return watch


def _new_context(browser, live_server, js_enabled, accessibility) -> BrowserContext:
    context = browser.new_context(
        base_url=live_server, java_script_enabled=js_enabled, locale="en-GB"
    )
    # Fail in seconds, not the default 30.
    context.set_default_timeout(TIMEOUT_MS)
    accessibility.watch_context(context)
    return context


@pytest.fixture
def context(browser, live_server, js_enabled, accessibility) -> Iterator[BrowserContext]:
    context = _new_context(browser, live_server, js_enabled, accessibility)
    yield context
    context.close()


@pytest.fixture
def customer_context(browser, live_server, js_enabled, accessibility) -> Iterator[BrowserContext]:
    """The customer's own browser beside staff's: no cookies, the same JavaScript setting."""
    context = _new_context(browser, live_server, js_enabled, accessibility)
    yield context
    context.close()


@pytest.fixture
def page(context, request) -> Iterator[Page]:
    """A tab in the test's context; on failure a screenshot goes to test-artifacts/."""
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        artifacts = request.config.rootpath / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        # A screenshot that cannot be taken must never hide the real failure.
        with contextlib.suppress(Exception):
            page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fill and submit the real Sign in form (the page must show it)."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _signed_in(page: Page, member: StaffMember) -> Page:
    page.goto("/sign-in")
    sign_in(page, member.email)
    expect(page.get_by_role("heading", name="Customers", level=1)).to_be_visible()
    return page


@pytest.fixture
def signed_in_page(page, staff) -> Page:
    """A page signed in as ``staff`` (an agent), showing the customer list."""
    return _signed_in(page, staff)


@pytest.fixture
def admin(live_app) -> StaffMember:
    """An admin who can sign in (``staff`` is an agent)."""
    with live_app.app_context():
        member = create_staff(db.session, "admin@example.com", "Ada Admin", "admin", PASSWORD)
        return StaffMember(email=member.email, name=member.name)


@pytest.fixture
def admin_page(page, admin) -> Page:
    """A page signed in as ``admin``, showing the customer list."""
    return _signed_in(page, admin)
