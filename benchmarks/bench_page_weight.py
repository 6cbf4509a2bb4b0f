"""Page weight: the bytes a browser receives for the customer list and for a first visit.

Serves Tally as production does (gunicorn with ``scripts/gunicorn.conf.py`` on a free
loopback port) over a throwaway SQLite instance filled with ``flask demo-data``
(``--customers``, seeded) and one staff account, then walks a first visit over HTTP as
a browser does, every request sending ``Accept-Encoding: gzip, br``:

1. the Sign in page, then every stylesheet and script it links;
2. the Sign in form posted (CSRF token and cookie from step 1), and its redirect followed
   to the customer list;
3. every static file the list links that step 1 did not fetch (none, when the names
   match: a fingerprinted file is kept by the browser for a year).

Each response is counted as a browser's developer tools count "transferred": the status
line and headers as sent plus the body as it came over the wire (compressed or not),
beside the body once decoded. Targets: the list page (its response alone) at most
12 KB, the whole first visit at most 60 KB (KB = 1024 bytes). The table is printed
(and written to ``--report``), with the 1-minute load average before and after; exit
status 1 when a target is missed.

    .venv/bin/python benchmarks/bench_page_weight.py
    .venv/bin/python benchmarks/bench_page_weight.py --customers 1000 --wait-for-quiet 300
"""

from __future__ import annotations

import argparse
import gzip
import html
import http.client
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import brotli

ROOT = Path(__file__).resolve().parent.parent
SEED = 20_261_203
STAFF_EMAIL = "weight@example.com"
STAFF_PASSWORD = "weight-bench-password"
ACCEPT_ENCODING = "gzip, br"  # what the benchmark sends; Chromium sends "gzip, deflate, br, zstd"
LIST_TARGET = 12 * 1024
FIRST_VISIT_TARGET = 60 * 1024
QUIET_LOAD = 1.0
STATIC_URL = re.compile(r'<(?:link|script)\b[^>]*?(?:href|src)="(/static/[^"]+)"')


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def no_control_socket() -> list[str]:
    """Recent gunicorn opens a control socket at one path per user, which another gunicorn
    on this machine may hold; this one needs none."""
    from gunicorn.config import KNOWN_SETTINGS

    known = any("--no-control-socket" in (setting.cli or []) for setting in KNOWN_SETTINGS)
    return ["--no-control-socket"] if known else []


def environment(instance: Path) -> dict[str, str]:
    """A development instance of its own: SQLite under ``instance``, no Redis, no mail
    (set, so that a developer's .env cannot point the benchmark elsewhere)."""
    return {
        **os.environ,
        "FLASK_APP": "wsgi",
        "PYTHONPATH": str(ROOT),
        "TALLY_INSTANCE_PATH": str(instance),
        "TALLY_ENV": "development",
        "DATABASE_URL": f"sqlite:///{instance / 'tally.db'}",
        "REDIS_URL": "",
        "MAIL_SERVER": "",
    }


def flask(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")


def prepare(env: dict[str, str], customers: int) -> None:
    flask(env, "db", "upgrade")
    flask(env, "staff", "create", "--email", STAFF_EMAIL, "--name", "Wendy Weight",
          "--role", "admin", "--password", STAFF_PASSWORD)  # fmt: skip
    flask(env, "demo-data", "--customers", str(customers), "--seed", str(SEED))


class Server:
    """gunicorn with scripts/gunicorn.conf.py (scripts/serve's settings) on a free port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.log_file = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "scripts/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                *no_control_socket(),
                "wsgi:app",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the access log
            stderr=self.log_file,
        )

    def wait_until_up(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise SystemExit(f"gunicorn did not start on port {self.port}:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


# --------------------------------------------------------------------------- visit


@dataclass
class Fetched:
    step: str
    method: str
    path: str
    status: int
    encoding: str  # Content-Encoding, "—" for none
    cache: str  # Cache-Control as sent
    head: int  # status line and headers, bytes
    body: int  # body as sent, bytes
    decoded: int  # body after its Content-Encoding, bytes
    text: str  # decoded body (pages only)
    location: str = ""

    @property
    def wire(self) -> int:
        return self.head + self.body


class Browser:
    """One keep-alive connection, a cookie jar and a record of every response."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.fetched: list[Fetched] = []

    def request(self, step: str, method: str, path: str, form: dict | None = None) -> Fetched:
        headers = {"Accept-Encoding": ACCEPT_ENCODING, "Accept": "*/*"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        raw = response.read()  # http.client leaves Content-Encoding alone
        for line in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(line).items():
                self.cookies[name] = morsel.value
        encoding = response.headers.get("Content-Encoding", "")
        decoded = raw
        if encoding == "br":
            decoded = brotli.decompress(raw)
        elif encoding == "gzip":
            decoded = gzip.decompress(raw)
        elif encoding:
            raise SystemExit(f"{path}: unexpected Content-Encoding {encoding!r}")
        status_line = f"HTTP/1.1 {response.status} {response.reason}\r\n"
        head = len(status_line) + len(str(response.headers).encode("latin-1"))
        is_page = response.headers.get_content_type() == "text/html"
        fetched = Fetched(
            step=step,
            method=method,
            path=path,
            status=response.status,
            encoding=encoding or "—",
            cache=response.headers.get("Cache-Control", ""),
            head=head,
            body=len(raw),
            decoded=len(decoded),
            text=decoded.decode() if is_page else "",
            location=response.headers.get("Location", ""),
        )
        self.fetched.append(fetched)
        return fetched

    def static_files(self, step: str, page: Fetched, seen: set[str]) -> None:
        """Fetch what the page links that the browser does not hold yet."""
        for path in STATIC_URL.findall(page.text):
            path = html.unescape(path)
            if path in seen:
                continue
            seen.add(path)
            fetched = self.request(step, "GET", path)
            if fetched.status != 200:
                raise SystemExit(f"{path}: HTTP {fetched.status}")


def first_visit(port: int) -> tuple[list[Fetched], Fetched]:
    browser = Browser(port)
    seen: set[str] = set()
    sign_in_page = browser.request("Sign in page", "GET", "/sign-in")
    if sign_in_page.status != 200:
        raise SystemExit(f"GET /sign-in: HTTP {sign_in_page.status}")
    browser.static_files("Sign in page", sign_in_page, seen)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', sign_in_page.text)
    if not token:
        raise SystemExit("no CSRF token on the Sign in page")
    form = {
        "csrf_token": html.unescape(token.group(1)),
        "email": STAFF_EMAIL,
        "password": STAFF_PASSWORD,
    }
    posted = browser.request("Sign in", "POST", "/sign-in", form)
    if posted.status != 303:
        raise SystemExit(f"POST /sign-in: HTTP {posted.status}")
    target = urlsplit(posted.location)
    path = target.path + (f"?{target.query}" if target.query else "")
    listing = browser.request("customer list", "GET", path)
    if listing.status != 200 or "<h1>Customers</h1>" not in listing.text:
        raise SystemExit(f"GET {path}: HTTP {listing.status}, not the customer list")
    browser.static_files("customer list", listing, seen)
    return browser.fetched, listing


# --------------------------------------------------------------------------- report


def cache_note(cache: str) -> str:
    if "immutable" in cache and "max-age=31536000" in cache:
        return "1 year, immutable"
    return cache or "—"


def report(fetched: list[Fetched], listing: Fetched, loads: tuple[float, float]) -> str:
    lines = [
        "| step | request | status | encoding | cache | headers | body on the wire "
        "| transferred | body uncompressed |",
        "|---|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for f in fetched:
        lines.append(
            f"| {f.step} | {f.method} {f.path} | {f.status} | {f.encoding} | {cache_note(f.cache)} "
            f"| {f.head:,} | {f.body:,} | {f.wire:,} | {f.decoded:,} |"
        )
    visit_wire = sum(f.wire for f in fetched)
    visit_plain = sum(f.head + f.decoded for f in fetched)
    list_ok = listing.wire <= LIST_TARGET
    visit_ok = visit_wire <= FIRST_VISIT_TARGET
    lines += [
        "",
        "| total | transferred | uncompressed (headers + decoded bodies) | target | ok |",
        "|---|---:|---:|---:|---|",
        f"| list page | {listing.wire:,} ({kb(listing.wire)}) "
        f"| {listing.head + listing.decoded:,} ({kb(listing.head + listing.decoded)}) "
        f"| ≤ {LIST_TARGET // 1024} KB | {'ok' if list_ok else '**no**'} |",
        f"| first visit ({len(fetched)} responses) | {visit_wire:,} ({kb(visit_wire)}) "
        f"| {visit_plain:,} ({kb(visit_plain)}) "
        f"| ≤ {FIRST_VISIT_TARGET // 1024} KB | {'ok' if visit_ok else '**no**'} |",
        "",
    ]
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines.append(
        f"{stamp} · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
        f"load average (1 min) {loads[0]:.2f} → {loads[1]:.2f} · "
        f"Accept-Encoding: {ACCEPT_ENCODING} · KB = 1024 bytes"
    )
    return "\n".join(lines)


def kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200, help="demo customers (200)")
    parser.add_argument("--report", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--wait-for-quiet",
        type=float,
        default=0,
        metavar="S",
        help=f"wait up to S seconds for a 1-minute load average under {QUIET_LOAD}",
    )
    args = parser.parse_args(argv)

    deadline = time.monotonic() + args.wait_for_quiet
    while os.getloadavg()[0] >= QUIET_LOAD and time.monotonic() < deadline:
        log(f"load average {os.getloadavg()[0]:.2f}: waiting for a quieter machine")
        time.sleep(15)

    instance = Path(tempfile.mkdtemp(prefix="tally-page-weight-"))
    server = None
    try:
        env = environment(instance)
        log(f"instance {instance}: migrating, staff account, {args.customers} demo customers")
        prepare(env, args.customers)
        server = Server(env, instance / "gunicorn.log")
        server.wait_until_up()
        log(f"gunicorn on 127.0.0.1:{server.port}; walking a first visit")
        load_before = os.getloadavg()[0]
        fetched, listing = first_visit(server.port)
        load_after = os.getloadavg()[0]
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(instance, ignore_errors=True)

    table = report(fetched, listing, (load_before, load_after))
    print(table)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(table + "\n")
    ok = listing.wire <= LIST_TARGET and sum(f.wire for f in fetched) <= FIRST_VISIT_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
