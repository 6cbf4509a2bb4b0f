"""Receivables aging benchmark: the report's first page at 1,000,000 customers.

Builds (or reuses) the PostgreSQL database ``tally_bench_aging``: migrated with the
app's own migrations, then filled by SQL (generate_series, a few statements, no ORM):

- 1,000,000 customers (EUR 60 %, USD 25 %, GBP 10 %, JPY 5 %);
- 2,000,000 invoices, two per customer, due from 210 days ago to 30 days ahead: 70 %
  paid, 5 % void, 25 % open (about 500,000 open invoices, in about 440,000 customers);
- 5,000,000 ledger entries: a charge per invoice, a payment per paid one, a reversal per
  void one, and 1,500,000 credits and adjustments of no invoice;
- a staff account to sign in with.

Balances (customer_balances, the list's balance columns) are not written: the report
does not read them. It signs in through the Flask test client and measures the wall time
of whole requests through the WSGI app (routing, queries, template rendering; no
network), p50 and p95 over N requests per case: the first page of the report (the
chosen currency's totals and its first 50 customers) in every sort, the htmx fragment,
another currency, a later page, and the CSV of one currency (once, not a target).

    .venv/bin/python benchmarks/bench_aging.py                 # full scale
    .venv/bin/python benchmarks/bench_aging.py --customers 20000 --requests 30
    .venv/bin/python benchmarks/bench_aging.py --fresh         # rebuild the data

Other scales get their own database (``tally_bench_aging_20000``). The table is
printed and written to ``benchmarks/results/bench_aging.md``. Exit status 1 when a
p95 misses the target.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from flask_migrate import upgrade
from sqlalchemy import text

from webapp import create_app
from webapp.config import normalise_database_url
from webapp.extensions import db
from webapp.services import receivables, settings
from webapp.services.staff import create_staff, find_staff_by_email

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REPORT = RESULTS / "bench_aging.md"
CUSTOMERS = 1_000_000
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tally_bench_aging"
STAFF_EMAIL = "bench@example.com"
STAFF_PASSWORD = "bench-password-123"
TARGET_MS = 200.0
WARMUP = 3
HTMX = {"HX-Request": "true", "HX-Target": "aging", "HX-Current-URL": "http://localhost/"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the data

FIRST = ["Ada", "Ben", "Chloé", "Dmitri", "Eva", "Farah", "Goran", "Hana", "Ivo", "Jun"]
LAST = ["Lovelace", "Okafor", "Müller", "Ivanova", "Rossi", "Haddad", "Kim", "Novak", "Silva"]

# :n is the number of customers; the invoices, entries and their statuses follow from it.
FILL_SQL = [
    (
        "customers",
        "INSERT INTO customers (id, name, company, first_name, last_name, email, phone,"
        " mobile, fax, position, website, country, currency, address_line1, address_line2,"
        " city, region, postal_code, tax_id, tax_rate_bp, payment_terms_days, invoicing_flow,"
        " auto_pay, footnotes, status, search_text, created_at, updated_at, legal_entity_id,"
        " tax_class_id)"
        " SELECT g, f.first || ' ' || l.last || ' ' || g, '', f.first, l.last,"
        " 'c' || g || '@example.com', '', '', '', '', '', 'DE',"
        " CASE WHEN g % 20 < 12 THEN 'EUR' WHEN g % 20 < 17 THEN 'USD'"
        "      WHEN g % 20 < 19 THEN 'GBP' ELSE 'JPY' END,"
        " '', '', '', '', '', '', 0, 30, 'automatic', false, '', 'active',"
        " lower(f.first || ' ' || l.last || ' c' || g || '@example.com'),"
        " now() - g * interval '1 minute', now(), :entity, :tax_class"
        " FROM generate_series(1, :n) g"
        " CROSS JOIN LATERAL (SELECT (ARRAY[{first}])[1 + g % {nfirst}] AS first) f"
        " CROSS JOIN LATERAL (SELECT (ARRAY[{last}])[1 + (g / 7) % {nlast}] AS last) l",
    ),
    ("customer id sequence", "SELECT setval('customers_id_seq', :n)"),
    (
        "invoices",
        # Invoice i belongs to customer 1 + (i - 1) % n; h is a scrambled i for status,
        # due date and amount. Status: h % 100 < 70 paid, < 75 void, else open.
        "INSERT INTO invoices (id, number, customer_id, currency, issue_date, due_date,"
        " subtotal_minor, tax_rate_bp, tax_minor, total_minor, status, created_at,"
        " legal_entity_id, seller_name, seller_address, seller_tax_id)"
        " SELECT i, 'INV-' || lpad(i::text, 7, '0'), c.id, c.currency,"
        " current_date - (h % 240)::int, current_date - (h % 240)::int + 30,"
        " a, 0, 0, a,"
        " CASE WHEN h % 100 < 70 THEN 'paid' WHEN h % 100 < 75 THEN 'void' ELSE 'open' END,"
        " now(), c.legal_entity_id, 'Bench GmbH', 'Bench street 1', ''"
        " FROM generate_series(1, 2 * :n) i"
        " CROSS JOIN LATERAL (SELECT (i * 2654435761) % 4294967291 AS h) hh"
        " CROSS JOIN LATERAL (SELECT 1000 + (hh.h / 7) % 500000 AS a) aa"
        " JOIN customers c ON c.id = 1 + (i - 1) % :n",
    ),
    ("invoice id sequence", "SELECT setval('invoices_id_seq', 2 * :n)"),
    (
        "charges",
        "INSERT INTO ledger_entries (customer_id, currency, amount_minor, kind, description,"
        " payment_method, reference, created_at, invoice_id)"
        " SELECT customer_id, currency, -total_minor, 'charge', 'Services', '', '',"
        " issue_date, id FROM invoices",
    ),
    (
        "payments and reversals",
        "INSERT INTO ledger_entries (customer_id, currency, amount_minor, kind, description,"
        " payment_method, reference, created_at, invoice_id)"
        " SELECT customer_id, currency, total_minor,"
        " CASE status WHEN 'paid' THEN 'payment' ELSE 'adjustment' END,"
        " CASE status WHEN 'paid' THEN 'Payment of ' ELSE 'Reversal of ' END || number,"
        " '', '', issue_date + 10, id FROM invoices WHERE status IN ('paid', 'void')",
    ),
    (
        "other entries",
        # Up to 5 entries per customer in all: credits and adjustments of no invoice.
        "INSERT INTO ledger_entries (customer_id, currency, amount_minor, kind, description,"
        " payment_method, reference, created_at)"
        " SELECT c.id, c.currency, CASE WHEN k % 2 = 0 THEN 500 ELSE -300 END,"
        " CASE WHEN k % 2 = 0 THEN 'credit' ELSE 'adjustment' END, 'Goodwill', '', '',"
        " now() - k * interval '1 day'"
        " FROM generate_series(1, 5 * :n - (SELECT count(*) FROM ledger_entries)) k"
        " JOIN customers c ON c.id = 1 + (k - 1) % :n",
    ),
]


def _quoted(names: list[str]) -> str:
    return ", ".join("'" + name.replace("'", "''") + "'" for name in names)


def fill_statements() -> list[tuple[str, str]]:
    names = {"first": _quoted(FIRST), "nfirst": len(FIRST), "last": _quoted(LAST)}
    names["nlast"] = len(LAST)
    return [(label, sql.format(**names)) for label, sql in FILL_SQL]


def _admin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def prepare(url: str, count: int, fresh: bool) -> tuple[bool, float]:
    """Create, migrate and fill the database unless it holds ``count`` customers already.
    (reused, seconds the fill took)."""
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists and fresh:
            log(f"dropping database {name}")
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            log(f"creating database {name}")
            connection.execute(f'CREATE DATABASE "{name}"')
    app = make_app(url)
    with app.app_context():
        upgrade()
        have = db.session.scalar(text("SELECT count(*) FROM customers"))
        reused = have == count
        started = time.perf_counter()
        if not reused:
            if have:
                raise SystemExit(f"{name} holds {have:,} customers, not {count:,}: use --fresh")
            # The seller and the 0 % tax class every customer gets, as the app makes them.
            params = {
                "n": count,
                "entity": settings.default_legal_entity(db.session).id,
                "tax_class": settings.tax_class_for_rate(db.session, 0).id,
            }
            db.session.commit()
            # Rows made consistent by construction: skip the per-row foreign-key triggers
            # for this bulk load (this session only; needs a superuser, as the bench's).
            db.session.execute(text("SET session_replication_role = replica"))
            for label, sql in fill_statements():
                step = time.perf_counter()
                rows = db.session.execute(text(sql), params).rowcount
                db.session.commit()
                log(f"  {label}: {rows:,} rows in {time.perf_counter() - step:.1f} s")
            with db.engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                step = time.perf_counter()
                connection.execute(text("VACUUM (ANALYZE) customers, invoices, ledger_entries"))
                log(f"  VACUUM (ANALYZE): {time.perf_counter() - step:.1f} s")
        # The receivables rows the migration filled: planner statistics now, not when
        # autovacuum gets to them.
        with db.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("VACUUM (ANALYZE) receivables, receivables_totals"))
        if find_staff_by_email(db.session, STAFF_EMAIL) is None:
            create_staff(db.session, STAFF_EMAIL, "Bench Agent", "agent", STAFF_PASSWORD)
        db.session.remove()
        db.engine.dispose()
    return reused, time.perf_counter() - started


def make_app(url: str):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(url),
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
        }
    )


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    name: str
    url: str
    p50: float
    p95: float
    target: float | None

    @property
    def ok(self) -> bool:
        return self.target is None or self.p95 < self.target


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def timed(client, url: str, headers: dict, requests: int, expect: bytes) -> list[float]:
    timings = []
    for index in range(WARMUP + requests):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        body = response.get_data()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or expect not in body:
            raise SystemExit(f"{url}: HTTP {response.status_code}, {expect!r} not in the page")
        if index >= WARMUP:
            timings.append(elapsed)
    return timings


def cases(currencies: list[str]) -> list[tuple[str, str, dict, float | None]]:
    found = [
        ("first page (default: total desc)", "/receivables/", {}, TARGET_MS),
        ("first page, htmx fragment", "/receivables/", HTMX, TARGET_MS),
    ]
    for key in receivables.AMOUNT_KEYS:
        for direction in ("desc", "asc"):
            url = f"/receivables/?sort={key}&dir={direction}"
            found.append((f"sort {key} {direction}", url, {}, TARGET_MS))
    found.append(("sort name asc", "/receivables/?sort=name", {}, TARGET_MS))
    found.append(("sort name desc", "/receivables/?sort=name&dir=desc", {}, TARGET_MS))
    for code in currencies[1:]:
        found.append((f"currency {code}", f"/receivables/?currency={code}", {}, TARGET_MS))
    found.append(("page 20 (total desc)", "/receivables/?page=20", {}, TARGET_MS))
    return found


def measure(url: str, count: int, requests: int) -> tuple[list[Result], dict]:
    app = make_app(url)
    client = app.test_client()
    response = client.post("/sign-in", data={"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    if response.status_code != 303:
        raise SystemExit(f"sign-in failed: HTTP {response.status_code}")
    with app.app_context():
        facts = {
            "version": db.session.scalar(text("SHOW server_version")),
            "customers": db.session.scalar(text("SELECT count(*) FROM customers")),
            "invoices": db.session.scalar(text("SELECT count(*) FROM invoices")),
            "open": db.session.scalar(text("SELECT count(*) FROM invoices WHERE status = 'open'")),
            "entries": db.session.scalar(text("SELECT count(*) FROM ledger_entries")),
        }
        currencies = receivables.open_currencies(db.session, receivables.today())
        db.session.remove()
    results = []
    for name, path, headers, target in cases(currencies):
        expect = b'class="aging-totals"'
        timings = timed(client, path, headers, requests, expect)
        result = Result(name, path, statistics.median(timings), p95(timings), target)
        results.append(result)
        log(
            f"{name:<36} p50 {result.p50:7.1f} ms  p95 {result.p95:7.1f} ms"
            f"  {'ok' if result.ok else 'MISS'}"
        )
    # The CSV of the biggest currency, once (streamed; no target).
    started = time.perf_counter()
    response = client.get("/receivables/aging.csv")
    lines = response.get_data().count(b"\n")
    elapsed = (time.perf_counter() - started) * 1000
    facts["csv"] = f"CSV of {currencies[0]}: {lines - 1:,} customer rows in {elapsed:,.0f} ms"
    log(facts["csv"])
    with app.app_context():
        db.engine.dispose()
    return results, facts


def report(results: list[Result], facts: dict, load: tuple[float, float], fill: str) -> str:
    lines = [
        "| request | p50 ms | p95 ms | target | ok |",
        "|---|---:|---:|---:|---|",
    ]
    for r in results:
        target = f"< {r.target:.0f}" if r.target else "–"
        lines.append(
            f"| {r.name} | {r.p50:.1f} | {r.p95:.1f} | {target} | {'yes' if r.ok else '**no**'} |"
        )
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines += [
        "",
        f"{stamp} · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
        f"PostgreSQL {facts['version']}",
        "",
        f"- rows: {facts['customers']:,} customers, {facts['invoices']:,} invoices "
        f"({facts['open']:,} open), {facts['entries']:,} ledger entries",
        f"- load average (1 min) before → after measuring: {load[0]:.2f} → {load[1]:.2f}",
        f"- {facts['csv']}",
        f"- data: {fill}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=CUSTOMERS, metavar="N")
    parser.add_argument("--requests", type=int, default=100, metavar="N")
    parser.add_argument("--fresh", action="store_true", help="rebuild the database")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    os.environ.setdefault("TALLY_INSTANCE_PATH", str(RESULTS / "instance"))
    if args.requests < 2:
        parser.error("--requests must be at least 2")
    url = args.pg_url or DEFAULT_URL + ("" if args.customers == CUSTOMERS else f"_{args.customers}")
    reused, seconds = prepare(url, args.customers, args.fresh)
    fill = "reused" if reused else f"built by SQL in {seconds:.0f} s"
    log(f"data {fill}")
    load_before = os.getloadavg()[0]
    results, facts = measure(url, args.customers, args.requests)
    table = report(results, facts, (load_before, os.getloadavg()[0]), fill)
    print(table)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(table + "\n")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
