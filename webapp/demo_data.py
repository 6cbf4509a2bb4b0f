"""Realistic sample customers for demos and benchmarks.

Faker builds small pools of names, companies and addresses per locale once;
customers are then combined from the pools, so a million rows take seconds
to make rather than the hours Faker would need for each one. Rows go in
with COPY on PostgreSQL and batched executemany elsewhere.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import timedelta

import phonenumbers
from faker import Faker
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.customer import Customer, CustomerStatus, InvoicingFlow
from webapp.services import settings
from webapp.services.reference import currency_for_country, fold_text
from webapp.services.search import build_search_text

# (Faker locale, country, weight): a spread of countries and currencies (JPY has no decimals).
LOCALES = [
    ("en_US", "US", 30),
    ("en_GB", "GB", 12),
    ("de_DE", "DE", 12),
    ("fr_FR", "FR", 8),
    ("es_ES", "ES", 5),
    ("it_IT", "IT", 5),
    ("nl_NL", "NL", 4),
    ("sv_SE", "SE", 3),
    ("pl_PL", "PL", 3),
    ("en_CA", "CA", 4),
    ("en_AU", "AU", 4),
    ("ja_JP", "JP", 3),
    ("pt_BR", "BR", 3),
    ("de_CH", "CH", 2),
    ("da_DK", "DK", 2),
]
# Tax rates in hundredths of a percent; 0 twice as often as the others.
TAX_RATES = (0, 0, 700, 1900, 2000, 2100)
POOL_SIZE = 400
BATCH_SIZE = 5000
COLUMNS = [column.name for column in Customer.__table__.columns if column.name != "id"]


class _Pool:
    def __init__(self, locale: str, country: str, seed: int) -> None:
        fake = Faker(locale)
        fake.seed_instance(seed)
        self.country = country
        self.currency = currency_for_country(country) or "USD"
        self.first_names = [fake.first_name() for _ in range(POOL_SIZE)]
        self.last_names = [fake.last_name() for _ in range(POOL_SIZE)]
        self.companies = [fake.company() for _ in range(POOL_SIZE)]
        self.streets = [fake.street_address() for _ in range(POOL_SIZE)]
        self.cities = [fake.city() for _ in range(POOL_SIZE)]
        self.postcodes = [fake.postcode() for _ in range(POOL_SIZE)]
        self.jobs = [fake.job()[:100] for _ in range(60)]
        self.domains = [fake.free_email_domain() for _ in range(8)]
        example = phonenumbers.example_number_for_type(
            country, phonenumbers.PhoneNumberType.FIXED_LINE
        ) or phonenumbers.example_number(country)
        mobile = (
            phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
            or example
        )
        self.phone_stem = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        self.mobile_stem = phonenumbers.format_number(mobile, phonenumbers.PhoneNumberFormat.E164)


def _ascii_slug(text: str) -> str:
    return "".join(ch for ch in fold_text(text) if ch.isalnum())


def _randomise(stem: str, rng: random.Random) -> str:
    """Vary the last four digits of a valid example number."""
    return stem[:-4] + f"{rng.randrange(10_000):04d}"


def generate_customers(count: int, seed: int | None = None) -> Iterator[dict]:
    """Yield ``count`` realistic customer rows (dicts of column values)."""
    rng = random.Random(seed)
    pools = [_Pool(locale, country, rng.randrange(1 << 30)) for locale, country, _ in LOCALES]
    weights = [weight for _, _, weight in LOCALES]
    now = utcnow()
    start = now - timedelta(days=5 * 365)
    step = (now - start) / max(count, 1)
    statuses = [CustomerStatus.ACTIVE] * 85 + [CustomerStatus.SUSPENDED] * 8
    statuses += [CustomerStatus.ARCHIVED] * 7
    scratch = Customer()
    for index in range(count):
        pool = rng.choices(pools, weights)[0]
        first = rng.choice(pool.first_names)
        last = rng.choice(pool.last_names)
        business = rng.random() < 0.6
        company = rng.choice(pool.companies) if business else ""
        name = company if business else f"{first} {last}"
        email_user = f"{_ascii_slug(first)}.{_ascii_slug(last)}{rng.randrange(1000)}"
        domain = (
            f"{_ascii_slug(company)[:20] or 'mail'}.example"
            if business
            else rng.choice(pool.domains)
        )
        created = start + step * index + timedelta(seconds=rng.randrange(60))
        row = {
            "name": name,
            "company": company,
            "first_name": first,
            "last_name": last,
            "email": f"{email_user}@{domain}",
            "phone": _randomise(pool.phone_stem, rng) if rng.random() < 0.7 else "",
            "mobile": _randomise(pool.mobile_stem, rng) if rng.random() < 0.5 else "",
            "fax": "",
            "position": rng.choice(pool.jobs) if business else "",
            "website": f"https://{domain}" if business else "",
            "country": pool.country,
            "currency": pool.currency,
            "address_line1": rng.choice(pool.streets),
            "address_line2": "",
            "city": rng.choice(pool.cities),
            "region": "",
            "postal_code": rng.choice(pool.postcodes),
            "tax_id": "",
            "tax_rate_bp": rng.choice(TAX_RATES),
            "payment_terms_days": rng.choice((0, 14, 30, 30, 30, 60)),
            "invoicing_flow": InvoicingFlow.AUTOMATIC.value,
            "auto_pay": rng.random() < 0.3,
            "do_not_remind": False,
            "footnotes": "",
            "status": rng.choice(statuses).value,
            "payment_gateway": "card_refunds_only" if rng.random() < 0.2 else "manual",
            "balance_minor": 0,
            "owes_any": False,
            "credit_any": False,
            "other_currencies": 0,
            "personal_data_cleared_at": None,
            # Seven in ten confirmed their address (Verify email), three have not yet.
            "email_verified_at": created if index % 10 < 7 else None,
            "email_undeliverable_at": None,
            "email_undeliverable_reason": "",
            "external_id": None,
            "version": 1,
            "created_at": created,
            "updated_at": created,
        }
        for key in (
            "name",
            "company",
            "first_name",
            "last_name",
            "email",
            "tax_id",
            "phone",
            "mobile",
        ):
            setattr(scratch, key, row[key])
        row["search_text"] = build_search_text(scratch)
        yield row


def insert_demo_customers(
    session: Session,
    count: int,
    seed: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> None:
    """Insert ``count`` demo customers with primary contacts and billing addresses, committing
    in batches."""
    # Looked up before the rows stream: during COPY the connection can run nothing else.
    entity_id = settings.default_legal_entity(session).id
    class_ids = {rate: settings.tax_class_for_rate(session, rate).id for rate in set(TAX_RATES)}
    session.commit()

    def placed(row: dict) -> dict:
        row["tax_class_id"] = class_ids[row["tax_rate_bp"]]
        row["legal_entity_id"] = entity_id
        return row

    rows = (placed(row) for row in generate_customers(count, seed))
    if session.get_bind().dialect.name == "postgresql":
        _copy_postgresql(session, rows, progress)
    else:
        _insert_batches(session, rows, progress)
    _add_primary_contacts(session)
    _add_billing_addresses(session)


def _add_primary_contacts(session: Session) -> None:
    """The contact named on each new customer becomes its primary contact (a record of the
    Contacts tab, as Add customer makes it); the customer row holds its copy already."""
    session.execute(
        text(
            "INSERT INTO contacts (customer_id, name, email, phone, position, is_primary,"
            " wants_billing, wants_updates, wants_legal, created_at, version)"
            " SELECT c.id, TRIM(c.first_name || ' ' || c.last_name), '', '', c.position, :yes,"
            " :no, :no, :no, c.created_at, 1 FROM customers c"
            " WHERE (c.first_name <> '' OR c.last_name <> '') AND NOT EXISTS"
            " (SELECT 1 FROM contacts p WHERE p.customer_id = c.id)"
        ),
        {"yes": True, "no": False},
    )
    session.commit()


def _add_billing_addresses(session: Session) -> None:
    """The address on each new customer becomes its billing address."""
    session.execute(
        text(
            "INSERT INTO addresses (customer_id, label, line1, line2, city, region,"
            " postal_code, country, is_billing, created_at)"
            " SELECT c.id, 'Billing', c.address_line1, c.address_line2, c.city, c.region,"
            " c.postal_code, c.country, :yes, c.created_at FROM customers c"
            " WHERE c.address_line1 <> '' AND NOT EXISTS"
            " (SELECT 1 FROM addresses a WHERE a.customer_id = c.id)"
        ),
        {"yes": True},
    )
    session.commit()


def _insert_batches(session: Session, rows: Iterator[dict], progress) -> None:
    statement = insert(Customer.__table__)
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_SIZE:
            session.execute(statement, batch)
            session.commit()
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        session.execute(statement, batch)
        session.commit()
        if progress:
            progress(len(batch))
    session.execute(text("ANALYZE customers"))  # fresh planner statistics for the new rows
    session.commit()


def _copy_postgresql(session: Session, rows: Iterator[dict], progress) -> None:
    connection = session.connection().connection.driver_connection
    done = 0
    command = f"COPY customers ({', '.join(COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(command) as copy:
        for row in rows:
            copy.write_row([row[column] for column in COLUMNS])
            done += 1
            if progress and done % BATCH_SIZE == 0:
                progress(BATCH_SIZE)
    session.commit()
    if progress and done % BATCH_SIZE:
        progress(done % BATCH_SIZE)
    session.execute(text("ANALYZE customers"))
    session.commit()
