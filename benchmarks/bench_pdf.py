"""PDF benchmark: how long an invoice's PDF copy takes to make.

Target (issue 17): a one-page invoice's PDF in under 200 ms at p95.

Makes a throwaway PostgreSQL database (``tally_bench_pdf`` on 127.0.0.1, dropped and
created again on each run, migrated with the real migrations; ``--database-url`` picks
another server, ``--sqlite`` a throwaway SQLite file instead), a customer
with a name that needs more than Latin-1, and two invoices written as issuing
writes them: one line, and 20 lines (each description a sentence, so some wrap).
Then times, p50 and p95 over ``--runs`` after 5 warm-ups each:

* ``pdf_of`` (the service the download route and the email job call: the read model,
  the sheet, the layout, fpdf2's output with the font subsets), and
* the whole download ``GET /invoices/<id>.pdf`` through the WSGI app, signed in
  (routing, session, queries, the PDF, the response; no network).

The first PDF of a process also reads and prepares the fonts once; that is timed on
its own, in a fresh process, as information. The load average (1 minute) is printed
before and after each case, since the machine may be shared, and so is the median CPU
time of a call (what it costs this process, waiting for no core).

    .venv/bin/python benchmarks/bench_pdf.py
    .venv/bin/python benchmarks/bench_pdf.py --runs 500 --wait-for-quiet 600

The table is printed and written to ``benchmarks/results/bench_pdf.md``; exit status
1 when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import bench_customer_list as base
import bench_money as money
from flask_migrate import upgrade
from pypdf import PdfReader

from webapp import create_app
from webapp.config import normalise_database_url
from webapp.extensions import db
from webapp.models.billing import Invoice, InvoiceLine
from webapp.services import settings
from webapp.services.customers import create_customer
from webapp.services.document_pdf import pdf_of
from webapp.services.documents import snapshot_of
from webapp.services.money import tax_for
from webapp.services.staff import create_staff

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "benchmarks" / "results" / "bench_pdf.md"
TARGET_MS = 200.0
PASSWORD = "benchmark password 1"
ISSUED = date(2026, 1, 31)


@dataclass
class Row:
    case: str
    lines: int
    pages: int
    size: int
    p50: float
    p95: float
    cpu_p50: float
    load: tuple[float, float]
    target: float | None


DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/tally_bench_pdf"


def fresh_database(url: str | None, directory: Path) -> str:
    """The SQLAlchemy URL of an empty database: PostgreSQL ``url`` dropped and created
    again, or (``url`` None) a SQLite file in ``directory``."""
    if url is None:
        return f"sqlite:///{directory / 'bench.db'}"
    admin, name = base._admin_url(url)
    with base.psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return normalise_database_url(url)


def make_app(directory: Path, url: str | None):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": fresh_database(url, directory),
            "SECRET_KEY": "bench-pdf",
            "WTF_CSRF_ENABLED": False,
            "JOBS_INLINE": "sync",
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        upgrade()
    return app


def issue(customer, number: str, lines: int) -> int:
    """An invoice of ``lines`` lines at 19 %, written as issuing writes one."""
    rows = [
        (
            f"Line {n + 1}: consulting and workshop day for the Łódź office team"
            + (", with travel and preparation" if n % 3 == 0 else ""),
            1 + n % 4,
            12_345 + n * 1_000,
        )
        for n in range(lines)
    ]
    subtotal = sum(quantity * unit for _, quantity, unit in rows)
    tax = tax_for(subtotal, 1900)
    invoice = Invoice(
        number=number,
        legal_entity_id=customer.legal_entity_id,
        customer_id=customer.id,
        currency="EUR",
        issue_date=ISSUED,
        due_date=ISSUED + timedelta(days=14),
        subtotal_minor=subtotal,
        tax_rate_bp=1900,
        tax_minor=tax,
        total_minor=subtotal + tax,
        **snapshot_of(customer),
    )
    invoice.lines = [
        InvoiceLine(
            description=text,
            quantity=quantity,
            unit_price_minor=unit,
            amount_minor=quantity * unit,
            tax_rate_bp=1900,
        )
        for text, quantity, unit in rows
    ]
    db.session.add(invoice)
    db.session.commit()
    return invoice.id


def timed(call, runs: int) -> tuple[list[float], float, tuple[float, float]]:
    """Wall times (ms), the median CPU time of this process (ms: what a call costs
    without waiting for a core), and the load average before and after."""
    for _ in range(5):
        call()
    load_before = os.getloadavg()[0]
    values, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        values.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return values, statistics.median(cpu), (load_before, os.getloadavg()[0])


def first_pdf_ms() -> float:
    """A fresh process: import, then the first PDF (fonts read and prepared) alone."""
    code = (
        "import time, datetime\n"
        "from webapp.services.pdf import Sheet, Party, Column, Total, render\n"
        "sheet = Sheet('Invoice', 'INV-1', Party('Tally'), 'Bill to', Party('Jürgen Müller'),"
        " [], [Column('Description')], [['Workshop']], [Total('Total', '€1.00', True)],"
        " datetime.datetime(2026, 1, 31))\n"
        "start = time.perf_counter(); render(sheet)\n"
        "print((time.perf_counter() - start) * 1000)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return float(result.stdout.strip().splitlines()[-1])


def run(runs: int, url: str | None) -> tuple[list[Row], float]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as directory:
        os.environ["TALLY_INSTANCE_PATH"] = directory
        app = make_app(Path(directory), url)
        with app.app_context():
            create_staff(db.session, "bench@example.com", "Bench", "agent", PASSWORD)
            entity = settings.default_legal_entity(db.session)
            entity.address = "1 Main Street\nLondon W1 1AA\nUnited Kingdom"
            entity.tax_id = "GB123456789"
            entity.invoice_footer = "Bank: Example Bank · IBAN GB00 TEST 0000 0000 0000 00"
            customer = create_customer(
                db.session,
                {
                    "name": "Jürgen Müller",
                    "company": "Łódź Trading sp. z o.o.",
                    "email": "jurgen@example.com",
                    "country": "PL",
                    "currency": "EUR",
                    "address_line1": "ul. Piotrkowska 12",
                    "city": "Łódź",
                    "postal_code": "90-001",
                    "tax_rate_bp": 1900,
                },
            )
            invoices = {lines: issue(customer, f"INV-{lines:06d}", lines) for lines in (1, 20)}
            client = app.test_client()
            signed_in = client.post(
                "/sign-in", data={"email": "bench@example.com", "password": PASSWORD}
            )
            assert signed_in.status_code == 303, signed_in.status_code
            for lines, invoice_id in invoices.items():
                invoice = db.session.get(Invoice, invoice_id)
                data = pdf_of(invoice).data
                pages = len(PdfReader(io.BytesIO(data)).pages)
                values, cpu, load = timed(lambda invoice=invoice: pdf_of(invoice), runs)
                rows.append(
                    Row(
                        "pdf_of (service)",
                        lines,
                        pages,
                        len(data),
                        statistics.median(values),
                        base.p95(values),
                        cpu,
                        load,
                        TARGET_MS if pages == 1 else None,
                    )
                )
                url = f"/invoices/{invoice_id}.pdf"

                def download(url=url) -> None:
                    response = client.get(url)
                    assert response.status_code == 200 and response.data.startswith(b"%PDF")

                values, cpu, load = timed(download, runs)
                rows.append(
                    Row(
                        f"GET {url.replace(str(invoice_id), '<id>')}",
                        lines,
                        pages,
                        len(data),
                        statistics.median(values),
                        base.p95(values),
                        cpu,
                        load,
                        TARGET_MS if pages == 1 else None,
                    )
                )
            db.session.remove()
            db.engine.dispose()
    return rows, first_pdf_ms()


def table(rows: list[Row], first_ms: float) -> str:
    out = [
        "| case | lines | pages | bytes | p50 ms | p95 ms | target | ok | CPU p50 ms "
        "| load average |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for row in rows:
        ok = "info" if row.target is None else ("yes" if row.p95 < row.target else "no")
        target = "—" if row.target is None else f"< {row.target:.0f}"
        out.append(
            f"| {row.case} | {row.lines} | {row.pages} | {row.size:,} | {row.p50:.1f} | "
            f"{row.p95:.1f} | {target} | {ok} | {row.cpu_p50:.1f} | "
            f"{row.load[0]:.2f} → {row.load[1]:.2f} |"
        )
    out.append(
        f"| first PDF in a new process (fonts read and prepared) | 1 | 1 | — | "
        f"{first_ms:.1f} | — | — | info | — | — |"
    )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs per case")
    parser.add_argument(
        "--wait-for-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait (at most this long) for a load average under 1",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_PDF_DATABASE_URL", DEFAULT_PG_URL),
        help=f"PostgreSQL database to drop, create and use (default {DEFAULT_PG_URL})",
    )
    parser.add_argument("--sqlite", action="store_true", help="a throwaway SQLite file instead")
    args = parser.parse_args()
    if args.wait_for_quiet:
        money.wait_for_quiet(args.wait_for_quiet)
    url = None if args.sqlite else args.database_url
    rows, first_ms = run(args.runs, url)
    backend = "SQLite" if url is None else "PostgreSQL"
    header = (
        f"PDF of an invoice on {backend}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.runs} runs per case after 5 warm-ups"
    )
    report = f"{header}\n\n{table(rows, first_ms)}\n"
    print(report)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)
    missed = [row for row in rows if row.target is not None and row.p95 >= row.target]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
