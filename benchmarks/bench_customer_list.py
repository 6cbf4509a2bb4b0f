"""Customer list benchmark: server time of the list, paging, sorting, filters and search.

Fills a dedicated PostgreSQL database (1,000,000 customers by default) and a
SQLite file (100,000) with ``webapp.demo_data`` (seeded, so every
run sees the same rows), then tags them by SQL: "common" on every 3rd
customer, "one-percent" on every 100th, "rare" on 20 spread over the table (a
tag that already exists is left alone, so a reused database is tagged once).
It signs in through the Flask test client and measures
the wall time of whole requests through the WSGI app (routing, queries,
template rendering; no network), p50 and p95 over N requests per case.

    .venv/bin/python benchmarks/bench_customer_list.py                # full scale
    .venv/bin/python benchmarks/bench_customer_list.py --pg-customers 20000 \\
        --sqlite-customers 20000 --requests 50                        # quick check
    .venv/bin/python benchmarks/bench_customer_list.py --only sqlite --fresh

Databases are reused when they already hold the requested number of
customers (re-runs take seconds); ``--fresh`` rebuilds them, and one holding
another number is refused rather than rebuilt. At full scale they are the
PostgreSQL database ``tally_bench`` on 127.0.0.1 and
``benchmarks/results/tally_bench.sqlite``; other scales get their own
(``tally_bench_20000``), so a quick run never touches the big ones.
``--pg-url`` (or ``BENCH_DATABASE_URL``) and ``--sqlite-file`` choose others,
e.g. a copy with a candidate index added by hand. The table is printed and
written to ``benchmarks/results/bench_customer_list.md`` (``--report``).
Exit status 1 when any p95 misses its target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
from flask_migrate import upgrade
from psycopg.conninfo import make_conninfo
from sqlalchemy import func, select, text

from webapp import create_app
from webapp.config import normalise_database_url
from webapp.demo_data import insert_demo_customers
from webapp.extensions import db
from webapp.models.customer import Customer, CustomerStatus
from webapp.paging import encode_cursor
from webapp.services.search import PAGE_SIZE, CustomerQuery, list_keyset, narrow_to_view
from webapp.services.staff import create_staff, find_staff_by_email
from webapp.services.tags import tag_key

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SEED = 20_261_121
STAFF_EMAIL = "bench@example.com"
STAFF_PASSWORD = "bench-password-123"
PG_CUSTOMERS, SQLITE_CUSTOMERS = 1_000_000, 100_000
# The full-scale data sets; other scales get their own (tally_bench_20000, …).
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/tally_bench"
SQLITE_FILE = RESULTS / "tally_bench.sqlite"
REPORT = RESULTS / "bench_customer_list.md"
WARMUP = 5
LIST_TARGET_MS = 50.0
SEARCH_TARGET_MS = 100
COUNT_TARGET_MS = 100.0  # the match count: a request of its own after the page
# Tags put on the demo customers: (name, every n-th customer id). "rare" is 0: 20 customers.
BENCH_TAGS = (("common", 3), ("one-percent", 100), ("rare", 0))
RARE_TAGGED = 20
TAG_DEEP_PAGE = 200
HTMX = {"HX-Request": "true", "HX-Target": "results", "HX-Current-URL": "http://localhost/"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- databases


def _admin_url(url: str) -> tuple[str, str]:
    """(libpq URL of the maintenance database, name of the bench database)."""
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    name = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/postgres")), name


def _pg_rows(connection, name: str) -> int | None:
    """Customers in the bench database, or None when it or its table is missing."""
    if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        return None
    with psycopg.connect(make_conninfo(connection.info.dsn, dbname=name)) as bench:
        if bench.execute("SELECT to_regclass('customers')").fetchone()[0] is None:
            return None
        return bench.execute("SELECT count(*) FROM customers").fetchone()[0]


def _mismatch(backend: str, where: str, rows: int, count: int) -> SystemExit:
    return SystemExit(
        f"{backend}: {where} holds {rows:,} customers, not {count:,}. Pass --fresh to "
        "rebuild it, or leave the database/file flags out to get one named after the scale."
    )


def prepare_postgresql(url: str, count: int, fresh: bool) -> None:
    """Create the database if missing; with ``fresh`` drop it first. A database with
    another number of customers is refused, never silently rebuilt (others reuse it)."""
    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as connection:
        rows = _pg_rows(connection, name)
        if rows is not None and fresh:
            log(f"postgresql: dropping database {name} ({rows:,} customers)")
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        elif rows not in (None, 0, count):
            raise _mismatch("postgresql", f"database {name}", rows, count)
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            log(f"postgresql: creating database {name}")
            connection.execute(f'CREATE DATABASE "{name}"')


def prepare_sqlite(path: Path, count: int, fresh: bool) -> None:
    """Delete the file with ``fresh``; refuse one with another number of customers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not fresh:
        with sqlite3.connect(path) as connection:
            try:
                rows = connection.execute("SELECT count(*) FROM customers").fetchone()[0]
            except sqlite3.OperationalError:
                rows = 0
        connection.close()
        if rows not in (0, count):
            raise _mismatch("sqlite", str(path), rows, count)
    if fresh:
        log(f"sqlite: deleting {path}")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def make_app(url: str):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(url),
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
        }
    )


@dataclass
class Fill:
    rows: int
    reused: bool
    insert_s: float = 0.0
    vacuum_s: float = 0.0
    when: str = ""


FILL_TIMES = RESULTS / "fill_times.json"


def remember_fill(backend: str, filled: Fill) -> None:
    """Keep the last fill time so a run that reuses the data can still report it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    known = json.loads(FILL_TIMES.read_text()) if FILL_TIMES.exists() else {}
    known[f"{backend}:{filled.rows}"] = {
        "rows": filled.rows,
        "insert_s": filled.insert_s,
        "vacuum_s": filled.vacuum_s,
        "when": filled.when,
    }
    FILL_TIMES.write_text(json.dumps(known, indent=2) + "\n")


def recall_fill(backend: str, rows: int) -> Fill:
    known = json.loads(FILL_TIMES.read_text()) if FILL_TIMES.exists() else {}
    entry = known.get(f"{backend}:{rows}")
    if entry:
        return Fill(rows, True, entry["insert_s"], entry["vacuum_s"], entry["when"])
    return Fill(rows, True)


def fill(app, backend: str, count: int) -> Fill:
    """Migrate, then make sure the table holds exactly ``count`` demo customers."""
    with app.app_context():
        upgrade()
        existing = db.session.scalar(select(func.count()).select_from(Customer)) or 0
        if existing == count:
            log(f"{backend}: reusing {existing:,} customers")
            result = recall_fill(backend, count)
        else:
            if existing:
                raise SystemExit(f"{backend}: {existing:,} customers, want {count:,}; use --fresh")
            log(f"{backend}: inserting {count:,} demo customers (seed {SEED})")
            done = 0
            step = max(count // 10, 1)

            def progress(n: int) -> None:
                nonlocal done
                before, done = done, done + n
                if before // step != done // step or done == count:
                    elapsed = time.perf_counter() - started
                    log(f"  {done:>10,} rows  {elapsed:6.1f} s")

            started = time.perf_counter()
            insert_demo_customers(db.session, count, seed=SEED, progress=progress)
            result = Fill(rows=count, reused=False, insert_s=time.perf_counter() - started)
            result.when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
            log(f"{backend}: demo-data inserted {count:,} rows in {result.insert_s:.1f} s")
            if backend == "postgresql":
                # Autovacuum does this within a minute of a bulk load (insert threshold);
                # do it now so the first measurements see the steady state, not hint-bit
                # writes and a visibility map that rules out index-only scans.
                started = time.perf_counter()
                with db.engine.connect() as connection:
                    connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                    connection.execute(text("VACUUM (ANALYZE) customers"))
                result.vacuum_s = time.perf_counter() - started
                log(f"{backend}: VACUUM (ANALYZE) took {result.vacuum_s:.1f} s")
            remember_fill(backend, result)
        if find_staff_by_email(db.session, STAFF_EMAIL) is None:
            create_staff(db.session, STAFF_EMAIL, "Bench Agent", "agent", STAFF_PASSWORD)
        db.session.remove()
    return result


def tag_customers(app, backend: str, count: int) -> None:
    """Put the bench tags on the demo customers by SQL, each tag with its rows in one
    transaction. A tag that already exists is skipped, so a reused database is tagged
    once (and one tagged by an older run of this script keeps its rows)."""
    added = []
    with app.app_context():
        for name, every in BENCH_TAGS:
            key = tag_key(name)
            if db.session.scalar(text("SELECT id FROM tags WHERE key = :key"), {"key": key}):
                continue
            if every:
                step, rest = every, 0
            else:  # RARE_TAGGED customers spread evenly over the ids 1..count
                step = max(count // RARE_TAGGED, 1)
                rest = step // 2
            started = time.perf_counter()
            db.session.execute(
                text("INSERT INTO tags (name, key) VALUES (:name, :key)"),
                {"name": name, "key": key},
            )
            tag_id = db.session.scalar(text("SELECT id FROM tags WHERE key = :key"), {"key": key})
            rows = db.session.execute(
                text(
                    "INSERT INTO customer_tags (customer_id, tag_id) "
                    "SELECT id, :tag_id FROM customers WHERE id % :step = :rest"
                ),
                {"tag_id": tag_id, "step": step, "rest": rest},
            ).rowcount
            db.session.commit()
            added.append(name)
            elapsed = time.perf_counter() - started
            log(f"{backend}: tagged {rows:,} customers {name!r} in {elapsed:.1f} s")
        if added:
            # As after the fill: planner statistics, and on PostgreSQL a visibility map
            # that allows index-only scans of customer_tags.
            with db.engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                if backend == "postgresql":
                    connection.execute(text("VACUUM (ANALYZE) tags, customer_tags"))
                else:
                    connection.execute(text("ANALYZE tags"))
                    connection.execute(text("ANALYZE customer_tags"))
        else:
            log(f"{backend}: reusing the tags {', '.join(name for name, _ in BENCH_TAGS)}")
        db.session.remove()


# --------------------------------------------------------------------------- search terms


# Balances set by SQL on the demo customers (which have none): every 7th owes in its
# billing currency, every 11th (not a 7th) is in credit, every 50th also owes in a second
# currency. Only the list's columns are written (balance_minor and the three flags kept
# with every entry), not ledger entries: the list reads those columns alone.
BALANCE_SQL = """
UPDATE customers SET
  balance_minor = CASE WHEN id % 7 = 0 THEN -(id % 100000) - 100
                       WHEN id % 11 = 0 THEN (id % 50000) + 100 ELSE 0 END,
  owes_any = (id % 7 = 0 OR id % 50 = 0),
  credit_any = (id % 7 <> 0 AND id % 11 = 0),
  other_currencies = CASE WHEN id % 50 = 0 THEN 1 ELSE 0 END
"""


def give_balances(app, backend: str) -> None:
    """Write BALANCE_SQL once: a database where any customer owes is left as it is."""
    with app.app_context():
        if db.session.scalar(select(Customer.id).where(Customer.owes_any).limit(1)):
            log(f"{backend}: reusing the balances")
        else:
            started = time.perf_counter()
            rows = db.session.execute(text(BALANCE_SQL)).rowcount
            db.session.commit()
            elapsed = time.perf_counter() - started
            log(f"{backend}: balances on {rows:,} customers in {elapsed:.1f} s")
            with db.engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                if backend == "postgresql":
                    connection.execute(text("VACUUM (ANALYZE) customers"))
                else:
                    connection.execute(text("ANALYZE customers"))
        db.session.remove()


def match_count(term: str, tag: str = "") -> int:
    """Rows the list shows for this search and tag (default view: archived hidden),
    all pages."""
    query = CustomerQuery(q=term, tag=tag_key(tag))
    statement = narrow_to_view(query, select(func.count()).select_from(Customer))
    return db.session.scalar(statement) or 0


@dataclass
class Terms:
    rare: list[tuple[str, int]] = field(default_factory=list)
    common: list[tuple[str, int]] = field(default_factory=list)
    full_name: list[tuple[str, int]] = field(default_factory=list)
    tags: list[tuple[str, int]] = field(default_factory=list)  # (tag name, rows in the view)
    tag_search: list[tuple[str, int]] = field(default_factory=list)  # common tag + surname
    visible: int = 0  # rows in the default view (archived hidden)


def pick_terms(app, count: int) -> Terms:
    """Search terms taken from the data itself, with how many rows each matches.

    rare: email local parts of customers spread over the table (a handful of hits);
    common: the most frequent surnames; full_name: "first last" of private customers,
    two words that are each common but rare together.
    """
    terms = Terms()
    rng = random.Random(SEED)
    with app.app_context():
        terms.visible = match_count("")
        candidates = sorted(rng.sample(range(1, count + 1), min(count, 400)))
        rows = db.session.execute(
            select(Customer.email, Customer.first_name, Customer.last_name, Customer.company)
            .where(Customer.id.in_(candidates))
            .where(Customer.status != CustomerStatus.ARCHIVED)
        ).all()
        for email, *_ in rows:
            if len(terms.rare) == 12:
                break
            local = email.split("@", 1)[0]
            hits = match_count(local)
            if 1 <= hits <= 10:
                terms.rare.append((local, hits))
        for _email, first, last, company in rows:
            if len(terms.full_name) == 12:
                break
            if company or not first.isascii() or not last.isascii():
                continue
            name = f"{first} {last}"
            hits = match_count(name)
            if 1 <= hits <= 50:
                terms.full_name.append((name, hits))
        frequent = db.session.execute(
            select(Customer.last_name, func.count())
            .where(func.length(Customer.last_name) >= 4)
            .group_by(Customer.last_name)
            .order_by(func.count().desc(), Customer.last_name)
            .limit(5)
        ).all()
        terms.common = [(name, match_count(name)) for name, _ in frequent]
        terms.tags = [(name, match_count("", name)) for name, _ in BENCH_TAGS]
        terms.tag_search = [(name, match_count(name, "common")) for name, _ in frequent]
        db.session.remove()
    return terms


def describe(terms: list[tuple[str, int]]) -> str:
    return ", ".join(f"{term!r} ({hits:,})" for term, hits in terms)


# --------------------------------------------------------------------------- measuring


@dataclass
class Case:
    name: str
    urls: list[str]
    target_ms: float
    htmx: bool = False


@dataclass
class Result:
    backend: str
    rows: int
    case: Case
    p50: float
    p95: float
    slowest: list[tuple[str, float]] = field(default_factory=list)  # (url, p95 ms)

    @property
    def ok(self) -> bool:
        return self.p95 < self.case.target_ms


def keyset_url(app, query: CustomerQuery, page: int) -> str:
    """The list URL of ``page`` of a view, as its Next links lead there: ``after=`` the
    cursor of the row before the page (found once here, at set-up, by OFFSET)."""
    if page <= 1:
        return "/customers?" + query.url_query()
    keyset = list_keyset(query)
    statement = (
        narrow_to_view(query, select(*keyset.columns))
        .order_by(*keyset.order())
        .offset((page - 1) * PAGE_SIZE - 1)
        .limit(1)
    )
    with app.app_context():
        row = db.session.execute(statement).first()
        db.session.remove()
    return "/customers?" + query.url_query(after=encode_cursor(tuple(row)))


def cases(app, terms: Terms) -> list[Case]:
    def search(term: str) -> str:
        return "/customers?" + urlencode({"q": term})

    # Page 1000 (49,951st row on) at full scale; nearer the end on a small table.
    middle = min(1000, terms.visible // PAGE_SIZE - 5)
    deep = [keyset_url(app, CustomerQuery(), page) for page in range(middle - 4, middle + 5)]
    result = [
        Case("list page 1", ["/customers"], LIST_TARGET_MS),
        Case(f"list page {middle} (±4)", deep, LIST_TARGET_MS),
        Case("sort name desc", ["/customers?sort=name&dir=desc"], LIST_TARGET_MS),
        Case("filter country=DE", ["/customers?country=DE"], LIST_TARGET_MS),
        # Not in the brief, but the same shape: the other filters of the list.
        Case("filter currency=EUR", ["/customers?currency=EUR"], LIST_TARGET_MS),
        Case("filter status=active", ["/customers?status=active"], LIST_TARGET_MS),
        # Every currency counts (issue 16): the balance filters read the flags' partial
        # indexes, the balance sort the billing-currency column's.
        Case("filter balance=owes", ["/customers?balance=owes"], LIST_TARGET_MS),
        Case("filter balance=credit", ["/customers?balance=credit"], LIST_TARGET_MS),
        Case("filter balance=paid", ["/customers?balance=paid"], LIST_TARGET_MS),
        Case("sort balance asc", ["/customers?sort=balance&dir=asc"], LIST_TARGET_MS),
        Case("sort balance desc", ["/customers?sort=balance&dir=desc"], LIST_TARGET_MS),
        Case(
            "filter owes, sort balance asc",
            ["/customers?balance=owes&sort=balance&dir=asc"],
            LIST_TARGET_MS,
        ),
    ]
    searches = [
        ("search rare (email)", terms.rare),
        ("search common (surname)", terms.common),
        ("search first+last name", terms.full_name),
    ]
    for name, found in searches:
        if not found:
            log(f"no terms found for {name}; skipped")
            continue
        urls = [search(term) for term, _ in found]
        result.append(Case(name, urls, SEARCH_TARGET_MS))
        result.append(Case(f"{name}, htmx", urls, SEARCH_TARGET_MS, htmx=True))

    # The tag filter, newest first: a list request, so the list target, also with a search.
    def tagged(name: str, **args) -> str:
        return "/customers?" + urlencode({"tag": tag_key(name), **args})

    for name, visible in terms.tags:
        if visible:
            result.append(Case(f"tag {name}", [tagged(name)], LIST_TARGET_MS))
    common = dict(terms.tags).get("common", 0)
    # Page 200 (rows 9,951–10,000 of the tag) at full scale; nearer the end on a small table.
    deep_page = min(TAG_DEEP_PAGE, common // PAGE_SIZE - 5)
    if deep_page > 1:
        url = keyset_url(app, CustomerQuery(tag=tag_key("common")), deep_page)
        result.append(Case(f"tag common page {deep_page}", [url], LIST_TARGET_MS))
    found = [(term, hits) for term, hits in terms.tag_search if hits]
    if found:
        urls = [tagged("common", q=term) for term, _ in found]
        result.append(Case("tag common + search surname", urls, LIST_TARGET_MS))

    # The match count (its own htmx request after the page shows; capped at 10,000).
    def counted(url: str) -> str:
        return url.replace("/customers?", "/customers/count?", 1)

    result.append(Case("count: all", ["/customers/count"], COUNT_TARGET_MS, htmx=True))
    result.append(
        Case("count: country=DE", [counted("/customers?country=DE")], COUNT_TARGET_MS, htmx=True)
    )
    if common:
        url = counted(tagged("common"))
        result.append(Case("count: tag common", [url], COUNT_TARGET_MS, htmx=True))
    if terms.common:
        urls = [counted(search(term)) for term, _ in terms.common]
        result.append(Case("count: search common (surname)", urls, COUNT_TARGET_MS, htmx=True))
    return result


def signed_in_client(app):
    client = app.test_client()
    response = client.post("/sign-in", data={"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    if response.status_code != 303:
        raise SystemExit(f"sign-in failed: HTTP {response.status_code}")
    return client


def measure(client, case: Case, requests: int) -> dict[str, list[float]]:
    """Timings in ms per URL (the URLs of a case take turns)."""
    headers = HTMX if case.htmx else {}
    timings: dict[str, list[float]] = {url: [] for url in case.urls}
    for index in range(WARMUP + requests):
        url = case.urls[index % len(case.urls)]
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        body = response.get_data()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
        if index == 0:
            fragment = not body.lstrip().startswith(b"<!")
            if fragment != case.htmx:
                raise SystemExit(f"{url}: expected {'fragment' if case.htmx else 'page'}")
            shown = b'id="match-count"' if "/customers/count" in url else b"<tbody>"
            if shown not in body:
                raise SystemExit(f"{url}: no result rows")
        if index >= WARMUP:
            timings[url].append(elapsed)
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


@dataclass
class BackendRun:
    results: list[Result]
    fill: Fill
    version: str
    notes: str
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after


def run_backend(backend: str, url: str, count: int, args) -> BackendRun:
    if backend == "postgresql":
        prepare_postgresql(url, count, args.fresh)
    else:
        prepare_sqlite(args.sqlite_file, count, args.fresh)
    app = make_app(url)
    filled = fill(app, backend, count)
    tag_customers(app, backend, count)
    give_balances(app, backend)
    terms = pick_terms(app, count)
    log(f"{backend}: rare terms: {describe(terms.rare)}")
    log(f"{backend}: common terms: {describe(terms.common)}")
    log(f"{backend}: first+last terms: {describe(terms.full_name)}")
    log(f"{backend}: tags: {describe(terms.tags)}")
    log(f"{backend}: common tag + surname: {describe(terms.tag_search)}")
    with app.app_context():
        if backend == "postgresql":
            version = db.session.scalar(text("SHOW server_version"))
        else:
            version = db.session.scalar(text("SELECT sqlite_version()"))
        db.session.remove()
    client = signed_in_client(app)
    load_before = wait_for_quiet()
    if load_before > (os.cpu_count() or 1) * 0.75:
        log(f"warning: load average {load_before:.2f}: other work will inflate the timings")
    results = []
    for case in cases(app, terms):
        per_url = measure(client, case, args.requests)
        timings = [ms for values in per_url.values() for ms in values]
        result = Result(backend, count, case, statistics.median(timings), p95(timings))
        if len(per_url) > 1:
            by_url = [(url, p95(values)) for url, values in per_url.items() if len(values) > 1]
            result.slowest = sorted(by_url, key=lambda item: -item[1])[:3]
        results.append(result)
        log(
            f"{backend}: {case.name:<34} p50 {result.p50:7.1f} ms  p95 {result.p95:7.1f} ms"
            f"  {'ok' if result.ok else 'MISS'}"
        )
        if not result.ok:
            for url, ms in result.slowest:
                log(f"    p95 {ms:7.1f} ms  {url}")
    with app.app_context():
        db.engine.dispose()
    notes = (
        f"{backend} search terms (matches in the default view): "
        f"rare {describe(terms.rare)}; common {describe(terms.common)}; "
        f"first+last {describe(terms.full_name)}; tags {describe(terms.tags)}; "
        f"tag common + surname {describe(terms.tag_search)}."
    )
    return BackendRun(results, filled, version, notes, (load_before, os.getloadavg()[0]))


def wait_for_quiet(below: float = 1.0, patience: float = 300.0) -> float:
    """Wait (up to ``patience`` seconds) for the 1-minute load average to fall under
    ``below``, so a fill just finished does not inflate the timings; the load it got to."""
    deadline = time.monotonic() + patience
    load = os.getloadavg()[0]
    if load >= below:
        log(f"waiting for the load average ({load:.2f}) to fall under {below:.1f}…")
    while load >= below and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()[0]
    return load


# --------------------------------------------------------------------------- report


def machine() -> str:
    cpu = "unknown CPU"
    ram = "? GiB"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), {ram} RAM"


def report(runs: dict[str, BackendRun]) -> str:
    lines = [
        "| backend | rows | request | p50 ms | p95 ms | target | ok |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for run in runs.values():
        for r in run.results:
            lines.append(
                f"| {r.backend} | {r.rows:,} | {r.case.name} | {r.p50:.1f} | {r.p95:.1f} "
                f"| < {r.case.target_ms:.0f} | {'yes' if r.ok else '**no**'} |"
            )
    lines.append("")
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    software = [f"Python {platform.python_version()}"]
    names = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
    software += [f"{names[backend]} {run.version}" for backend, run in runs.items()]
    lines.append(f"{stamp} · {machine()} · {', '.join(software)}")
    lines.append("")
    busy = (os.cpu_count() or 1) * 0.75
    for backend, run in runs.items():
        before, after = run.load
        warning = " (busy machine: timings inflated)" if max(before, after) > busy else ""
        lines.append(
            f"- load average while measuring {backend}: {before:.2f} → {after:.2f}{warning}"
        )
    for backend, run in runs.items():
        filled = run.fill
        if not filled.insert_s:
            lines.append(f"- demo-data {backend}: {filled.rows:,} rows reused (--fresh to time)")
            continue
        rate = filled.rows / filled.insert_s
        extra = f", then VACUUM ANALYZE {filled.vacuum_s:.1f} s" if filled.vacuum_s else ""
        reused = f" (measured {filled.when}; data reused this run)" if filled.reused else ""
        lines.append(
            f"- demo-data {backend}: {filled.rows:,} rows in {filled.insert_s:.1f} s "
            f"({rate:,.0f} rows/s){extra}{reused}"
        )
    for run in runs.values():
        lines.append(f"- {run.notes}")
    for run in runs.values():
        for r in run.results:
            if not r.ok and r.slowest:
                slowest = ", ".join(f"{url} {ms:.0f} ms" for url, ms in r.slowest)
                lines.append(f"- miss {r.backend} {r.case.name}: slowest (p95) {slowest}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--pg-customers", type=int, default=PG_CUSTOMERS, metavar="N", help="default 1,000,000")
    add(
        "--sqlite-customers",
        type=int,
        default=SQLITE_CUSTOMERS,
        metavar="N",
        help="default 100,000",
    )
    add("--requests", type=int, default=200, metavar="N", help="timed requests per case")
    add("--only", choices=["sqlite", "postgresql"], help="run one backend")
    add("--fresh", action="store_true", help="rebuild the database(s) used by this run")
    add(
        "--pg-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help=f"PostgreSQL database, created if missing (default {DEFAULT_PG_URL}, "
        "or tally_bench_N when --pg-customers is not the default)",
    )
    add(
        "--sqlite-file",
        type=Path,
        help="default benchmarks/results/tally_bench.sqlite (tally_bench_N.sqlite at other scales)",
    )
    add("--report", type=Path, default=REPORT, help="also write the table here")
    args = parser.parse_args(argv)
    # create_app reads the environment: keep its instance folder (and the secret key
    # it generates there) out of the working tree's instance/.
    os.environ.setdefault("TALLY_INSTANCE_PATH", str(RESULTS / "instance"))
    if args.requests < 2:
        parser.error("--requests must be at least 2")
    if args.pg_url is None:
        args.pg_url = DEFAULT_PG_URL
        if args.pg_customers != PG_CUSTOMERS:
            args.pg_url += f"_{args.pg_customers}"
    if args.sqlite_file is None:
        args.sqlite_file = SQLITE_FILE
        if args.sqlite_customers != SQLITE_CUSTOMERS:
            args.sqlite_file = RESULTS / f"tally_bench_{args.sqlite_customers}.sqlite"

    plan = [
        ("sqlite", f"sqlite:///{args.sqlite_file.resolve()}", args.sqlite_customers),
        ("postgresql", args.pg_url, args.pg_customers),
    ]
    runs = {
        backend: run_backend(backend, url, count, args)
        for backend, url, count in plan
        if args.only in (None, backend)
    }
    table = report(runs)
    print(table)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(table + "\n")
    return 0 if all(r.ok for run in runs.values() for r in run.results) else 1


if __name__ == "__main__":
    sys.exit(main())
