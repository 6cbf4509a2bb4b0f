"""Shared fixtures: the app on SQLite and on PostgreSQL, a signed-in client, CSRF.

Each backend's database is created and migrated once per run with the real
Alembic migrations (so the migrations are tested on both), then emptied
after every test. PostgreSQL comes from TEST_DATABASE_URL (scripts/test sets
it); without it the PostgreSQL half fails loudly rather than skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from aiosmtpd.controller import Controller
from flask import g
from flask_migrate import upgrade
from sqlalchemy import text

from tests.waiting import wait_for
from webapp import create_app
from webapp.extensions import db as _db
from webapp.services.staff import create_staff

BACKENDS = ["sqlite", "postgresql"]
PASSWORD = "correct horse battery"
# A cheap password hash for the tests only (webapp.config PASSWORD_HASH_METHOD).
TEST_PASSWORD_HASH = "pbkdf2:sha256:1000"


def _admin_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL database for this run, dropped at the end."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.fail("TEST_DATABASE_URL is not set: run the suite with scripts/test")
    name = f"tally_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_url(base), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(base)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(_admin_url(base), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("instance")
    os.environ["TALLY_INSTANCE_PATH"] = str(path)
    return path


_migrated: set[str] = set()


def make_app(database_url: str, instance_dir: Path, **config):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-" + secrets.token_hex(8),
            "SERVER_NAME": None,
            # Jobs run right after the commit that caused them, and nothing from a
            # developer's .env reaches a test: no Redis, no mail server unless asked.
            "JOBS_INLINE": "sync",
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            # scrypt costs most of a second per staff account; production keeps it.
            "PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH,
            **config,
        }
    )
    if database_url not in _migrated:
        with app.app_context():
            upgrade()
        _migrated.add(database_url)
    return app


def empty_database(app) -> None:
    """Delete every row of every table (children first) so each test starts clean."""
    with app.app_context():
        engine = _db.engine
        tables = [table.name for table in reversed(_db.metadata.sorted_tables)]
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                joined = ", ".join(f'"{name}"' for name in tables)
                connection.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    connection.execute(text(f'DELETE FROM "{name}"'))
                # AUTOINCREMENT tables (customers) count on from here otherwise.
                connection.execute(text("DELETE FROM sqlite_sequence"))
        _db.session.remove()
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, request, instance_dir, tmp_path_factory) -> str:
    if backend == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path_factory.getbasetemp() / 'tally-test.db'}"


def _fresh_request_globals() -> None:
    """Tests hold one app context open so they can use the session directly; a request
    then reuses that context, so clear ``g`` (the signed-in user, the CSRF token) first,
    as a real server's fresh context per request would.

    The session stays too. A read-only page (webapp.read_only) leaves its connection in
    autocommit, which a server's end of request undoes by returning it to the pool; here
    the next request would write in autocommit, and a rollback would undo nothing. So a
    session on such a connection ends its (empty) transaction first, handing the
    connection back; the test's objects stay in the session."""
    g.__dict__.clear()
    session = _db.session()
    if session.in_transaction():
        connection = session.connection()
        if connection.get_isolation_level() == "AUTOCOMMIT" or (
            connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        ):
            session.commit()


@pytest.fixture
def app(database_url, instance_dir):
    app = make_app(database_url, instance_dir)
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_globals)
    with app.app_context():
        yield app
    empty_database(app)


@pytest.fixture
def db(app):
    """The Flask-SQLAlchemy handle, inside an app context."""
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


class StaffClient:
    """A test client signed in as a staff member; ``post`` adds the CSRF token."""

    def __init__(self, client, staff):
        self.client = client
        self.staff = staff
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            self._token = csrf_token_from(self.client.get("/customers").get_data(as_text=True))
        return self._token

    def get(self, url, htmx_target: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if htmx_target is not None:
            headers = {"HX-Request": "true", "HX-Target": htmx_target, **headers}
        return self.client.get(url, headers=headers, **kwargs)

    def post(self, url, data=None, htmx_target: str | None = None, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token())
        headers = kwargs.pop("headers", {})
        if htmx_target is not None:
            headers = {"HX-Request": "true", "HX-Target": htmx_target, **headers}
        return self.client.post(url, data=data, headers=headers, **kwargs)


def sign_in(client, email: str, password: str = PASSWORD, address: str = "127.0.0.1"):
    page = client.get("/sign-in").get_data(as_text=True)
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": csrf_token_from(page)},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def make_staff(db):
    def _make(email="agent@example.com", name="Alex Agent", role="agent", password=PASSWORD):
        return create_staff(db.session, email, name, role, password)

    return _make


@pytest.fixture
def staff_client(client, make_staff) -> StaffClient:
    staff = make_staff()
    response = sign_in(client, staff.email)
    assert response.status_code == 303
    return StaffClient(client, staff)


@pytest.fixture
def admin(make_staff):
    """An admin account (``staff_client`` is an agent)."""
    return make_staff(email="admin@example.com", name="Ada Admin", role="admin")


@pytest.fixture
def admin_client(app, admin) -> StaffClient:
    """A second test client, signed in as ``admin``."""
    client = app.test_client()
    assert sign_in(client, admin.email).status_code == 303
    return StaffClient(client, admin)


# -- the customer area: accounts and a signed-in customer ------------------------------


def sign_in_customer(client, email: str, password: str = PASSWORD, address: str = "127.0.0.1"):
    """POST the customer Sign in form (with its CSRF token); returns the response."""
    page = client.get("/account/sign-in").get_data(as_text=True)
    return client.post(
        "/account/sign-in",
        data={"email": email, "password": password, "csrf_token": csrf_token_from(page)},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def customer_account(db):
    """A factory: an active customer-area account with a password for ``customer_id``
    (signs in with the customer's email unless ``email`` is given)."""
    from webapp.models.base import utcnow
    from webapp.models.customer import Customer
    from webapp.models.customer_account import CustomerAccount
    from webapp.services.staff import hash_password

    def _make(customer_id: int, password: str = PASSWORD, email: str | None = None, **fields):
        customer = db.session.get(Customer, customer_id)
        account = CustomerAccount(
            customer_id=customer_id,
            email=(email or customer.email).strip().lower(),
            password_hash=hash_password(password),
            password_set_at=utcnow(),
            must_change_password=False,
            **fields,
        )
        db.session.add(account)
        db.session.commit()
        return account

    return _make


class CustomerClient:
    """A test client signed in to the customer area; ``post`` adds the CSRF token."""

    def __init__(self, client, account, token: str):
        self.client = client
        self.account = account
        self._token = token

    def token(self) -> str:
        return self._token

    def get(self, url, htmx_target: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if htmx_target is not None:
            headers = {"HX-Request": "true", "HX-Target": htmx_target, **headers}
        return self.client.get(url, headers=headers, **kwargs)

    def post(self, url, data=None, htmx_target: str | None = None, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self._token)
        headers = kwargs.pop("headers", {})
        if htmx_target is not None:
            headers = {"HX-Request": "true", "HX-Target": htmx_target, **headers}
        return self.client.post(url, data=data, headers=headers, **kwargs)


def customer_client_for(app, account, password: str = PASSWORD) -> CustomerClient:
    """A new test client signed in as ``account`` (a second customer, say)."""
    client = app.test_client()
    page = client.get("/account/sign-in").get_data(as_text=True)
    token = csrf_token_from(page)
    response = client.post(
        "/account/sign-in",
        data={"email": account.email, "password": password, "csrf_token": token},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return CustomerClient(client, account, token)


@pytest.fixture
def customer_client(app, make_customer, customer_account) -> CustomerClient:
    """A test client signed in to the customer area as the customer "Ada Lovelace"
    (ada@example.com, GBP); ``customer_client.account.customer_id`` is its customer."""
    customer = make_customer()
    account = customer_account(customer.id)
    return customer_client_for(app, account)


VALID_CUSTOMER = {
    "name": "Ada Lovelace",
    "company": "Analytical Engines Ltd",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0958",
    "mobile": "",
    "fax": "",
    "position": "Director",
    "website": "https://example.com",
    "country": "GB",
    "currency": "",
    "address_line1": "12 Byron Street",
    "address_line2": "",
    "city": "London",
    "region": "",
    "postal_code": "W1 1AA",
    "tax_id": "",
    # tax_class_id and legal_entity_id come from the database: see customer_data.
    "payment_terms_days": "30",
    "invoicing_flow": "automatic",
    "footnotes": "",
}


@pytest.fixture
def customer_data(db):
    """A valid Add customer form: in a 20 % tax class, billed by the default entity."""
    from webapp.services import settings

    tax_class = settings.tax_class_for_rate(db.session, 2000)
    entity = settings.default_legal_entity(db.session)
    ids = {"tax_class_id": str(tax_class.id), "legal_entity_id": str(entity.id)}
    db.session.commit()
    return {**VALID_CUSTOMER, **ids}


@pytest.fixture
def make_customer(db):
    from webapp.services.customers import create_customer

    def _make(**fields):
        values = {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "country": "GB",
            "currency": "GBP",
            **fields,
        }
        return create_customer(db.session, values)

    return _make


@pytest.fixture
def euro_customer(make_customer):
    """A German customer billed in EUR at 19 % tax, Net 14: the money tests' usual one."""
    return make_customer(
        name="Euro Customer",
        email="euro@example.com",
        country="DE",
        currency="EUR",
        tax_rate_bp=1900,
        payment_terms_days=14,
    )


# -- real services on loopback: SMTP (aiosmtpd) and Redis (redis-server) ------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a loopback port that keeps what it receives.

    ``stop()`` and ``start()`` take it down and bring it back on the same port, for
    tests of delivery while the mail server is unreachable. ``hold()`` keeps each
    message's DATA phase waiting (``holding`` is set once one arrives) until
    ``release()``: a send that lasts as long as a test needs.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.rcpt_reply: str | None = None
        self._controller: Controller | None = None
        self.holding = threading.Event()
        self._released = threading.Event()
        self._released.set()

    def hold(self) -> None:
        self._released.clear()

    def refuse_recipients(self, reply: str | None) -> None:
        """Answer every RCPT TO with ``reply`` (e.g. "550 5.1.1 No such user"); None accepts."""
        self.rcpt_reply = reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def release(self) -> None:
        self._released.set()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        if not self._released.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self._released.wait)
        message = message_from_bytes(envelope.content, policy=email_policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        self.release()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def config(self) -> dict:
        """The app settings that deliver to this server."""
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port, "MAIL_USE_TLS": False}

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if address in message["X-Envelope-To"]]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_app(app, database_url, instance_dir, smtp):
    """The app configured to deliver to the ``smtp`` fixture. Flask-Mail copies
    MAIL_SERVER and MAIL_PORT when it is initialised, so setting them on a running
    app does not move delivery: this is a new app on the same database."""
    mail_app = make_app(database_url, instance_dir, **smtp.config())
    mail_app.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_globals)
    with mail_app.app_context():
        yield mail_app
        _db.session.remove()
        _db.engine.dispose()


class RedisServer:
    """A throwaway redis-server on a loopback port (no persistence), stoppable."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run the suite with scripts/test")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers() -> bool:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return True
            return False

        wait_for(answers, f"redis-server to start on port {self.port}", 10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
