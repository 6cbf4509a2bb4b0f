"""The command-line contracts from DESIGN.md: staff create, demo-data, db upgrade, worker,
jobs sweep."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import make_app
from webapp.models.base import utcnow
from webapp.models.contacts import Contact
from webapp.models.customer import Customer
from webapp.models.email import Email, EmailStatus
from webapp.models.staff import Staff
from webapp.services import reference


def test_staff_create_with_password(app, db):
    result = app.test_cli_runner().invoke(
        args=[
            "staff",
            "create",
            "--email",
            "Boss@Example.com",
            "--name",
            "Boss",
            "--role",
            "admin",
            "--password",
            "a long password",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created admin boss@example.com" in result.output
    staff = db.session.scalar(select(Staff))
    assert staff.role == "admin" and staff.email == "boss@example.com"


def test_staff_create_prompts_for_the_password(app, db):
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", "a@example.com", "--name", "A"],
        input="typed password 1\ntyped password 1\n",
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Staff)).role == "agent"


def test_staff_create_reports_errors_without_a_traceback(app):
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", "bad", "--name", "A", "--password", "long password"]
    )
    assert result.exit_code != 0
    assert "Email:" in result.output and "Traceback" not in result.output


def test_ensure_admin_makes_the_first_account_only(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["staff", "ensure-admin"])
    assert "password:" in first.output
    second = runner.invoke(args=["staff", "ensure-admin"])
    assert "password:" not in second.output
    assert db.session.scalar(select(func.count(Staff.id))) == 1


def test_demo_data_adds_realistic_valid_customers(app, db):
    result = app.test_cli_runner().invoke(args=["demo-data", "--customers", "300", "--seed", "7"])
    assert result.exit_code == 0, result.output
    customers = db.session.scalars(select(Customer)).all()
    assert len(customers) == 300
    assert len({c.country for c in customers}) >= 8
    for customer in customers:
        assert customer.name and "@" in customer.email
        assert customer.country in reference.country_codes()
        assert customer.currency == reference.currency_for_country(customer.country)
        if customer.phone:
            assert reference.normalise_phone(customer.phone, None) == customer.phone
        assert customer.search_text
    statuses = {c.status for c in customers}
    assert statuses == {"active", "suspended", "archived"}
    # Most confirmed their address; some have not, for the "Email not verified" filter.
    unverified = sum(c.email_verified_at is None for c in customers)
    assert 60 <= unverified <= 120
    assert not any(c.email_undeliverable_at for c in customers)
    # Each named contact is the customer's primary contact, as Add customer makes it.
    primary = {
        contact.customer_id: contact
        for contact in db.session.scalars(select(Contact).where(Contact.is_primary.is_(True)))
    }
    assert len(primary) == 300
    for customer in customers:
        contact = primary[customer.id]
        assert contact.name == f"{customer.first_name} {customer.last_name}"
        assert contact.position == customer.position


def test_migrations_match_the_models(app):
    """`flask db check`: the migrations build exactly the tables and indexes the models
    declare, on this backend (SQLite and PostgreSQL both run this test)."""
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_worker_without_redis_says_jobs_run_in_process(app):
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output
    assert "no worker is needed" in result.output


def test_jobs_sweep_enqueues_what_waits(app, db, make_customer):
    customer = make_customer()
    db.session.add(
        Email(
            customer_id=customer.id,
            kind="invoice",
            name="Invoice INV-000001",
            recipient=customer.email,
            subject="Invoice INV-000001 from Tally",
            html_body="<p>Hi</p>",
            text_body="Hi",
            status=EmailStatus.QUEUED,
            next_attempt_at=utcnow() - timedelta(minutes=10),
        )
    )
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "sweep"])
    assert result.exit_code == 0, result.output
    assert "Enqueued 1 email(s) and 0 export(s)" in result.output
    # Jobs run at once in the tests; with no mail server the email is recorded as not sent.
    db.session.expire_all()
    assert db.session.scalars(select(Email.status)).one() == EmailStatus.NOT_SENT


def test_jobs_sweep_runs_the_jobs_itself_without_redis(app, db, database_url, instance_dir):
    """In the default mode jobs run in a thread of the web process; the command's own
    thread would die with it, so it runs them before it returns."""
    threaded = make_app(database_url, instance_dir, JOBS_INLINE="thread")
    with threaded.app_context():
        email = Email(
            kind="export_ready",
            name="Customer export ready",
            recipient="agent@example.com",
            subject="Your customer export is ready",
            html_body="<p>Hi</p>",
            text_body="Hi",
            status=EmailStatus.QUEUED,
            next_attempt_at=utcnow() - timedelta(minutes=10),
        )
        db.session.add(email)
        db.session.commit()
        email_id = email.id
        result = threaded.test_cli_runner().invoke(args=["jobs", "sweep"])
        assert result.exit_code == 0, result.output
        db.session.expire_all()
        assert db.session.get(Email, email_id).status == EmailStatus.NOT_SENT
    assert threaded.extensions["tally_jobs"].thread is None  # no thread was left behind
