"""Tally's customer list beside Flask-Admin and a bare floor, on the same PostgreSQL data.

Three systems read the database of bench_customer_list.py (``tally_bench``,
1,000,000 demo customers, tagged; created and filled the same way if missing):

- Tally: ``webapp.create_app`` signed in as the bench staff member, full-page GETs
  of ``/customers`` (deep pages by keyset: ``after=`` the cursor of the row before
  the page);
- Flask-Admin: ``benchmarks/admin_panel.py``, a ``ModelView`` of the same table
  set up as a team would for this list (same columns, 50 rows a page, newest
  first, search, filters on country, currency and status, archived customers
  left out), its own URLs (``page=`` from 0, ``sort=`` column index, ``desc=1``,
  ``search=``, ``flt0_country_equals=``);
- floor: a bare WSGI function (no Flask) that runs one query for the same 50
  rows on one psycopg connection, keyset for deep pages, and returns a bare HTML
  table: what any list over this table costs at least.

All three are served in this process through werkzeug's test client (no network)
and their requests are interleaved: each round sends every case to every system
once, in a shuffled order, so a busier moment of the machine falls on all of
them alike. Before timing, every URL is requested once and each system's first
customer on the page is checked against the one the view should show (a warning
when not; Flask-Admin sorts without a tie-breaker, so a row with the same sort
value counts as the same). p50 and p95 of N timed requests per case and system
after a warm-up. The deep tag page has no Flask-Admin counterpart: "—".

Targets: Tally p95 < 50 ms on every case and < 25 ms on every first page (page 1,
searches, sorts, filter); Tally p50 at most 5 x the floor's on page 1, the sorts
and the filter; Flask-Admin p95 at least 5 x Tally's wherever Flask-Admin has the
case. Exit status 1 when one misses.

Throughput (``--throughput S``, 0 skips): each app under gunicorn with
``scripts/gunicorn.conf.py`` (the settings of scripts/serve) on a free loopback
port, one after the other: 8 client threads with keep-alive connections
(http.client) GET the list's first page for S seconds, Tally signed in over HTTP.
Target: Tally serves at least 10 x Flask-Admin's requests a second, with no
errors. The load loop runs on the same 2-core machine and its CPU competes with
the server's; it does so for both alike, so the ratio holds, not the absolute
numbers.

Flask-Admin is in the ``bench`` extra. With .venv set up (scripts/serve or
scripts/test did it once)::

    .venv/bin/python -m pip install -r requirements/bench.txt
    .venv/bin/python benchmarks/bench_list_vs_admin.py                  # full scale
    .venv/bin/python benchmarks/bench_list_vs_admin.py --wait-for-quiet 600
    .venv/bin/python benchmarks/bench_list_vs_admin.py --pg-customers 20000 \\
        --requests 10 --throughput 5                                    # quick check

The table is printed and written to ``benchmarks/results/bench_list_vs_admin.md``.
"""

from __future__ import annotations

import argparse
import html
import http.client
import os
import platform
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import admin_panel
import bench_customer_list as base
import psycopg
from sqlalchemy import select, text
from werkzeug.test import Client

from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.paging import decode_cursor, encode_cursor
from webapp.services.reference import fold_text
from webapp.services.search import PAGE_SIZE, SORT_COLUMNS, CustomerQuery, narrow_to_view
from webapp.services.tags import tag_key

ROOT = base.ROOT
RESULTS = base.RESULTS
REPORT = RESULTS / "bench_list_vs_admin.md"
SEED = 20_261_123
WARMUP = base.WARMUP  # rounds before the timed ones
TALLY, ADMIN, FLOOR = "Tally", "Flask-Admin", "floor"
SYSTEMS = (TALLY, ADMIN, FLOOR)
LIST_TARGET_MS = 50.0
FIRST_PAGE_TARGET_MS = 25.0
FLOOR_FACTOR = 5.0  # Tally p50 at most this many times the floor's
ADMIN_FACTOR = 5.0  # Flask-Admin p95 at least this many times Tally's
THROUGHPUT_FACTOR = 10.0
PAGE_MIDDLE, PAGE_DEEP, TAG_PAGE = 1_000, 10_000, base.TAG_DEEP_PAGE
QUIET_LOAD = 1.0  # --wait-for-quiet waits for a 1-minute load average below this
CLIENT_THREADS = 8
MAX_LOAD_REQUESTS = 500_000  # the load loop stops at this many requests, whatever the time
ADMIN_LIST = admin_panel.LIST_URL
ADMIN_COLUMNS = list(admin_panel.CustomerView.column_list)
FIRST_ID = re.compile(rb"C-(\d+)")


def log(message: str) -> None:
    base.log(message)


# --------------------------------------------------------------------------- the floor

# The list's sorts: column and the type of its value in a cursor (the id comes last).
FLOOR_SORTS = {
    "customer_id": ("id", int),
    "name": ("name", str),
    "company": ("company", str),
    "email": ("email", str),
    "country": ("country", str),
    "currency": ("currency", str),
    "status": ("status", str),
    "created": ("created_at", datetime),
    "balance": ("balance_minor", int),
}
FLOOR_COLUMNS = "id, name, company, email, country, currency, status, balance_minor, created_at"
FLOOR_HEAD = (
    b"<!doctype html><title>Customers</title><table><thead><tr><th>Customer ID</th>"
    b"<th>Name</th><th>Company</th><th>Email</th><th>Country</th><th>Currency</th>"
    b"<th>Status</th><th>Balance</th><th>Created</th></tr></thead><tbody>"
)


def floor_sql(connection, args: dict[str, str]) -> tuple[str, list]:
    """The one query of a page: Tally's view (archived hidden, country, tag, words of the
    search in the folded search text), its order with the id as tie-breaker, keyset."""
    sort = args.get("sort", "created")
    column, kind = FLOOR_SORTS.get(sort, FLOOR_SORTS["created"])
    descending = args.get("dir", "desc" if sort == "created" else "asc") == "desc"
    where, params = ["status <> 'archived'"], []
    if args.get("country"):
        where.append("country = %s")
        params.append(args["country"])
    if args.get("tag"):
        found = connection.execute("SELECT id FROM tags WHERE key = %s", (args["tag"],))
        row = found.fetchone()
        where.append(
            "EXISTS (SELECT 1 FROM customer_tags t WHERE t.tag_id = %s AND t.customer_id = c.id)"
        )
        params.append(row[0] if row else None)
    for term in fold_text(args.get("q", "")).split():
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("search_text LIKE %s ESCAPE '\\'")
        params.append(f"%{escaped}%")
    keys = ["id"] if column == "id" else [column, "id"]
    types = [int] if column == "id" else [kind, int]
    key = decode_cursor(args.get("after", ""), types)
    if key is not None:
        marks = ", ".join(["%s"] * len(key))
        where.append(f"({', '.join(keys)}) {'<' if descending else '>'} ({marks})")
        params.extend(key)
    direction = " DESC" if descending else ""
    order = ", ".join(name + direction for name in keys)
    sql = (
        f"SELECT {FLOOR_COLUMNS} FROM customers c WHERE {' AND '.join(where)} "
        f"ORDER BY {order} LIMIT {PAGE_SIZE}"
    )
    return sql, params


def make_floor(conninfo: str):
    """The floor's WSGI app and a function that closes its connection."""
    connection = psycopg.connect(conninfo, autocommit=True)

    def app(environ, start_response):
        args = {name: values[0] for name, values in parse_qs(environ["QUERY_STRING"]).items()}
        sql, params = floor_sql(connection, args)
        parts = [FLOOR_HEAD]
        for row in connection.execute(sql, params):
            cells = [f"C-{row[0]:06d}", *row[1:7], str(row[7]), row[8].isoformat(" ")]
            parts.append(
                (
                    "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"
                ).encode()
            )
        parts.append(b"</tbody></table>")
        body = b"".join(parts)
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app, connection.close


# --------------------------------------------------------------------------- the cases


@dataclass
class First:
    """The first row a page should show: its id and its value of the sort column."""

    id: int
    value: object


@dataclass
class Case:
    name: str
    sort: str  # Tally's sort (which column "the same row" is judged by for Flask-Admin)
    urls: dict[str, list[str]]  # system -> URLs taking turns round by round; absent: "—"
    expected: list[First | None]  # the first row of each turn
    first_page: bool = False
    near_floor: bool = False  # in the target "Tally p50 at most 5 x the floor's"


def page_of_view(app, query: CustomerQuery, page: int) -> tuple[str, First | None]:
    """(cursor of the row before ``page``, '' for page 1; the page's first row), by OFFSET
    on the view's own WHERE, once, at set-up."""
    column = SORT_COLUMNS[query.sort]
    columns = [Customer.id] if column is Customer.id else [column, Customer.id]
    order = [c.desc() if query.direction == "desc" else c.asc() for c in columns]
    start = (page - 1) * PAGE_SIZE
    statement = narrow_to_view(query, select(*columns)).order_by(*order)
    with app.app_context():
        rows = db.session.execute(statement.offset(max(start - 1, 0)).limit(2)).all()
        db.session.remove()
    cursor = encode_cursor(list(rows[0])) if start and rows else ""
    rows = rows[1:] if start else rows
    return cursor, First(rows[0][-1], rows[0][0]) if rows else None


def tally_url(query: CustomerQuery, after: str = "") -> str:
    args = query.to_args()
    if after:
        args["after"] = after
    return "/customers" + (f"?{urlencode(args)}" if args else "")


def floor_url(query: CustomerQuery, after: str = "") -> str:
    return "/" + tally_url(query, after).removeprefix("/customers")


def admin_url(**args) -> str:
    return ADMIN_LIST + (f"?{urlencode(args)}" if args else "")


def admin_sort(column: str, descending: bool) -> dict[str, int]:
    args = {"sort": ADMIN_COLUMNS.index(column)}
    if descending:
        args["desc"] = 1
    return args


def paged_pages(visible: int) -> tuple[int, int]:
    """Pages 1,000 and 10,000 at full scale; on a smaller table the next-to-last page and
    a tenth of the way there."""
    last = max((visible - 1) // PAGE_SIZE + 1, 1)
    deep = min(PAGE_DEEP, max(last - 1, 2))
    return min(PAGE_MIDDLE, max(deep // 10, 2)), deep


def build_cases(app, terms: base.Terms) -> list[Case]:
    default = CustomerQuery()
    result = []

    def one(name, query, admin_args, first_page, near_floor, page=1):
        cursor, first = page_of_view(app, query, page)
        urls = {TALLY: [tally_url(query, cursor)], FLOOR: [floor_url(query, cursor)]}
        if admin_args is not None:
            urls[ADMIN] = [admin_url(**admin_args)]
        result.append(Case(name, query.sort, urls, [first], first_page, near_floor))

    one("page 1", default, {}, True, True)
    for page in paged_pages(terms.visible):
        start = (page - 1) * PAGE_SIZE + 1
        one(f"page {page:,} (row {start:,} on)", default, {"page": page - 1}, False, False, page)

    searches = [
        ("search rare (email)", terms.rare),
        ("search common (surname)", terms.common[:1]),
    ]
    for name, found in searches:
        if not found:
            log(f"no terms found for {name}; skipped")
            continue
        case = Case(name, "created", {TALLY: [], ADMIN: [], FLOOR: []}, [], True)
        for term, _hits in found:
            query = CustomerQuery(q=term)
            case.urls[TALLY].append(tally_url(query))
            case.urls[ADMIN].append(admin_url(search=term))
            case.urls[FLOOR].append(floor_url(query))
            case.expected.append(page_of_view(app, query, 1)[1])
        result.append(case)

    query = CustomerQuery(sort="name", direction="desc")
    one("sort name desc", query, admin_sort("name", True), True, True)
    query = CustomerQuery(sort="balance", direction="asc")
    one("sort balance asc", query, admin_sort("balance_minor", False), True, True)
    one("filter country=DE", CustomerQuery(country="DE"), {"flt0_country_equals": "DE"}, True, True)

    tagged = dict(terms.tags).get("common", 0)
    page = min(TAG_PAGE, (tagged - 1) // PAGE_SIZE)
    if page >= 2:
        one(
            f"tag common, page {page:,}",
            CustomerQuery(tag=tag_key("common")),
            None,
            False,
            False,
            page,
        )
    else:
        log(f"tag common: {tagged:,} customers, too few for a deep page; skipped")
    return result


# --------------------------------------------------------------------------- measuring


def first_id(body: bytes) -> int | None:
    """The customer ID in the first row: C-000042 in all three lists."""
    start = body.find(b"</thead>")
    found = FIRST_ID.search(body, start) if start >= 0 else None
    return int(found.group(1)) if found else None


def sort_value(app, sort: str, customer_id: int):
    with app.app_context():
        value = db.session.scalar(select(SORT_COLUMNS[sort]).where(Customer.id == customer_id))
        db.session.remove()
    return value


def check_pages(app, clients: dict, cases: list[Case]) -> list[str]:
    """Every URL once: HTTP 200, and the first customer the view should show."""
    warnings = []
    for case in cases:
        for system, urls in case.urls.items():
            for url, expected in zip(urls, case.expected, strict=True):
                response = clients[system].get(url)
                body = response.get_data()
                if response.status_code != 200:
                    raise SystemExit(f"{system} {url}: HTTP {response.status_code}")
                shown = first_id(body)
                if expected is None or shown == expected.id:
                    continue
                if (
                    system == ADMIN
                    and shown is not None
                    and sort_value(app, case.sort, shown) == expected.value
                ):
                    continue  # Flask-Admin has no tie-breaker: another row with that value
                what = "no rows" if shown is None else f"C-{shown:06d} first"
                warnings.append(
                    f"{case.name}: {system} shows {what}, expected C-{expected.id:06d} ({url})"
                )
    for warning in warnings:
        log(f"warning: {warning}")
    return warnings


def timed_get(client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    response.get_data()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    return elapsed


@dataclass
class Timing:
    p50: float
    p95: float


def measure(clients: dict, cases: list[Case], requests: int, rng) -> tuple[dict, tuple]:
    """{case name: {system: Timing}} and the 1-minute load average at the start and the end
    of the timed rounds. Each round: every case on every system once, shuffled."""
    jobs = [(case, system) for case in cases for system in SYSTEMS if system in case.urls]
    timings = {case.name: {system: [] for system in case.urls} for case in cases}
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    for round_ in range(WARMUP + requests):
        if round_ == WARMUP:
            load_start = os.getloadavg()[0]
            log(f"warm-up done; {requests} timed rounds, load average {load_start:.2f}")
        order = jobs[:]
        rng.shuffle(order)
        for case, system in order:
            urls = case.urls[system]
            ms = timed_get(clients[system], urls[round_ % len(urls)])
            if round_ >= WARMUP:
                timings[case.name][system].append(ms)
        if (round_ + 1) % 10 == 0:
            log(
                f"  round {round_ + 1:>4} of {WARMUP + requests}  "
                f"{time.perf_counter() - started:6.1f} s"
            )
    load_end = os.getloadavg()[0]
    summary = {
        name: {
            system: Timing(statistics.median(values), base.p95(values))
            for system, values in per_system.items()
        }
        for name, per_system in timings.items()
    }
    return summary, (load_start, load_end)


def wait_for_quiet(limit_s: float) -> None:
    """As bench_money.py: wait (at most ``limit_s``) for the others' work to end."""
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] >= QUIET_LOAD and time.monotonic() < deadline:
        log(f"load average {os.getloadavg()[0]:.2f} >= {QUIET_LOAD}: waiting for a quieter machine")
        time.sleep(15)


# --------------------------------------------------------------------------- throughput


@dataclass
class Load:
    system: str
    seconds: float = 0.0
    responses: int = 0
    non_200: int = 0
    exceptions: int = 0
    load: tuple[float, float] = (0.0, 0.0)

    @property
    def rate(self) -> float:
        return self.responses / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_200 + self.exceptions


def no_control_socket() -> list[str]:
    """Recent gunicorn opens a control socket at one path per user, which another gunicorn
    on this machine (scripts/serve) may hold; these servers need none."""
    from gunicorn.config import KNOWN_SETTINGS

    known = any("--no-control-socket" in (setting.cli or []) for setting in KNOWN_SETTINGS)
    return ["--no-control-socket"] if known else []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with the settings of scripts/serve on a free loopback port."""

    def __init__(self, name: str, target: str, env: dict, extra: list[str]) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = RESULTS / f"gunicorn_{name.lower().replace('-', '_')}.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "scripts/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            *no_control_socket(),
            *extra,
            target,
        ]
        self.log_file = self.log_path.open("wb")
        # The access log (stdout) is dropped; errors go to the log file.
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
        )

    def wait_until_up(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{self.name}: gunicorn did not start on port {self.port}:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def cookie_header(response: http.client.HTTPResponse, jar: dict[str, str]) -> str:
    for line in response.headers.get_all("Set-Cookie") or []:
        for name, morsel in SimpleCookie(line).items():
            jar[name] = morsel.value
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def sign_in_over_http(port: int) -> dict[str, str]:
    """Sign in as a browser does: the form (CSRF token, cookie), then the POST."""
    jar: dict[str, str] = {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", "/sign-in")
        response = connection.getresponse()
        page = response.read().decode()
        cookie = cookie_header(response, jar)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if response.status != 200 or not token:
            raise SystemExit(f"Tally: GET /sign-in gave HTTP {response.status} and no CSRF token")
        form = {
            "csrf_token": html.unescape(token.group(1)),
            "email": base.STAFF_EMAIL,
            "password": base.STAFF_PASSWORD,
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        connection.request("POST", "/sign-in", body=urlencode(form), headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 303:
            raise SystemExit(f"Tally: sign-in over HTTP gave HTTP {response.status}")
        return {"Cookie": cookie_header(response, jar)}
    finally:
        connection.close()


def hammer(port: int, path: str, headers: dict, seconds: float) -> Load:
    """CLIENT_THREADS threads, one keep-alive connection each, GET ``path`` until the time
    is up (or MAX_LOAD_REQUESTS were sent)."""
    deadline = time.monotonic() + seconds
    per_thread = MAX_LOAD_REQUESTS // CLIENT_THREADS
    totals: list[tuple[int, int, int]] = []
    lock = threading.Lock()

    def worker() -> None:
        responses = non_200 = exceptions = 0
        connection = None
        for _ in range(per_thread):
            if time.monotonic() >= deadline:
                break
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                responses += 1
                non_200 += response.status != 200
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                exceptions += 1
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(0.05)
        if connection is not None:
            connection.close()
        with lock:
            totals.append((responses, non_200, exceptions))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CLIENT_THREADS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = Load("", seconds=time.monotonic() - started)
    for responses, non_200, exceptions in totals:
        result.responses += responses
        result.non_200 += non_200
        result.exceptions += exceptions
    return result


def throughput(url: str, seconds: float) -> list[Load]:
    """Tally, then Flask-Admin: started, warmed up, loaded for ``seconds``, stopped."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    tally_env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_hex(32),
        "TALLY_ENV": "development",
        "TALLY_INSTANCE_PATH": str(RESULTS / "instance"),
    }
    admin_env = {**os.environ, "BENCH_DATABASE_URL": url}
    plan = [
        (TALLY, "wsgi:app", tally_env, [], "/customers"),
        (
            ADMIN,
            "admin_panel:app",
            admin_env,
            ["--pythonpath", str(ROOT / "benchmarks")],
            ADMIN_LIST,
        ),
    ]
    results = []
    for name, target, env, extra, path in plan:
        server = Server(name, target, env, extra)
        try:
            server.wait_until_up()
            headers = sign_in_over_http(server.port) if name == TALLY else {}
            warm = hammer(server.port, path, headers, 2)
            if warm.errors or not warm.responses:
                raise SystemExit(
                    f"{name}: {warm.non_200} non-200 responses, {warm.exceptions} errors in "
                    f"the warm-up; see {server.log_path}"
                )
            before = os.getloadavg()[0]
            log(f"{name}: {CLIENT_THREADS} clients for {seconds:g} s on port {server.port}")
            result = hammer(server.port, path, headers, seconds)
            result.system = name
            result.load = (before, os.getloadavg()[0])
            log(
                f"{name}: {result.responses:,} responses in {result.seconds:.1f} s, "
                f"{result.rate:,.1f}/s, {result.non_200} non-200, {result.exceptions} errors"
            )
            results.append(result)
        finally:
            server.stop()
    return results


# --------------------------------------------------------------------------- report


@dataclass
class Verdict:
    text: str
    ok: bool
    detail: str = ""


def verdicts(cases: list[Case], timings: dict, loads: list[Load]) -> list[Verdict]:
    def worst(pairs, pick):
        return pick(pairs, key=lambda pair: pair[1]) if pairs else ("", 0.0)

    result = []
    tally = [(case.name, timings[case.name][TALLY].p95) for case in cases]
    name, ms = worst(tally, max)
    result.append(
        Verdict(
            f"Tally p95 < {LIST_TARGET_MS:.0f} ms on every case",
            all(p95 < LIST_TARGET_MS for _, p95 in tally),
            f"slowest {name} {ms:.1f} ms",
        )
    )
    first = [(case.name, timings[case.name][TALLY].p95) for case in cases if case.first_page]
    name, ms = worst(first, max)
    result.append(
        Verdict(
            f"Tally p95 < {FIRST_PAGE_TARGET_MS:.0f} ms on every first page",
            all(p95 < FIRST_PAGE_TARGET_MS for _, p95 in first),
            f"slowest {name} {ms:.1f} ms",
        )
    )
    near = [
        (case.name, timings[case.name][TALLY].p50 / timings[case.name][FLOOR].p50)
        for case in cases
        if case.near_floor
    ]
    name, ratio = worst(near, max)
    result.append(
        Verdict(
            f"Tally p50 ≤ {FLOOR_FACTOR:g} × floor p50 on page 1, the sorts and the filter",
            all(ratio <= FLOOR_FACTOR for _, ratio in near),
            f"highest {ratio:.1f}× ({name})",
        )
    )
    admin = [
        (case.name, timings[case.name][ADMIN].p95 / timings[case.name][TALLY].p95)
        for case in cases
        if ADMIN in case.urls
    ]
    name, ratio = worst(admin, min)
    result.append(
        Verdict(
            f"Flask-Admin p95 ≥ {ADMIN_FACTOR:g} × Tally p95 on every case Flask-Admin has",
            all(ratio >= ADMIN_FACTOR for _, ratio in admin),
            f"lowest {ratio:.1f}× ({name})",
        )
    )
    if loads:
        by_system = {load.system: load for load in loads}
        ratio = by_system[TALLY].rate / max(by_system[ADMIN].rate, 1e-9)
        errors = sum(load.errors for load in loads)
        result.append(
            Verdict(
                f"Tally requests/s ≥ {THROUGHPUT_FACTOR:g} × Flask-Admin's, 0 errors",
                ratio >= THROUGHPUT_FACTOR and errors == 0,
                f"{ratio:.1f}×, {errors} errors",
            )
        )
    return result


def report(
    cases: list[Case],
    timings: dict,
    load: tuple[float, float],
    loads: list[Load],
    checks: list[Verdict],
    notes: list[str],
    version: str,
) -> str:
    def ms(case: Case, system: str, which: str) -> str:
        timing = timings[case.name].get(system)
        return f"{getattr(timing, which):.1f}" if timing else "—"

    lines = [
        "| case | Tally p50 | Tally p95 | Flask-Admin p50 | Flask-Admin p95 | floor p50 "
        "| floor p95 | Flask-Admin p95 / Tally p95 | Tally p50 / floor p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        row = timings[case.name]
        admin_ratio = f"{row[ADMIN].p95 / row[TALLY].p95:.1f}×" if ADMIN in row else "—"
        lines.append(
            f"| {case.name} | {ms(case, TALLY, 'p50')} | {ms(case, TALLY, 'p95')} "
            f"| {ms(case, ADMIN, 'p50')} | {ms(case, ADMIN, 'p95')} "
            f"| {ms(case, FLOOR, 'p50')} | {ms(case, FLOOR, 'p95')} "
            f"| {admin_ratio} | {row[TALLY].p50 / row[FLOOR].p50:.1f}× |"
        )
    lines.append("")
    lines.append("Times in ms, whole requests through the WSGI app (werkzeug test client).")
    lines.append(f"load average {load[0]:.2f} at start, {load[1]:.2f} at end (1 minute)")
    if loads:
        lines += [
            "",
            f"| gunicorn ({CLIENT_THREADS} keep-alive clients, list page 1) | seconds "
            "| responses | requests/s | non-200 | errors | load average start → end |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for result in loads:
            lines.append(
                f"| {result.system} | {result.seconds:.1f} | {result.responses:,} "
                f"| {result.rate:,.1f} | {result.non_200} | {result.exceptions} "
                f"| {result.load[0]:.2f} → {result.load[1]:.2f} |"
            )
    lines += ["", "Targets:", ""]
    for check in checks:
        lines.append(f"- {check.text}: {'ok' if check.ok else '**no**'} ({check.detail})")
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines += [
        "",
        f"{stamp} · {base.machine()} · Python {platform.python_version()}, PostgreSQL {version}",
        "",
    ]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add(
        "--pg-customers",
        type=int,
        default=base.PG_CUSTOMERS,
        metavar="N",
        help="default 1,000,000",
    )
    add("--requests", type=int, default=30, metavar="N", help="timed requests per case and system")
    add(
        "--throughput",
        type=float,
        default=15,
        metavar="S",
        help="seconds of load on each server under gunicorn (default 15; 0 skips)",
    )
    add(
        "--wait-for-quiet",
        type=float,
        default=0,
        metavar="S",
        help=f"wait up to S seconds for a load average below {QUIET_LOAD:g} before timing",
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
    url = args.pg_url or base.DEFAULT_PG_URL
    if args.pg_url is None and args.pg_customers != base.PG_CUSTOMERS:
        url += f"_{args.pg_customers}"
    libpq_url = url.replace("postgresql+psycopg://", "postgresql://")

    base.prepare_postgresql(url, args.pg_customers, fresh=False)
    app = base.make_app(url)
    base.fill(app, "postgresql", args.pg_customers)
    base.tag_customers(app, "postgresql", args.pg_customers)
    terms = base.pick_terms(app, args.pg_customers)
    log(f"rare terms: {base.describe(terms.rare)}")
    log(f"common terms: {base.describe(terms.common[:1])}")
    cases = build_cases(app, terms)
    with app.app_context():
        version = db.session.scalar(text("SHOW server_version"))
        db.session.remove()

    admin_app = admin_panel.create_admin_app(libpq_url)
    floor_app, close_floor = make_floor(libpq_url)
    loads: list[Load] = []
    try:
        clients = {
            TALLY: base.signed_in_client(app),
            ADMIN: admin_app.test_client(),
            FLOOR: Client(floor_app),
        }
        warnings = check_pages(app, clients, cases)
        if args.wait_for_quiet:
            wait_for_quiet(args.wait_for_quiet)
        timings, load = measure(clients, cases, args.requests, random.Random(SEED))
    finally:
        close_floor()
        with admin_app.app_context():
            admin_panel.db.engine.dispose()
        with app.app_context():
            db.engine.dispose()
    if args.throughput > 0:
        loads = throughput(url, args.throughput)

    notes = [
        f"{args.pg_customers:,} customers, {terms.visible:,} in the default view (archived "
        f"hidden, in all three); {args.requests} timed requests per case and system after "
        f"{WARMUP} warm-up rounds, interleaved, shuffled each round",
        f"search terms: rare {base.describe(terms.rare)}; common "
        f"{base.describe(terms.common[:1])} (matches in Tally's default view)",
        "Flask-Admin: OFFSET paging and a count of the matching rows on every page (its "
        "pager), ILIKE on name, company, first_name, last_name, email, tax_id; no sign-in, "
        "where Tally checks the staff session on every request",
    ]
    notes += [f"warning: {warning}" for warning in warnings]
    for case in cases:
        urls = "; ".join(f"{system} {case.urls[system][0]}" for system in case.urls)
        notes.append(f"URLs of {case.name}: {urls}")
    checks = verdicts(cases, timings, loads)
    table = report(cases, timings, load, loads, checks, notes, version)
    print(table)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(table + "\n")
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
