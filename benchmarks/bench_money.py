"""Money benchmark: the balance sorts and filters of the customer list, and posting money.

Uses the PostgreSQL database of bench_customer_list.py (``tally_bench``, 1,000,000
demo customers; created and filled the same way if missing), migrates it to the
ledger schema and adds 5,000,000 ledger entries: 60 % of the customers have
entries, a skewed number each (most have a few, some hundreds), mostly charges
with payments and some credits, in the customer's billing currency, spread
from the customer's creation to the newest customer's. They go in with one COPY,
then ``customer_balances`` and ``customers.balance_minor`` are computed from
them in SQL, all in one transaction, then VACUUM ANALYZE. ``check_balances``
(what ``flask ledger check`` runs) then confirms every balance agrees with its
entries, and its time is reported.

Measured through the Flask test client, signed in as staff (wall time of whole
requests, no network), p50 and p95 over N requests per case after a warm-up:
the list sorted by balance both ways, the three balance filters, a deep page of
the balance sort; then posting a charge with ``ledger.post_entry`` (a service
call, its own transaction, a new idempotency key, a random customer each), the
same through the Add entry form (HTTP POST as the htmx modal sends it, and
without JavaScript), and, for information, ``capture_one_time_charge`` (an
invoice and its charge). ``upgrade()`` runs first, so the schema (indexes
included) is the one the migrations give at the time of the run.

    .venv/bin/python benchmarks/bench_money.py                     # full scale
    .venv/bin/python benchmarks/bench_money.py --customers 20000 --requests 50
    .venv/bin/python benchmarks/bench_money.py --fresh             # rebuild the entries
    .venv/bin/python benchmarks/bench_money.py --skip-check --wait-for-quiet 600

The entries are reused when the table holds the requested number (``--fresh``
rebuilds them; the customers are never touched beyond their balance). The
benchmark's own postings are the entries with an idempotency key (bulk entries
have none): they, their invoices, the history lines they wrote and the balances
they moved are put back after the run, and at the start of the next one if a run
was interrupted, so every run measures the same data. The table is printed and written to
``benchmarks/results/bench_money.md``; exit status 1 when a p95 misses its target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import bench_customer_list as base
import psycopg
from sqlalchemy import text

from webapp.extensions import db
from webapp.models.billing import EntryKind
from webapp.services.billing import capture_one_time_charge
from webapp.services.ledger import check_balances, post_entry
from webapp.services.money import exponent, format_plain
from webapp.services.search import PAGE_SIZE, CustomerQuery
from webapp.services.staff import find_staff_by_email

RESULTS = base.RESULTS
REPORT = RESULTS / "bench_money.md"
FILL_TIMES = RESULTS / "bench_money_fill.json"
SEED = 20_261_122
CUSTOMERS = base.PG_CUSTOMERS
ENTRIES_PER_CUSTOMER = 5  # 5,000,000 entries for 1,000,000 customers
WARMUP = base.WARMUP
LIST_TARGET_MS = 50.0
POST_TARGET_MS = 20.0

# --------------------------------------------------------------------------- the data

ACTIVE_SHARE = 0.60  # customers with at least one entry
COUNT_SIGMA = 1.1  # log-normal spread of entries per customer: most a few, some hundreds
P_PAYMENT = 0.22  # each entry: a payment of the oldest unpaid charge, if any
P_CREDIT = 0.05  # a credit (goodwill, outage, …); the rest are charges
# How each customer's last entry leaves the billing-currency balance.
P_SETTLED = 0.42  # paid in full (a payment of what is owed)
P_IN_CREDIT = 0.08  # overpaid or credited; the rest owe
HISTORY = timedelta(days=5 * 365)
BUCKET_S = 30 * 86_400  # rows go in roughly by month, so ids follow time as in real use

# Prices in major units before the currency's multiplier (JPY prices are ~150x USD).
PRICE_MULTIPLIER = {"JPY": 150, "SEK": 10, "DKK": 7, "PLN": 4, "BRL": 5}
PLAN_PRICES = [9, 15, 19, 29, 49, 79, 99, 149, 199, 299, 499, 999, 1999]
PLAN_WEIGHTS = [14, 8, 14, 12, 12, 7, 9, 5, 6, 4, 4, 3, 2]
CHARGE_TEXTS = [
    "Monthly subscription",
    "Annual subscription",
    "Additional seats",
    "Usage overage",
    "Setup fee",
    "Support hours",
    "Domain renewal",
    "Storage add-on",
]
CREDIT_TEXTS = ["Goodwill credit", "Service outage credit", "Credit for duplicate charge"]
PAYMENT_METHODS = ["Bank transfer", "Card", "SEPA direct debit", "PayPal", "Cheque"]
COPY_COLUMNS = (
    "customer_id, currency, amount_minor, kind, description, payment_method, reference, created_at"
)
EPOCH = datetime(1970, 1, 1)


def log(message: str) -> None:
    base.log(message)


def _amount_tables(currency: str, rng: random.Random) -> tuple[list[int], list[int]]:
    """Charge and credit amounts (minor units) in a currency, skewed like real price lists:
    plan prices, times a quantity now and then, plus usage amounts."""
    unit = PRICE_MULTIPLIER.get(currency, 1) * 10 ** exponent(currency)
    step = 10 if currency == "JPY" else 1  # whole tens of yen
    charges = []
    for _ in range(400):
        if rng.random() < 0.75:
            price = rng.choices(PLAN_PRICES, PLAN_WEIGHTS)[0]
            quantity = 1 if rng.random() < 0.8 else rng.randint(2, 12)
            major = price * quantity
        else:
            major = round(rng.lognormvariate(3.5, 1.2), 2)  # usage: median ~33
        charges.append(max(step, round(major * unit / step) * step))
    credits = [
        max(step, round(amount * rng.uniform(0.05, 0.5) / step) * step) for amount in charges
    ]
    return charges, credits


@dataclass
class Generated:
    buckets: list[bytearray]
    active: int
    per_customer: dict[str, int]  # min / median / p99 / max entries per active customer


def plan_counts(customer_count: int, entries: int, rng: random.Random) -> list[tuple[int, int]]:
    """(customer index, entries) for the customers with entries; the counts add up exactly."""
    active = [index for index in range(customer_count) if rng.random() < ACTIVE_SHARE]
    active = active[:entries]
    weights = [rng.lognormvariate(0, COUNT_SIGMA) for _ in active]
    spare = entries - len(active)
    total = sum(weights)
    counts = [1 + int(spare * weight / total) for weight in weights]
    for index in rng.sample(range(len(active)), entries - sum(counts)):
        counts[index] += 1
    return list(zip(active, counts, strict=True))


def generate(customers: list[tuple[int, str, float]], entries: int, seed: int) -> Generated:
    """Ledger rows as COPY text, in buckets of about a month of ``created_at``."""
    rng = random.Random(seed)
    end = max(created for _, _, created in customers)
    first_bucket = int((end - HISTORY.total_seconds()) // BUCKET_S)
    buckets = [bytearray() for _ in range(int(end // BUCKET_S) - first_bucket + 1)]
    # Sorted: a set's order changes from run to run (hash seed), the rows must not.
    currencies = sorted({currency for _, currency, _ in customers})
    tables = {currency: _amount_tables(currency, rng) for currency in currencies}
    plan = plan_counts(len(customers), entries, rng)
    charge_kind, credit_kind, payment_kind = (
        EntryKind.CHARGE.value,
        EntryKind.CREDIT.value,
        EntryKind.PAYMENT.value,
    )
    random_ = rng.random
    choice = rng.choice
    step = max(len(plan) // 10, 1)
    started = time.perf_counter()
    for done, (index, count) in enumerate(plan, 1):
        customer_id, currency, created = customers[index]
        charges, credits = tables[currency]
        start = max(created, end - HISTORY.total_seconds())
        stamps = sorted(rng.uniform(start, end) for _ in range(count))
        unpaid: deque[int] = deque()
        balance = 0
        rows = []
        for position, stamp in enumerate(stamps):
            method = reference = ""
            last = position == count - 1
            draw = random_()
            if last:
                outcome = random_()
                if outcome < P_SETTLED and balance < 0:
                    kind, amount, text_ = payment_kind, -balance, "Payment received"
                elif outcome < P_SETTLED and balance > 0:
                    kind, amount, text_ = charge_kind, -balance, choice(CHARGE_TEXTS)
                elif P_SETTLED <= outcome < P_SETTLED + P_IN_CREDIT:
                    extra = choice(credits)
                    if balance <= 0:
                        kind, amount, text_ = payment_kind, extra - balance, "Payment received"
                    else:
                        kind, amount, text_ = credit_kind, extra, choice(CREDIT_TEXTS)
                else:
                    kind, amount, text_ = charge_kind, -choice(charges), choice(CHARGE_TEXTS)
            elif draw < P_PAYMENT and unpaid:
                kind, amount, text_ = payment_kind, unpaid.popleft(), "Payment received"
            elif draw < P_PAYMENT + P_CREDIT:
                kind, amount, text_ = credit_kind, choice(credits), choice(CREDIT_TEXTS)
            else:
                amount = choice(charges)
                unpaid.append(amount)
                kind, amount, text_ = charge_kind, -amount, choice(CHARGE_TEXTS)
            if kind == payment_kind:
                method = choice(PAYMENT_METHODS)
                reference = f"PAY-{rng.randrange(100_000_000):08d}"
            balance += amount
            moment = (EPOCH + timedelta(seconds=stamp)).isoformat(" ")
            rows.append(
                (
                    int(stamp // BUCKET_S) - first_bucket,
                    f"{customer_id}\t{currency}\t{amount}\t{kind}\t{text_}\t{method}\t"
                    f"{reference}\t{moment}\n",
                )
            )
        for bucket, line in rows:
            buckets[bucket] += line.encode()
        if done % step == 0 or done == len(plan):
            log(
                f"  generated {done:>9,} of {len(plan):,} customers' entries "
                f"{time.perf_counter() - started:6.1f} s"
            )
    counts = sorted(count for _, count in plan)
    per_customer = {
        "min": counts[0],
        "median": counts[len(counts) // 2],
        "p99": counts[int(len(counts) * 0.99)],
        "max": counts[-1],
    }
    return Generated(buckets, len(plan), per_customer)


# --------------------------------------------------------------------------- filling


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@dataclass
class LedgerFill:
    entries: int
    reused: bool
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds
    active: int = 0
    per_customer: dict[str, int] = field(default_factory=dict)
    when: str = ""
    check_s: float | None = None
    check_when: str = ""
    check_reused: bool = False  # the time is from an earlier run (--skip-check)
    mismatches: int = 0
    cleanup: str = ""

    @property
    def total_s(self) -> float:
        return sum(self.steps.values())


def _fill_key(url: str, entries: int) -> str:
    return f"{base._admin_url(url)[1]}:{entries}"


def remember(url: str, filled: LedgerFill) -> None:
    known = json.loads(FILL_TIMES.read_text()) if FILL_TIMES.exists() else {}
    known[_fill_key(url, filled.entries)] = {
        "steps": filled.steps,
        "active": filled.active,
        "per_customer": filled.per_customer,
        "when": filled.when,
        "check_s": filled.check_s,
        "check_when": filled.check_when,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    FILL_TIMES.write_text(json.dumps(known, indent=2) + "\n")


def recall(url: str, entries: int) -> LedgerFill:
    known = json.loads(FILL_TIMES.read_text()) if FILL_TIMES.exists() else {}
    entry = known.get(_fill_key(url, entries), {})
    return LedgerFill(
        entries,
        True,
        entry.get("steps", {}),
        entry.get("active", 0),
        entry.get("per_customer", {}),
        entry.get("when", ""),
        entry.get("check_s"),
        entry.get("check_when", ""),
        check_reused=entry.get("check_s") is not None,
    )


# The customers' every-currency flags (services.ledger.mirror_currencies), from their
# balances, for the customers ``which`` picks (a condition on customers c).
EVERY_CURRENCY = """UPDATE customers c SET
     owes_any = EXISTS (SELECT 1 FROM customer_balances b
                        WHERE b.customer_id = c.id AND b.balance_minor < 0),
     credit_any = EXISTS (SELECT 1 FROM customer_balances b
                          WHERE b.customer_id = c.id AND b.balance_minor > 0),
     other_currencies = (SELECT count(*) FROM customer_balances b
                         WHERE b.customer_id = c.id AND b.currency <> c.currency
                           AND b.balance_minor <> 0)
   WHERE {which}"""

CLEANUP = [
    """CREATE TEMP TABLE bench_posted ON COMMIT DROP AS
       SELECT customer_id, currency, invoice_id, credit_note_id
       FROM ledger_entries WHERE idempotency_key IS NOT NULL""",
    "DELETE FROM ledger_entries WHERE idempotency_key IS NOT NULL",
    # The history lines the postings wrote (entry.charge, invoice.issued …). The bulk
    # entries went in with COPY and have none, so every entry, invoice or credit-note
    # line of these customers is about a posting removed here.
    """DELETE FROM customer_events e
       USING (SELECT DISTINCT customer_id FROM bench_posted) p
       WHERE e.customer_id = p.customer_id
         AND (e.kind LIKE 'entry.%' OR e.kind LIKE 'invoice.%'
              OR e.kind LIKE 'credit\\_note.%')""",
    "DELETE FROM invoice_lines WHERE invoice_id IN (SELECT invoice_id FROM bench_posted)",
    "DELETE FROM invoices WHERE id IN (SELECT invoice_id FROM bench_posted)",
    "DELETE FROM credit_notes WHERE id IN (SELECT credit_note_id FROM bench_posted)",
    """UPDATE document_counters SET last_number = coalesce(
         (SELECT max(split_part(number, '-', 2)::int) FROM invoices), 0)
       WHERE series = 'INV'""",
    """UPDATE document_counters SET last_number = coalesce(
         (SELECT max(split_part(number, '-', 2)::int) FROM credit_notes), 0)
       WHERE series = 'CN'""",
    """DELETE FROM customer_balances b USING bench_posted p
       WHERE b.customer_id = p.customer_id AND b.currency = p.currency""",
    """INSERT INTO customer_balances (customer_id, currency, balance_minor, updated_at)
       SELECT e.customer_id, e.currency, sum(e.amount_minor), max(e.created_at)
       FROM ledger_entries e
       JOIN (SELECT DISTINCT customer_id, currency FROM bench_posted) p
         USING (customer_id, currency)
       GROUP BY e.customer_id, e.currency""",
    """UPDATE customers c SET balance_minor = coalesce(
         (SELECT b.balance_minor FROM customer_balances b
          WHERE b.customer_id = c.id AND b.currency = c.currency), 0)
       WHERE c.id IN (SELECT customer_id FROM bench_posted)""",
    EVERY_CURRENCY.format(which="c.id IN (SELECT customer_id FROM bench_posted)"),
]


def undo_postings(url: str) -> str:
    """Delete the benchmark's own postings (entries with an idempotency key), their
    invoices and credit notes and the history lines about them, and recompute the
    balances they moved."""
    with psycopg.connect(libpq_url(url)) as connection:
        posted = connection.execute(
            "SELECT count(*), count(DISTINCT customer_id) FROM ledger_entries "
            "WHERE idempotency_key IS NOT NULL"
        ).fetchone()
        if not posted[0]:
            return ""
        for statement in CLEANUP:
            connection.execute(statement)
    return f"{posted[0]:,} postings to {posted[1]:,} customers put back"


def fill_ledger(url: str, entries: int, fresh: bool, seed: int) -> LedgerFill:
    """Make sure ledger_entries holds ``entries`` bulk rows and the balances agree."""
    cleaned = undo_postings(url)
    if cleaned:
        log(f"ledger: {cleaned} (left by an earlier run)")
    with psycopg.connect(libpq_url(url)) as connection:
        existing = connection.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
    if existing == entries and not fresh:
        log(f"ledger: reusing {existing:,} entries")
        return recall(url, entries)
    if existing and not fresh:
        raise SystemExit(f"ledger: {existing:,} entries, want {entries:,}; use --fresh")

    filled = LedgerFill(entries, reused=False)
    steps = filled.steps

    def step(name: str, started: float) -> None:
        steps[name] = time.perf_counter() - started
        log(f"ledger: {name} {steps[name]:.1f} s")

    with psycopg.connect(libpq_url(url)) as connection:
        started = time.perf_counter()
        customers = connection.execute(
            "SELECT id, currency, extract(epoch FROM created_at)::float8 FROM customers ORDER BY id"
        ).fetchall()
        step("read customers", started)
        log(f"ledger: generating {entries:,} entries for {len(customers):,} customers")
        started = time.perf_counter()
        generated = generate(customers, entries, seed)
        del customers
        filled.active, filled.per_customer = generated.active, generated.per_customer
        step("generate rows", started)

        # One transaction: a failure leaves the previous state, indexes included.
        started = time.perf_counter()
        connection.execute(
            # sales only for its foreign key to invoices (the benchmark makes none).
            "TRUNCATE ledger_entries, invoice_lines, sales, invoices, credit_notes, "
            "customer_balances, document_counters RESTART IDENTITY"
        )
        connection.execute("SET LOCAL maintenance_work_mem = '512MB'")
        connection.execute("SET LOCAL work_mem = '256MB'")
        # Skip the per-row foreign-key triggers (5M lookups); checked once below instead.
        connection.execute("SET LOCAL session_replication_role = replica")
        # Built once after the load rather than by 5M random inserts.
        connection.execute("DROP INDEX ix_ledger_entries_customer_created")
        with connection.cursor() as cursor:
            # FREEZE: the table was truncated in this transaction, so rows go in frozen
            # (no hint-bit writes or anti-wraparound freezing of 5M rows later).
            command = f"COPY ledger_entries ({COPY_COLUMNS}) FROM STDIN WITH (FREEZE)"
            with cursor.copy(command) as copy:
                for number, bucket in enumerate(generated.buckets):
                    view = memoryview(bucket)
                    for offset in range(0, len(view), 1 << 20):
                        copy.write(view[offset : offset + (1 << 20)])
                    generated.buckets[number] = bytearray()  # free as we go
        step("COPY ledger_entries", started)
        started = time.perf_counter()
        connection.execute(
            "CREATE INDEX ix_ledger_entries_customer_created "
            "ON ledger_entries (customer_id, created_at, id)"
        )
        step("index (customer_id, created_at, id)", started)
        started = time.perf_counter()
        orphans = connection.execute(
            "SELECT count(*) FROM ledger_entries e "
            "WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = e.customer_id)"
        ).fetchone()[0]
        if orphans:
            raise SystemExit(f"ledger: {orphans:,} entries name no customer")
        step("foreign-key check", started)
        started = time.perf_counter()
        connection.execute(
            "INSERT INTO customer_balances (customer_id, currency, balance_minor, updated_at) "
            "SELECT customer_id, currency, sum(amount_minor), max(created_at) "
            "FROM ledger_entries GROUP BY customer_id, currency"
        )
        step("customer_balances", started)
        started = time.perf_counter()
        updated = connection.execute(
            """UPDATE customers c SET balance_minor = n.balance
               FROM (SELECT c2.id, coalesce(b.balance_minor, 0) AS balance
                     FROM customers c2
                     LEFT JOIN customer_balances b
                       ON b.customer_id = c2.id AND b.currency = c2.currency) n
               WHERE n.id = c.id AND c.balance_minor <> n.balance"""
        ).rowcount
        step(f"customers.balance_minor ({updated:,} rows)", started)
        started = time.perf_counter()
        flagged = connection.execute(
            EVERY_CURRENCY.format(
                which="c.id IN (SELECT customer_id FROM customer_balances WHERE balance_minor <> 0)"
            )
        ).rowcount
        step(f"customers' every-currency flags ({flagged:,} rows)", started)
        started = time.perf_counter()
        connection.commit()
        step("commit", started)

    started = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) ledger_entries, customer_balances, customers")
    step("VACUUM ANALYZE", started)
    filled.when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    log(f"ledger: filled {entries:,} entries in {filled.total_s:.1f} s")
    remember(url, filled)
    return filled


def verify(app, url: str, filled: LedgerFill) -> None:
    """check_balances over everything: what ``flask ledger check`` does."""
    with app.app_context():
        started = time.perf_counter()
        mismatches = check_balances(db.session)
        filled.check_s = time.perf_counter() - started
        filled.mismatches = len(mismatches)
        filled.check_when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        filled.check_reused = False
        db.session.remove()
    log(f"ledger: check_balances {filled.check_s:.1f} s, {len(mismatches):,} mismatches")
    for mismatch in mismatches[:10]:
        log(f"    {mismatch}")
    if mismatches:
        raise SystemExit("ledger: the bulk balances disagree with their entries")
    remember(url, filled)


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    name: str
    rows: int
    p50: float
    p95: float
    target_ms: float | None  # None: for information
    slowest: list[tuple[str, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.target_ms is None or self.p95 < self.target_ms


def summarise(name: str, rows: int, timings: list[float], target: float | None) -> Result:
    result = Result(name, rows, statistics.median(timings), base.p95(timings), target)
    verdict = "info" if target is None else ("ok" if result.ok else "MISS")
    log(f"{name:<40} p50 {result.p50:7.1f} ms  p95 {result.p95:7.1f} ms  {verdict}")
    return result


def list_cases(app, visible: int) -> list[base.Case]:
    middle = max(min(1000, visible // PAGE_SIZE - 5), 5)
    by_balance = CustomerQuery(sort="balance", direction="asc")
    deep = [base.keyset_url(app, by_balance, page) for page in range(middle - 4, middle + 5)]
    return [
        base.Case("sort balance asc", ["/customers?sort=balance&dir=asc"], LIST_TARGET_MS),
        base.Case("sort balance desc", ["/customers?sort=balance&dir=desc"], LIST_TARGET_MS),
        base.Case("filter balance=owes", ["/customers?balance=owes"], LIST_TARGET_MS),
        base.Case("filter balance=credit", ["/customers?balance=credit"], LIST_TARGET_MS),
        base.Case("filter balance=paid", ["/customers?balance=paid"], LIST_TARGET_MS),
        base.Case(f"sort balance asc, page {middle} (±4)", deep, LIST_TARGET_MS),
    ]


def measure_lists(app, client, customers: int, requests: int) -> list[Result]:
    with app.app_context():
        visible = db.session.scalar(
            text("SELECT count(*) FROM customers WHERE status <> 'archived'")
        )
        db.session.remove()
    results = []
    for case in list_cases(app, visible):
        per_url = base.measure(client, case, requests)
        timings = [ms for values in per_url.values() for ms in values]
        result = summarise(case.name, customers, timings, case.target_ms)
        if len(per_url) > 1:
            by_url = [(url, base.p95(values)) for url, values in per_url.items() if len(values) > 1]
            result.slowest = sorted(by_url, key=lambda item: -item[1])[:3]
        results.append(result)
    return results


@dataclass
class Target:
    customer_id: int
    currency: str
    amount_minor: int


def pick_targets(app, count: int, rng: random.Random) -> list[Target]:
    """Distinct random customers (not archived: staff post to live accounts), a charge
    each from the fill's price lists."""
    with app.app_context():
        top = db.session.scalar(text("SELECT max(id) FROM customers"))
        chosen: dict[int, Target] = {}
        tables: dict[str, list[int]] = {}
        while len(chosen) < count:
            ids = rng.sample(range(1, top + 1), min(top, 2 * count))
            rows = db.session.execute(
                text(
                    "SELECT id, currency FROM customers "
                    "WHERE id = ANY(:ids) AND status <> 'archived'"
                ),
                {"ids": ids},
            ).all()
            for customer_id, currency in rows:
                if currency not in tables:
                    tables[currency] = _amount_tables(currency, random.Random(currency))[0]
                amount = rng.choice(tables[currency])
                chosen.setdefault(customer_id, Target(customer_id, currency, amount))
            if top <= count:
                break
        db.session.remove()
    targets = list(chosen.values())
    rng.shuffle(targets)
    return targets[:count]


def measure_postings(app, client, entries: int, requests: int, rng) -> list[Result]:
    with app.app_context():
        staff_id = find_staff_by_email(db.session, base.STAFF_EMAIL).id
        db.session.remove()

    def service_charge(target: Target) -> None:
        posted = post_entry(
            db.session,
            target.customer_id,
            kind=EntryKind.CHARGE,
            amount_minor=-target.amount_minor,
            currency=target.currency,
            description="Bench charge",
            actor_id=staff_id,
            key=f"bench-{uuid.uuid4().hex}",
        )
        assert not posted.replayed

    def form_charge(target: Target, htmx: bool) -> None:
        """The Add entry form as the modal sends it (htmx: 204 and events) or without
        JavaScript (303 to the Billing tab). "Record it again" is not ticked, so the
        check for an identical recent entry runs, as it does for staff."""
        path = f"/customers/{target.customer_id}/entries/new"
        headers = (
            {"HX-Request": "true", "HX-Target": "form", "HX-Current-URL": f"http://localhost{path}"}
            if htmx
            else {}
        )
        response = client.post(
            path,
            headers=headers,
            data={
                "kind": "charge",
                "amount": format_plain(target.amount_minor, target.currency),
                "currency": target.currency,
                "description": "Bench charge (form)",
                "key": uuid.uuid4().hex,
            },
        )
        body = response.get_data()
        if response.status_code != (204 if htmx else 303):
            raise SystemExit(f"Add entry form: HTTP {response.status_code}: {body[:2000]!r}")

    def consume_flash() -> None:
        """What following the redirect does: the flashed message is shown once. Without
        this the test client's session collects every message and each request pays
        for (de)serialising a growing cookie."""
        with client.session_transaction() as session:
            session.pop("_flashes", None)

    def invoice_charge(target: Target) -> None:
        result = capture_one_time_charge(
            db.session,
            target.customer_id,
            amount_minor=target.amount_minor,
            currency=target.currency,
            description="Bench one-time charge",
            actor_id=staff_id,
            key=f"bench-{uuid.uuid4().hex}",
        )
        assert result.invoice is not None

    cases = [
        ("post_entry charge (service)", service_charge, None, POST_TARGET_MS, True),
        (
            "Add entry form POST, htmx (HTTP 204)",
            lambda target: form_charge(target, htmx=True),
            None,
            POST_TARGET_MS,
            False,
        ),
        (
            "Add entry form POST, no JS (HTTP 303)",
            lambda target: form_charge(target, htmx=False),
            consume_flash,
            POST_TARGET_MS,
            False,
        ),
        ("capture_one_time_charge (service)", invoice_charge, None, None, True),
    ]
    results = []
    for name, call, after, target_ms, service in cases:
        targets = pick_targets(app, WARMUP + requests, rng)
        timings = []
        with app.app_context() if service else contextlib.nullcontext():
            for index, target in enumerate(targets):
                started = time.perf_counter()
                call(target)
                elapsed = (time.perf_counter() - started) * 1000
                if service:
                    db.session.remove()  # a new session per call, as each request has
                if after:
                    after()
                if index >= WARMUP:
                    timings.append(elapsed)
        results.append(summarise(name, entries, timings, target_ms))
    return results


def check_postings(url: str) -> int:
    """Customers whose balances no longer match their entries after the postings."""
    with psycopg.connect(libpq_url(url)) as connection:
        return connection.execute(
            """WITH touched AS (SELECT DISTINCT customer_id FROM ledger_entries
                                WHERE idempotency_key IS NOT NULL),
                    sums AS (SELECT e.customer_id, e.currency, sum(e.amount_minor) AS total
                             FROM ledger_entries e JOIN touched USING (customer_id)
                             GROUP BY e.customer_id, e.currency)
               SELECT count(*) FROM touched t
               JOIN customers c ON c.id = t.customer_id
               LEFT JOIN sums s ON s.customer_id = c.id AND s.currency = c.currency
               LEFT JOIN customer_balances b
                 ON b.customer_id = c.id AND b.currency = c.currency
               WHERE c.balance_minor <> coalesce(s.total, 0)
                  OR coalesce(b.balance_minor, 0) <> coalesce(s.total, 0)"""
        ).fetchone()[0]


def wait_for_quiet(limit_s: float) -> None:
    """The README's figures are taken at a load average under 1: wait for it."""
    base.wait_for_quiet(below=1.0, patience=limit_s)


# --------------------------------------------------------------------------- report


def balance_mix(url: str) -> str:
    with psycopg.connect(libpq_url(url)) as connection:
        owes, credit, paid, total = connection.execute(
            "SELECT count(*) FILTER (WHERE balance_minor < 0), "
            "count(*) FILTER (WHERE balance_minor > 0), "
            "count(*) FILTER (WHERE balance_minor = 0), count(*) "
            "FROM customers WHERE status <> 'archived'"
        ).fetchone()

    def share(n: int) -> str:
        return f"{n:,} ({100 * n / max(total, 1):.1f} %)"

    return f"owes {share(owes)}, credit {share(credit)}, paid {share(paid)}"


def report(
    results: list[Result],
    customers: int,
    filled: LedgerFill,
    version: str,
    loads: list[tuple[str, float, float]],
    mix: str,
) -> str:
    lines = [
        "| backend | rows | request | p50 ms | p95 ms | target | ok |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        target = "—" if r.target_ms is None else f"< {r.target_ms:.0f}"
        ok = "info" if r.target_ms is None else ("yes" if r.ok else "**no**")
        lines.append(
            f"| postgresql | {r.rows:,} | {r.name} | {r.p50:.1f} | {r.p95:.1f} | {target} | {ok} |"
        )
    lines.append("")
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines.append(
        f"{stamp} · {base.machine()} · Python {platform.python_version()}, PostgreSQL {version}"
    )
    lines.append("")
    busy = (os.cpu_count() or 1) * 0.75
    for what, before, after in loads:
        warning = " (busy machine: timings inflated)" if max(before, after) > busy else ""
        lines.append(f"- load average while measuring {what}: {before:.2f} → {after:.2f}{warning}")
    lines.append(
        f"- rows: customers for the list requests, ledger entries for the postings; "
        f"{customers:,} customers, balances in the default view: {mix}"
    )
    if filled.steps:
        detail = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in filled.steps.items())
        reused = f" (measured {filled.when}; data reused this run)" if filled.reused else ""
        spread = filled.per_customer
        lines.append(
            f"- ledger fill: {filled.entries:,} entries for {filled.active:,} customers "
            f"(entries each: min {spread.get('min')}, median {spread.get('median')}, "
            f"p99 {spread.get('p99')}, max {spread.get('max')}) in {filled.total_s:.1f} s"
            f"{reused}: {detail}"
        )
    else:
        lines.append(f"- ledger fill: {filled.entries:,} entries reused (--fresh to time)")
    if filled.check_s is not None:
        when = f" (measured {filled.check_when}; skipped this run)" if filled.check_reused else ""
        lines.append(
            f"- check_balances (`flask ledger check`) over {filled.entries:,} entries: "
            f"{filled.check_s:.1f} s, {filled.mismatches} mismatches{when}"
        )
    if filled.cleanup:
        lines.append(f"- after the run: {filled.cleanup}")
    for r in results:
        if not r.ok and r.slowest:
            slowest = ", ".join(f"{url} {ms:.0f} ms" for url, ms in r.slowest)
            lines.append(f"- miss {r.name}: slowest (p95) {slowest}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--customers", type=int, default=CUSTOMERS, metavar="N", help="default 1,000,000")
    add("--entries", type=int, metavar="N", help="ledger entries (default 5 per customer)")
    add("--requests", type=int, default=200, metavar="N", help="timed requests per case")
    add("--fresh", action="store_true", help="rebuild the ledger entries (customers are kept)")
    add("--skip-check", action="store_true", help="skip check_balances on reused data")
    add(
        "--wait-for-quiet",
        type=float,
        default=0,
        metavar="S",
        help="wait up to S seconds for the load average to drop before measuring",
    )
    add(
        "--pg-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help=f"PostgreSQL database (default {base.DEFAULT_PG_URL}, tally_bench_N at other "
        "scales: the databases of bench_customer_list.py)",
    )
    add("--report", type=Path, default=REPORT, help="also write the table here")
    args = parser.parse_args(argv)
    os.environ.setdefault("TALLY_INSTANCE_PATH", str(RESULTS / "instance"))
    if args.requests < 2:
        parser.error("--requests must be at least 2")
    entries = args.entries if args.entries is not None else args.customers * ENTRIES_PER_CUSTOMER
    if entries < 1:
        parser.error("--entries must be positive")
    url = args.pg_url or base.DEFAULT_PG_URL
    if args.pg_url is None and args.customers != CUSTOMERS:
        url += f"_{args.customers}"

    base.prepare_postgresql(url, args.customers, fresh=False)
    app = base.make_app(url)
    base.fill(app, "postgresql", args.customers)  # migrates (0003) and adds the staff user
    filled = fill_ledger(url, entries, args.fresh, SEED)
    if filled.reused and args.skip_check:
        log("ledger: check_balances skipped (--skip-check)")
    else:
        verify(app, url, filled)
    mix = balance_mix(url)
    log(f"balances in the default view: {mix}")
    with app.app_context():
        version = db.session.scalar(text("SHOW server_version"))
        db.session.remove()

    if args.wait_for_quiet:
        wait_for_quiet(args.wait_for_quiet)
    client = base.signed_in_client(app)
    loads = []
    rng = random.Random(SEED + 1)
    try:
        before = os.getloadavg()[0]
        results = measure_lists(app, client, args.customers, args.requests)
        loads.append(("the list", before, os.getloadavg()[0]))
        before = os.getloadavg()[0]
        results += measure_postings(app, client, entries, args.requests, rng)
        loads.append(("the postings", before, os.getloadavg()[0]))
        wrong = check_postings(url)
        if wrong:
            raise SystemExit(f"ledger: {wrong} customers' balances disagree after the postings")
    finally:
        with app.app_context():
            db.engine.dispose()
        filled.cleanup = undo_postings(url)
        if filled.cleanup:
            log(f"ledger: {filled.cleanup}")

    table = report(results, args.customers, filled, version, loads, mix)
    print(table)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(table + "\n")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
