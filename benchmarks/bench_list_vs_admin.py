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
port, one after the other, in both of that file's configurations (``--configs``):

- ``default``: no REDIS_URL, 1 process x 8 threads (the embedded default);
- ``production``: ``REDIS_URL=redis://127.0.0.1:6379/14`` and WEB_CONCURRENCY=2,
  2 processes x 4 threads (README, "Running in production"). Both apps get the
  same environment. For Tally REDIS_URL moves the job queue to RQ (no job thread
  or sweeper in the web process) and Flask-Limiter's counts to Redis; the script
  checks that Redis answers and that a GET of the rate-limited payment-link page
  leaves a count there, and flushes database 14 before and after. TALLY_ENV stays
  ``development`` in both (a production session cookie is Secure: no sign-in over
  plain HTTP).

Order: Tally, Flask-Admin in the default configuration, then the same in the
production one; the number of worker processes is checked. 8 client threads,
each one keep-alive connection, GET the list's first page for S seconds, Tally
signed in over HTTP. The client is a bare HTTP/1.1 one on a socket: the request's
bytes made once, then the response's head (status, Content-Length, Connection)
and its body, read and dropped; http.client took about 2.5 times its CPU a
response. gunicorn sends both apps' pages with Content-Length, so chunked bodies
are refused (counted as errors). Target, in each configuration: Tally serves at
least 10 x Flask-Admin's requests a second, with no errors. The client runs on
the same machine and competes with the server for the CPU (its CPU seconds are in
the table, beside gunicorn's); it does so for both alike, so the ratio holds, not
the absolute numbers.

Load average: the 1-minute and 5-minute figures just before any timing starts
(before the first request to any system: the check of the pages, or with
``--skip-latency`` the first server) are printed beside the tables, with the
1-minute one at the start and end of the timed rounds and of each load.
Flask-Admin's own queries raise the load during the run: its pager counts the
matching rows and its search is ILIKE on six columns, both parallel sequential
scans of the table at full scale, in the check of the pages, the warm-up, the
timed rounds and its throughput load alike. A high figure at the end of a table
is partly the benchmark's own doing, not only other work on the machine.

``--skip-latency`` runs the throughput part alone (the set-up, the load average
before timing and the facts of the run are still printed).

Flask-Admin is in the ``bench`` extra. With .venv set up (scripts/serve or
scripts/test did it once)::

    .venv/bin/python -m pip install -r requirements/bench.txt
    .venv/bin/python benchmarks/bench_list_vs_admin.py                  # full scale
    .venv/bin/python benchmarks/bench_list_vs_admin.py --wait-for-quiet 600
    .venv/bin/python benchmarks/bench_list_vs_admin.py --pg-customers 20000 \\
        --requests 10 --throughput 5                                    # quick check
    .venv/bin/python benchmarks/bench_list_vs_admin.py --skip-latency \\
        --configs production --throughput 15                            # throughput only

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

# scripts/gunicorn.conf.py's two settings, chosen by the environment: the variables
# each one sets (the same for Tally and Flask-Admin), and what the config makes of them.
BENCH_REDIS_URL = "redis://127.0.0.1:6379/14"  # flushed before and after its loads


@dataclass
class Config:
    key: str
    label: str
    env: dict[str, str]
    workers: int  # processes the config should start (checked)


CONFIGS = {
    "default": Config("default", "1 process × 8 threads (no REDIS_URL)", {"REDIS_URL": ""}, 1),
    "production": Config(
        "production",
        "2 processes × 4 threads (REDIS_URL)",
        {"REDIS_URL": BENCH_REDIS_URL, "WEB_CONCURRENCY": "2"},
        2,
    ),
}
RECV_SIZE = 65_536
MAX_HEAD = 65_536


@dataclass
class Load:
    system: str
    config: str = ""  # Config.label
    seconds: float = 0.0
    responses: int = 0
    non_200: int = 0
    exceptions: int = 0
    load: tuple[float, float] = (0.0, 0.0)
    client_cpu: float = 0.0  # CPU seconds of this process (the client threads) in the load
    server_cpu: float = 0.0  # CPU seconds of gunicorn's processes in the load
    first_error: str = ""

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


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (gunicorn's workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far, from /proc (ended processes count 0)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    """gunicorn with the settings of scripts/serve on a free loopback port."""

    def __init__(self, name: str, config: Config, target: str, env: dict, extra: list[str]):
        self.name = name
        self.port = free_port()
        self.log_path = RESULTS / f"gunicorn_{name.lower().replace('-', '_')}_{config.key}.log"
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
        raise SystemExit(f"{self.name}: gunicorn did not start on port {self.port}:\n{self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def pids(self) -> list[int]:
        return [self.process.pid, *child_pids(self.process.pid)]

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


def sign_in_over_http(port: int) -> str:
    """Sign in as a browser does: the form (CSRF token, cookie), then the POST. The
    Cookie header of the session."""
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
        return cookie_header(response, jar)
    finally:
        connection.close()


def check_redis(url: str, what: str):
    """A client of ``url`` that answers PING, or SystemExit."""
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        client.ping()
    except RedisError as error:
        raise SystemExit(f"{what}: Redis at {url} does not answer ({error})") from error
    return client


def check_tally_uses_redis(port: int, redis) -> None:
    """REDIS_URL puts Flask-Limiter's counts in Redis (webapp/rate_limits.py; the job queue
    with it, webapp/jobqueue.py), falling back to memory while Redis does not answer. A
    GET of the rate-limited payment-link page with a made-up token must leave a count in
    the (flushed) database."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", "/pay/bench-not-a-token")
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    keys = redis.dbsize()
    if response.status != 404 or not keys:
        raise SystemExit(
            f"Tally with REDIS_URL: GET /pay/… gave HTTP {response.status} and left "
            f"{keys} keys in Redis; it does not count there"
        )
    log(f"Tally counts in Redis: {keys} key{'s' * (keys != 1)} after a GET of /pay/…")


class ResponseError(Exception):
    """A response this client does not read (or a connection closed before its end)."""


def read_response(sock: socket.socket, buffer: bytearray, scratch: memoryview) -> tuple:
    """Read one response from ``sock``: (status, body length, whether the server closes
    the connection after it). ``buffer`` holds what was read past the last response and
    keeps what is read past this one; ``scratch`` takes the body, which is counted, not
    kept. Bodies must be framed by Content-Length: gunicorn sends one for these apps (a
    Flask response of a rendered page has one), so chunked and close-delimited bodies
    are refused."""
    end = buffer.find(b"\r\n\r\n")
    while end < 0:
        if len(buffer) > MAX_HEAD:
            raise ResponseError(f"response head over {MAX_HEAD:,} bytes")
        read = sock.recv_into(scratch)
        if not read:
            raise ResponseError(f"connection closed after {len(buffer):,} bytes of the head")
        buffer += scratch[:read]
        end = buffer.find(b"\r\n\r\n", max(len(buffer) - read - 3, 0))
    lines = bytes(buffer[:end]).split(b"\r\n")
    del buffer[: end + 4]
    version, status = lines[0].split(b" ", 2)[:2]
    status = int(status)
    close = version == b"HTTP/1.0"
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            value = value.lower()
            close = b"close" in value or (close and b"keep-alive" not in value)
        elif name == b"transfer-encoding":
            raise ResponseError(f"Transfer-Encoding: {value.strip().decode()} (not read)")
    if length is None:
        if status in (204, 304) or 100 <= status < 200:
            length = 0
        else:
            raise ResponseError(f"HTTP {status} without Content-Length (not read)")
    if len(buffer) >= length:
        del buffer[:length]
        return status, length, close
    remaining = length - len(buffer)
    buffer.clear()
    while remaining:
        read = sock.recv_into(scratch, min(remaining, len(scratch)))
        if not read:
            raise ResponseError(f"connection closed {remaining:,} bytes before the body's end")
        remaining -= read
    return status, length, close


def load_request(port: int, path: str, cookie: str) -> bytes:
    """The bytes of one keep-alive GET of ``path``, with the session cookie if any."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def probe(port: int, path: str, cookie: str) -> tuple[int, int, bool]:
    """One GET of ``path`` by the load client: (status, body length, closes)."""
    with connect(port) as sock:
        sock.sendall(load_request(port, path, cookie))
        return read_response(sock, bytearray(), memoryview(bytearray(RECV_SIZE)))


def hammer(port: int, path: str, cookie: str, seconds: float) -> Load:
    """CLIENT_THREADS threads, one keep-alive connection each, GET ``path`` until the time
    is up (or MAX_LOAD_REQUESTS were sent).

    A bare HTTP/1.1 client on a socket, so that the client's share of the 2 cores stays
    small: the request's bytes are made once; a response is its head (status,
    Content-Length, Connection) and that many bytes of body, read into one buffer and
    dropped. A new connection when the server says ``Connection: close``, closes, or
    after an error (each one counted)."""
    deadline = time.monotonic() + seconds
    per_thread = MAX_LOAD_REQUESTS // CLIENT_THREADS
    request = load_request(port, path, cookie)
    totals: list[tuple[int, int, int, str]] = []
    lock = threading.Lock()

    def worker() -> None:
        responses = non_200 = exceptions = 0
        first_error = ""
        sock = None
        buffer = bytearray()
        scratch = memoryview(bytearray(RECV_SIZE))
        for _ in range(per_thread):
            if time.monotonic() >= deadline:
                break
            try:
                if sock is None:
                    sock = connect(port)
                    buffer.clear()
                sock.sendall(request)
                status, _length, close = read_response(sock, buffer, scratch)
                responses += 1
                non_200 += status != 200
                if close:
                    sock.close()
                    sock = None
            except (OSError, ValueError, ResponseError) as error:
                exceptions += 1
                first_error = first_error or f"{type(error).__name__}: {error}"
                if sock is not None:
                    sock.close()
                sock = None
                time.sleep(0.05)
        if sock is not None:
            sock.close()
        with lock:
            totals.append((responses, non_200, exceptions, first_error))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CLIENT_THREADS)]
    cpu = time.process_time()
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = Load("", seconds=time.monotonic() - started)
    result.client_cpu = time.process_time() - cpu
    for responses, non_200, exceptions, first_error in totals:
        result.responses += responses
        result.non_200 += non_200
        result.exceptions += exceptions
        result.first_error = result.first_error or first_error
    return result


def load_one(name: str, config: Config, server: Server, path: str, seconds: float) -> Load:
    """Sign in (Tally), check the server, warm it up, then the timed load."""
    cookie = sign_in_over_http(server.port) if name == TALLY else ""
    try:
        status, length, close = probe(server.port, path, cookie)
    except (OSError, ValueError, ResponseError) as error:
        raise SystemExit(f"{name}: the load client cannot read page 1: {error}") from error
    log(
        f"{name}: page 1 HTTP {status}, {length:,} bytes by Content-Length, "
        f"connection {'closed' if close else 'kept alive'}"
    )
    warm = hammer(server.port, path, cookie, 2)
    if warm.errors or not warm.responses:
        raise SystemExit(
            f"{name}: {warm.non_200} non-200 responses, {warm.exceptions} errors in the "
            f"warm-up ({warm.first_error or 'no error text'}); see {server.log_path}"
        )
    workers = child_pids(server.process.pid)
    if len(workers) != config.workers:
        raise SystemExit(
            f"{name}: gunicorn runs {len(workers)} worker processes, {config.label} wants "
            f"{config.workers}; see {server.log_path}"
        )
    pids = server.pids()
    before, server_cpu = os.getloadavg()[0], cpu_seconds(pids)
    log(f"{name}: {CLIENT_THREADS} clients for {seconds:g} s on port {server.port}")
    result = hammer(server.port, path, cookie, seconds)
    result.server_cpu = cpu_seconds(pids) - server_cpu
    result.system, result.config = name, config.label
    result.load = (before, os.getloadavg()[0])
    log(
        f"{name}: {result.responses:,} responses in {result.seconds:.1f} s, "
        f"{result.rate:,.1f}/s, {result.non_200} non-200, {result.exceptions} errors"
        + (f" (first: {result.first_error})" if result.first_error else "")
        + f"; CPU: client {result.client_cpu:.2f} s, gunicorn {result.server_cpu:.1f} s"
    )
    return result


def throughput(url: str, seconds: float, configs: list[Config]) -> list[Load]:
    """For each configuration: Tally, then Flask-Admin, started, warmed up, loaded for
    ``seconds``, stopped. Redis database 14 is flushed before and after a configuration
    with REDIS_URL."""
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
    for config in configs:
        redis_url = config.env.get("REDIS_URL")
        redis = check_redis(redis_url, config.label) if redis_url else None
        if redis is not None:
            redis.flushdb()
        log(f"gunicorn: {config.label}")
        try:
            for name, target, env, extra, path in plan:
                # An empty REDIS_URL also keeps a REDIS_URL of .env out (dotenv does not
                # override a variable that is set).
                server = Server(name, config, target, {**env, **config.env}, extra)
                try:
                    server.wait_until_up()
                    if name == TALLY and redis is not None:
                        check_tally_uses_redis(server.port, redis)
                    results.append(load_one(name, config, server, path, seconds))
                finally:
                    server.stop()
        finally:
            if redis is not None:
                redis.flushdb()
                redis.close()
    return results


# --------------------------------------------------------------------------- report


@dataclass
class Verdict:
    text: str
    ok: bool
    detail: str = ""


def throughput_verdicts(loads: list[Load]) -> list[Verdict]:
    """One per gunicorn configuration: Tally ≥ THROUGHPUT_FACTOR × Flask-Admin, no errors."""
    result = []
    for config in dict.fromkeys(load.config for load in loads):
        by_system = {load.system: load for load in loads if load.config == config}
        ratio = by_system[TALLY].rate / max(by_system[ADMIN].rate, 1e-9)
        errors = sum(load.errors for load in by_system.values())
        result.append(
            Verdict(
                f"{config}: Tally requests/s ≥ {THROUGHPUT_FACTOR:g} × Flask-Admin's, 0 errors",
                ratio >= THROUGHPUT_FACTOR and errors == 0,
                f"{ratio:.1f}×, {errors} errors",
            )
        )
    return result


def verdicts(cases: list[Case], timings: dict, loads: list[Load]) -> list[Verdict]:
    """The latency targets (none with --skip-latency), then the throughput ones."""

    def worst(pairs, pick):
        return pick(pairs, key=lambda pair: pair[1]) if pairs else ("", 0.0)

    if not cases:  # --skip-latency
        return throughput_verdicts(loads)
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
    return result + throughput_verdicts(loads)


def report(
    cases: list[Case],
    timings: dict,
    load_before: tuple[float, float],
    load: tuple[float, float] | None,
    loads: list[Load],
    checks: list[Verdict],
    notes: list[str],
    version: str,
) -> str:
    def ms(case: Case, system: str, which: str) -> str:
        timing = timings[case.name].get(system)
        return f"{getattr(timing, which):.1f}" if timing else "—"

    before = (
        f"load average before timing: {load_before[0]:.2f} (1 min), {load_before[1]:.2f} (5 min)"
    )
    if load is None:
        lines = ["Latency not measured (--skip-latency).", "", before]
    else:
        lines = latency_table(cases, timings, ms)
        lines += [
            "",
            "Times in ms, whole requests through the WSGI app (werkzeug test client).",
            before,
            f"load average {load[0]:.2f} at start, {load[1]:.2f} at end of the timed rounds "
            "(1 minute)",
        ]
    if loads:
        lines += ["", *throughput_table(loads)]
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


def latency_table(cases: list[Case], timings: dict, ms) -> list[str]:
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
    return lines


def throughput_table(loads: list[Load]) -> list[str]:
    lines = [
        f"| gunicorn (scripts/gunicorn.conf.py) | app ({CLIENT_THREADS} keep-alive clients, "
        "list page 1) | seconds | responses | requests/s | non-200 | errors | client CPU s "
        "| gunicorn CPU s | load average start → end |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in loads:
        lines.append(
            f"| {result.config} | {result.system} | {result.seconds:.1f} | {result.responses:,} "
            f"| {result.rate:,.1f} | {result.non_200} | {result.exceptions} "
            f"| {result.client_cpu:.2f} | {result.server_cpu:.1f} "
            f"| {result.load[0]:.2f} → {result.load[1]:.2f} |"
        )
    lines.append("")
    for config in dict.fromkeys(load.config for load in loads):
        rates = {load.system: load.rate for load in loads if load.config == config}
        ratio = rates[TALLY] / max(rates[ADMIN], 1e-9)
        lines.append(f"- {config}: Tally / Flask-Admin requests/s = {ratio:.1f}×")
    lines += [
        "",
        "CPU seconds during each load: the client's (this process) and gunicorn's "
        "(master and workers); PostgreSQL's are not counted. Load average: 1 minute.",
    ]
    return lines


def log_load_before(load: tuple[float, float]) -> None:
    log(f"load average before timing: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min)")


def parse_configs(value: str) -> list[Config]:
    names = list(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    unknown = [name for name in names if name not in CONFIGS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"not a configuration: {', '.join(unknown) or value!r} (choose from "
            f"{', '.join(CONFIGS)})"
        )
    return [CONFIGS[name] for name in names]


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
        "--configs",
        type=parse_configs,
        default=list(CONFIGS.values()),
        metavar="NAMES",
        help="comma-separated gunicorn configurations of the throughput part, run in "
        "this order: "
        + "; ".join(f"{key}: {config.label}" for key, config in CONFIGS.items())
        + f" (default {','.join(CONFIGS)})",
    )
    add(
        "--skip-latency",
        action="store_true",
        help="only the throughput part (no in-process latency table)",
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
    if args.skip_latency and args.throughput <= 0:
        parser.error("--skip-latency leaves nothing to run with --throughput 0")
    url = args.pg_url or base.DEFAULT_PG_URL
    if args.pg_url is None and args.pg_customers != base.PG_CUSTOMERS:
        url += f"_{args.pg_customers}"
    libpq_url = url.replace("postgresql+psycopg://", "postgresql://")

    base.prepare_postgresql(url, args.pg_customers, fresh=False)
    app = base.make_app(url)
    base.fill(app, "postgresql", args.pg_customers)  # also the staff member Tally signs in as
    base.tag_customers(app, "postgresql", args.pg_customers)
    with app.app_context():
        version = db.session.scalar(text("SHOW server_version"))
        db.session.remove()

    cases: list[Case] = []
    timings: dict = {}
    load = None
    warnings: list[str] = []
    notes = []
    if args.skip_latency:
        with app.app_context():
            db.engine.dispose()
        if args.wait_for_quiet:
            wait_for_quiet(args.wait_for_quiet)
        load_before = os.getloadavg()[:2]
        log_load_before(load_before)
        notes.append(f"{args.pg_customers:,} customers; latency not measured (--skip-latency)")
    else:
        terms = base.pick_terms(app, args.pg_customers)
        log(f"rare terms: {base.describe(terms.rare)}")
        log(f"common terms: {base.describe(terms.common[:1])}")
        cases = build_cases(app, terms)
        admin_app = admin_panel.create_admin_app(libpq_url)
        floor_app, close_floor = make_floor(libpq_url)
        try:
            clients = {
                TALLY: base.signed_in_client(app),
                ADMIN: admin_app.test_client(),
                FLOOR: Client(floor_app),
            }
            if args.wait_for_quiet:
                wait_for_quiet(args.wait_for_quiet)
            # Before the first request: the check already runs Flask-Admin's scans.
            load_before = os.getloadavg()[:2]
            log_load_before(load_before)
            warnings = check_pages(app, clients, cases)
            timings, load = measure(clients, cases, args.requests, random.Random(SEED))
        finally:
            close_floor()
            with admin_app.app_context():
                admin_panel.db.engine.dispose()
            with app.app_context():
                db.engine.dispose()
        notes += [
            f"{args.pg_customers:,} customers, {terms.visible:,} in the default view (archived "
            f"hidden, in all three); {args.requests} timed requests per case and system after "
            f"{WARMUP} warm-up rounds, interleaved, shuffled each round",
            f"search terms: rare {base.describe(terms.rare)}; common "
            f"{base.describe(terms.common[:1])} (matches in Tally's default view)",
        ]
    loads: list[Load] = []
    if args.throughput > 0:
        loads = throughput(url, args.throughput, args.configs)

    notes.append(
        "Flask-Admin: OFFSET paging and a count of the matching rows on every page (its "
        "pager), ILIKE on name, company, first_name, last_name, email, tax_id; no sign-in, "
        "where Tally checks the staff session on every request"
    )
    if loads:
        notes.append(
            f"throughput: {CLIENT_THREADS} client threads, each a bare keep-alive HTTP/1.1 "
            "connection on a socket; Tally signed in over HTTP; the production configuration "
            f"with REDIS_URL={BENCH_REDIS_URL} (flushed before and after)"
        )
    notes += [f"warning: {warning}" for warning in warnings]
    for case in cases:
        urls = "; ".join(f"{system} {case.urls[system][0]}" for system in case.urls)
        notes.append(f"URLs of {case.name}: {urls}")
    checks = verdicts(cases, timings, loads)
    table = report(cases, timings, load_before, load, loads, checks, notes, version)
    print(table)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(table + "\n")
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
