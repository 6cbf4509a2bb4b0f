"""Payment-link benchmark: server time of the public page ``/pay/<token>`` and its weight.

Target (the payment-link issue): with 1,000,000 customers on PostgreSQL the public
page answers in under 10 ms at p95 (server time), and the page (HTML of a typical
page, 20 entries, plus ``/static/pay.css``) weighs under 15 KB together.

Uses the PostgreSQL database of bench_customer_list.py (``tally_bench``, 1,000,000
demo customers) with the 5,000,000 ledger entries and balances of bench_money.py,
both created and filled the same way if missing; ``upgrade()`` runs first, so the
schema (payment_links and customer_events included) is the migrations' at the time
of the run.

Links are made for ``--links`` random customers that have ledger entries (random
ids kept when they have an entry) with ``payment_links.generate`` (expires in 90
days), as the bench staff member, and their paths taken from ``link_url``. Then,
through the Flask test client, no sign-in, the wall time of whole requests through
the WSGI app (routing, rate limit, token lookup, the view count update and its
commit, queries, template; no network), p50 and p95 over ``--requests`` requests
after a warm-up, the links taking turns: the page (HTTP 200), and an unknown token
(the "not valid" page, HTTP 404). The rate limit is raised out of the way
(``PAYMENT_LINK_RATE_LIMIT`` 10^9) and counts in-process (no REDIS_URL), so it
costs what it costs without Redis. Page weight: the HTML of a page with 20 entries
(the most the page shows) plus pay.css as served, raw and gzip (level 6, for
information).

    .venv/bin/python benchmarks/bench_payment_link.py                  # full scale
    .venv/bin/python benchmarks/bench_payment_link.py --customers 20000 --requests 100
    .venv/bin/python benchmarks/bench_payment_link.py --wait-for-quiet 600

Other scales use their own databases (``tally_bench_20000``), as the other
benchmarks do. The benchmark's links and the history lines they wrote (those of the
bench staff member) are deleted afterwards, and at the start should a run have been
interrupted, so re-runs measure the same data. The tables are printed and written to
``benchmarks/results/bench_payment_link.md`` (``--report``); exit status 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import random
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import bench_customer_list as base
import bench_money as money
import psycopg

from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.services.payment_links import RECENT_ENTRIES, generate, link_url

RESULTS = base.RESULTS
REPORT = RESULTS / "bench_payment_link.md"
CUSTOMERS = base.PG_CUSTOMERS
SEED = 20_261_123
WARMUP = 20
PAGE_TARGET_MS = 10.0
WEIGHT_TARGET_BYTES = 15 * 1024  # 15 KB, HTML + CSS, uncompressed
CSS_PATH = "/static/pay.css"


def log(message: str) -> None:
    base.log(message)


# --------------------------------------------------------------------------- data


def remove_links(url: str, staff_id: int) -> tuple[int, int]:
    """The bench staff member's payment links and the history lines about them (emails
    that point at a link would go first; the benchmark sends none)."""
    with psycopg.connect(money.libpq_url(url)) as connection:
        connection.execute(
            "UPDATE emails SET payment_link_id = NULL WHERE payment_link_id IN "
            "(SELECT id FROM payment_links WHERE created_by_id = %s)",
            (staff_id,),
        )
        links = connection.execute(
            "DELETE FROM payment_links WHERE created_by_id = %s", (staff_id,)
        ).rowcount
        events = connection.execute(
            "DELETE FROM customer_events WHERE staff_id = %s AND kind LIKE 'payment\\_link.%%'",
            (staff_id,),
        ).rowcount
    return links, events


def pick_customers(url: str, count: int, rng: random.Random) -> list[tuple[int, int]]:
    """(customer id, entries shown on the page) for ``count`` distinct random customers
    with at least one ledger entry."""
    chosen: dict[int, int] = {}
    with psycopg.connect(money.libpq_url(url)) as connection:
        top = connection.execute("SELECT max(id) FROM customers").fetchone()[0]
        for _ in range(100):
            ids = rng.sample(range(1, top + 1), min(top, 3 * count))
            rows = connection.execute(
                """SELECT c.id, (SELECT count(*) FROM (SELECT 1 FROM ledger_entries e
                                 WHERE e.customer_id = c.id LIMIT %s) shown)
                   FROM customers c WHERE c.id = ANY(%s)
                     AND EXISTS (SELECT 1 FROM ledger_entries e WHERE e.customer_id = c.id)""",
                (RECENT_ENTRIES, ids),
            ).fetchall()
            for customer_id, shown in rows:
                chosen.setdefault(customer_id, shown)
            if len(chosen) >= count:
                break
    picked = sorted(chosen.items())
    rng.shuffle(picked)
    return picked[:count]


@dataclass
class Link:
    customer_id: int
    shown: int  # entries on the page
    path: str


def make_links(app, picked: list[tuple[int, int]], staff_id: int) -> list[Link]:
    links = []
    started = time.perf_counter()
    with app.app_context():
        for customer_id, shown in picked:
            customer = db.session.get(Customer, customer_id)
            link = generate(db.session, customer, staff_id, "90")
            links.append(Link(customer_id, shown, urlsplit(link_url(link)).path))
            db.session.remove()
    log(f"generated {len(links)} payment links in {time.perf_counter() - started:.1f} s")
    return links


# --------------------------------------------------------------------------- measuring


def timed_get(client, path: str, status: int) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = client.get(path)
    body = response.get_data()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != status:
        raise SystemExit(f"{path}: HTTP {response.status_code}, expected {status}")
    return elapsed, body


def measure(client, paths: list[str], status: int, requests: int) -> list[float]:
    timings = []
    for index in range(WARMUP + requests):
        elapsed, _ = timed_get(client, paths[index % len(paths)], status)
        if index >= WARMUP:
            timings.append(elapsed)
    return timings


@dataclass
class Weight:
    shown: int
    html: int
    html_gzip: int
    css: int
    css_gzip: int

    @property
    def total(self) -> int:
        return self.html + self.css

    @property
    def total_gzip(self) -> int:
        return self.html_gzip + self.css_gzip

    @property
    def ok(self) -> bool:
        return self.total < WEIGHT_TARGET_BYTES


def page_weight(client, links: list[Link]) -> tuple[Weight, list[int]]:
    """The page of a customer with a full page of entries (or the fullest there is),
    and the HTML sizes of all the pages, for the spread."""
    full = max(links, key=lambda link: link.shown)
    _, html = timed_get(client, full.path, 200)
    response = client.get(CSS_PATH)
    css = response.get_data()
    response.close()
    if response.status_code != 200:
        raise SystemExit(f"{CSS_PATH}: HTTP {response.status_code}")
    if html.count(b"<tr>") - 1 != full.shown:  # the header row
        raise SystemExit(f"{full.path}: expected {full.shown} entries on the page")
    sizes = sorted(len(timed_get(client, link.path, 200)[1]) for link in links)
    weight = Weight(
        full.shown,
        len(html),
        len(gzip.compress(html, 6)),
        len(css),
        len(gzip.compress(css, 6)),
    )
    return weight, sizes


@dataclass
class Result:
    name: str
    rows: int
    p50: float
    p95: float
    target_ms: float

    @property
    def ok(self) -> bool:
        return self.p95 < self.target_ms


def summarise(name: str, rows: int, timings: list[float]) -> Result:
    result = Result(name, rows, statistics.median(timings), base.p95(timings), PAGE_TARGET_MS)
    log(
        f"{name:<40} p50 {result.p50:6.2f} ms  p95 {result.p95:6.2f} ms  "
        f"{'ok' if result.ok else 'MISS'}"
    )
    return result


# --------------------------------------------------------------------------- report


def kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def report(
    results: list[Result],
    weight: Weight,
    sizes: list[int],
    links: list[Link],
    customers: int,
    version: str,
    loads: list[float],
    notes: list[str],
) -> str:
    lines = [
        "| backend | rows | request | p50 ms | p95 ms | target | ok |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        ok = "yes" if r.ok else "**no**"
        lines.append(
            f"| postgresql | {r.rows:,} | {r.name} | {r.p50:.1f} | {r.p95:.1f} "
            f"| < {r.target_ms:.0f} | {ok} |"
        )
    lines += [
        "",
        "| page weight | bytes | gzip | target | ok |",
        "|---|---:|---:|---:|---|",
        f"| HTML, page with {weight.shown} entries | {weight.html:,} | {weight.html_gzip:,} "
        "| — | info |",
        f"| {CSS_PATH} | {weight.css:,} | {weight.css_gzip:,} | — | info |",
        f"| together | {weight.total:,} ({kb(weight.total)}) | {weight.total_gzip:,} "
        f"| < {WEIGHT_TARGET_BYTES // 1024} KB | {'yes' if weight.ok else '**no**'} |",
        "",
    ]
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines.append(
        f"{stamp} · {base.machine()} · Python {platform.python_version()}, PostgreSQL {version}"
    )
    lines.append("")
    busy = (os.cpu_count() or 1) * 0.75
    before, after = loads
    warning = " (busy machine: timings inflated)" if max(before, after) > busy else ""
    shown = sorted(link.shown for link in links)
    lines += [
        f"- load average (1 min) while measuring: {before:.2f} → {after:.2f}{warning}",
        f"- rows: customers; {customers:,} customers, {customers * money.ENTRIES_PER_CUSTOMER:,} "
        f"ledger entries (bench_money.py); {len(links)} payment links for random customers "
        f"with entries (entries on their pages: median {shown[len(shown) // 2]}, "
        f"{sum(1 for n in shown if n == RECENT_ENTRIES)} with a full page of {RECENT_ENTRIES})",
        "- server time: wall time of the whole request through the Flask test client "
        "(no network, no sign-in), the links taking turns, after a warm-up of "
        f"{WARMUP}; every 200 counts a view (an UPDATE and a commit). Rate limit "
        "in-process (no REDIS_URL), raised out of the way",
        "- 404: a random token of the same length as a real one (the same "
        '"not valid" page as a revoked or expired link)',
        f"- HTML size over all {len(sizes)} pages: min {sizes[0]:,}, median "
        f"{sizes[len(sizes) // 2]:,}, max {sizes[-1]:,} bytes; gzip level 6 for "
        "information (the target is on the uncompressed bytes); KB = 1024 bytes",
    ]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--customers", type=int, default=CUSTOMERS, metavar="N", help="default 1,000,000")
    add("--links", type=int, default=200, metavar="N", help="payment links to make (200)")
    add("--requests", type=int, default=500, metavar="N", help="timed requests per case (500)")
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
    add("--report", type=Path, default=REPORT, help="also write the tables here")
    args = parser.parse_args(argv)
    os.environ.setdefault("TALLY_INSTANCE_PATH", str(RESULTS / "instance"))
    os.environ.pop("REDIS_URL", None)  # the rate limit counts in this process
    if args.requests < 2 or args.links < 1 or args.customers < 1:
        parser.error("--requests must be at least 2, --links and --customers positive")
    url = args.pg_url or base.DEFAULT_PG_URL
    if args.pg_url is None and args.customers != CUSTOMERS:
        url += f"_{args.customers}"

    base.prepare_postgresql(url, args.customers, fresh=False)
    app = base.make_app(url)
    app.config["PAYMENT_LINK_RATE_LIMIT"] = 10**9
    base.fill(app, "postgresql", args.customers)  # migrates and adds the staff member
    with app.app_context():
        db.engine.dispose()
    entries = args.customers * money.ENTRIES_PER_CUSTOMER
    money.fill_ledger(url, entries, fresh=False, seed=money.SEED)
    with psycopg.connect(money.libpq_url(url)) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
        staff_id = connection.execute(
            "SELECT id FROM staff WHERE lower(email) = %s", (base.STAFF_EMAIL,)
        ).fetchone()[0]
    left = remove_links(url, staff_id)
    if any(left):
        log(f"removed {left[0]} link(s) and {left[1]} history line(s) left by an earlier run")

    rng = random.Random(SEED)
    notes = []
    try:
        picked = pick_customers(url, args.links, rng)
        links = make_links(app, picked, staff_id)
        client = app.test_client()
        bad = [f"/pay/{secrets.token_urlsafe(32)}" for _ in range(50)]
        if args.wait_for_quiet:
            money.wait_for_quiet(args.wait_for_quiet)
        before = os.getloadavg()[0]
        pages = measure(client, [link.path for link in links], 200, args.requests)
        invalid = measure(client, bad, 404, args.requests)
        loads = [before, os.getloadavg()[0]]
        results = [
            summarise("public page /pay/<token> (200)", args.customers, pages),
            summarise("public page, unknown token (404)", args.customers, invalid),
        ]
        weight, sizes = page_weight(client, links)
        log(
            f"page weight: HTML {weight.html:,} + CSS {weight.css:,} = {weight.total:,} bytes "
            f"(gzip {weight.total_gzip:,}) {'ok' if weight.ok else 'MISS'}"
        )
        with psycopg.connect(money.libpq_url(url)) as connection:
            views = connection.execute(
                "SELECT coalesce(sum(view_count), 0) FROM payment_links WHERE created_by_id = %s",
                (staff_id,),
            ).fetchone()[0]
        notes.append(f"views counted on the links: {views:,}")
    finally:
        with app.app_context():
            db.engine.dispose()
        removed = remove_links(url, staff_id)
        log(f"clean-up: {removed[0]} link(s) and {removed[1]} history line(s) removed")
    if args.customers != CUSTOMERS:
        notes.append(f"the target is for {CUSTOMERS:,} customers; this run had {args.customers:,}")

    table = report(results, weight, sizes, links, args.customers, version, loads, notes)
    print(table)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(table + "\n")
    return 0 if all(r.ok for r in results) and weight.ok else 1


if __name__ == "__main__":
    sys.exit(main())
