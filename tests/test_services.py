"""Rules that live in webapp/services and webapp/config, tested directly."""

from __future__ import annotations

import pytest

from webapp.config import ConfigError, load_config, normalise_database_url
from webapp.models.customer import Customer, format_customer_id
from webapp.services import reference
from webapp.services.customers import CustomerError, change_status, find_duplicates
from webapp.services.search import CustomerQuery, list_customers
from webapp.services.staff import StaffError, create_staff

# -- configuration ------------------------------------------------------------


def test_embedded_default_generates_a_secret_key_once_and_keeps_it(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("TALLY_ENV", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    first = load_config(str(tmp_path))
    second = load_config(str(tmp_path))
    assert len(first["SECRET_KEY"]) == 64
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'tally.db'}"
    assert first["REDIS_URL"] is None


def test_production_without_secret_key_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("TALLY_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load_config(str(tmp_path))
    assert not (tmp_path / "secret_key").exists()


def test_background_work_settings_are_read_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("MAIL_RETRY_BACKOFF", "5, 30,120")
    monkeypatch.setenv("EXPORT_KEEP_DAYS", "3")
    config = load_config(str(tmp_path))
    assert config["MAIL_RETRY_BACKOFF"] == (5, 30, 120)
    assert config["EXPORT_KEEP_DAYS"] == 3
    assert config["EXPORT_DIR"] == str(tmp_path / "exports")
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    assert load_config(str(tmp_path))["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"

    monkeypatch.setenv("EXPORT_KEEP_DAYS", "0")
    with pytest.raises(ConfigError, match="EXPORT_KEEP_DAYS must be a whole number"):
        load_config(str(tmp_path))
    monkeypatch.delenv("EXPORT_KEEP_DAYS")
    monkeypatch.setenv("MAIL_RETRY_BACKOFF", "soon")
    with pytest.raises(ConfigError, match="MAIL_RETRY_BACKOFF must be seconds"):
        load_config(str(tmp_path))
    monkeypatch.delenv("MAIL_RETRY_BACKOFF")
    # A send still running when it is taken for lost would be sent twice.
    monkeypatch.setenv("MAIL_TIMEOUT_SECONDS", "60")
    monkeypatch.setenv("MAIL_REQUEUE_AFTER_SECONDS", "60")
    with pytest.raises(ConfigError, match="must be longer than MAIL_TIMEOUT_SECONDS"):
        load_config(str(tmp_path))


def test_production_uses_secure_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv("TALLY_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://tally.example.com/")
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["PUBLIC_BASE_URL"] == "https://tally.example.com"


def test_production_needs_the_public_address_for_links_in_emails(tmp_path, monkeypatch):
    monkeypatch.setenv("TALLY_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL is not set"):
        load_config(str(tmp_path))
    # In development the quick start's own address stands in, never 0.0.0.0.
    monkeypatch.setenv("TALLY_ENV", "development")
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "8080")
    assert load_config(str(tmp_path))["PUBLIC_BASE_URL"] == "http://127.0.0.1:8080"


def test_production_refusal_is_a_clear_message_from_the_cli(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TALLY_ENV": "production", "TALLY_INSTANCE_PATH": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg_3(given, expected):
    assert normalise_database_url(given) == expected


# -- reference data -------------------------------------------------------------


def test_countries_and_currencies_come_from_pycountry():
    assert ("DE", "Germany") in reference.countries()
    assert len(reference.countries()) > 240
    assert ("JPY", "Yen") in reference.currencies()
    assert reference.currency_for_country("DE") == "EUR"
    assert reference.currency_for_country("JP") == "JPY"
    assert reference.currency_for_country("AQ") is None


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("+44 20 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("030 1234567", "DE", "+49301234567"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("", "US", ""),
    ],
)
def test_phone_numbers_are_stored_in_e164(value, country, expected):
    assert reference.normalise_phone(value, country) == expected


@pytest.mark.parametrize("value", ["12", "abc", "+44 1", "+999 123 456 789"])
def test_bad_phone_numbers_are_refused(value):
    with pytest.raises(ValueError):
        reference.normalise_phone(value, "GB")


def test_phone_is_displayed_in_international_format():
    assert reference.display_phone("+442079460958") == "+44 20 7946 0958"


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("DE 136.695.976", "DE", "DE136695976"),
        ("136695976", "DE", "136695976"),
        ("GB 980 7806 84", "GB", "GB980780684"),
        ("12-345 678", "US", "12345678"),
        ("", "DE", ""),
    ],
)
def test_tax_ids_are_validated_and_stored_compact(value, country, expected):
    assert reference.normalise_tax_id(value, country) == expected


def test_invalid_vat_number_is_refused_naming_the_country():
    with pytest.raises(ValueError, match="not a valid VAT number for Germany"):
        reference.normalise_tax_id("DE 136 695 977", "DE")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("", 0), ("19", 1900), ("7.25", 725), ("7,5", 750), ("100", 10000), ("20 %", 2000)],
)
def test_tax_rate_is_exact_hundredths_of_a_percent(value, expected):
    assert reference.parse_tax_rate(value) == expected


@pytest.mark.parametrize("value", ["100.01", "-0.01", "1.001", "Infinity", "NaN", "1e400", "x"])
def test_bad_tax_rates_are_refused(value):
    with pytest.raises(ValueError):
        reference.parse_tax_rate(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("example.com", "https://example.com"), ("http://a.example/x", "http://a.example/x")],
)
def test_websites_are_http_or_https(value, expected):
    assert reference.normalise_website(value) == expected


@pytest.mark.parametrize("value", ["javascript:alert(1)", "ftp://example.com", "data:text/html,x"])
def test_other_schemes_are_refused(value):
    with pytest.raises(ValueError, match="Only http"):
        reference.normalise_website(value)


def test_emails_are_checked_without_dns_and_lower_cased():
    assert reference.normalise_email(" Ada@Example.COM ") == "ada@example.com"
    assert reference.normalise_email("someone@domain-that-does-not-exist.example")
    with pytest.raises(ValueError):
        reference.normalise_email("no-at-sign")


# -- customers -----------------------------------------------------------------


def test_customer_id_is_short_prefixed_and_readable(make_customer):
    customer = make_customer()
    assert customer.customer_id == format_customer_id(customer.id) == f"C-{customer.id:06d}"


def test_status_changes_are_checked(db, make_customer):
    customer = make_customer()
    change_status(db.session, customer, "suspended")
    assert db.session.get(Customer, customer.id).status == "suspended"
    with pytest.raises(CustomerError, match="already suspended"):
        change_status(db.session, customer, "suspended")
    with pytest.raises(CustomerError):
        change_status(db.session, customer, "deleted")


def test_duplicates_are_found_by_email_and_tax_id_excluding_the_customer_itself(db, make_customer):
    first = make_customer(email="same@example.com", tax_id="DE136695976")
    second = make_customer(email="same@example.com", name="Other")
    found = find_duplicates(db.session, email="same@example.com", exclude_id=first.id)
    assert [(d.field, d.customer_id) for d in found] == [("email", second.id)]
    found = find_duplicates(db.session, tax_id="DE136695976", exclude_id=second.id)
    assert [(d.field, d.customer_id) for d in found] == [("tax_id", first.id)]


def test_list_pages_never_load_more_than_a_page(db, make_customer):
    for number in range(60):
        make_customer(name=f"C{number}", email=f"c{number}@example.com")
    page = list_customers(db.session, CustomerQuery())
    assert len(page.customers) == 50 and page.has_next
    last = list_customers(db.session, CustomerQuery(**page.rows.next_args))
    assert len(last.customers) == 10 and not last.has_next


def test_query_round_trips_through_the_query_string():
    query = CustomerQuery.from_args(
        {
            "q": " ada ",
            "status": "all",
            "currency": "eur",
            "country": "de",
            "sort": "name",
            "dir": "desc",
            "after": "WyJBZGEiLDQyXQ",
            "before": "ignored when there is an after",
        }
    )
    assert query == CustomerQuery(
        q="ada",
        status="all",
        currency="EUR",
        country="DE",
        sort="name",
        direction="desc",
        after="WyJBZGEiLDQyXQ",
    )
    assert CustomerQuery.from_args(query.to_args()) == query
    assert CustomerQuery().to_args() == {}


# -- staff ---------------------------------------------------------------------


def test_staff_accounts_are_validated(db):
    create_staff(db.session, "Kim@Example.com", "Kim", "admin", "long enough password")
    with pytest.raises(StaffError, match="already exists"):
        create_staff(db.session, "kim@example.com", "Kim", "agent", "long enough password")
    with pytest.raises(StaffError, match="at least 10"):
        create_staff(db.session, "x@example.com", "X", "agent", "short")
    with pytest.raises(StaffError, match="admin or agent"):
        create_staff(db.session, "y@example.com", "Y", "owner", "long enough password")
