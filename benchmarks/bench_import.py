"""CSV import benchmark: a file of customers in Tally's export format, checked (dry run) and
imported by the real job in a process of its own; wall time, rows/s and peak memory.

Target (the import issue): 100,000 rows imported in under 60 s on PostgreSQL, with the
worker's peak RSS under 200 MB.

The file: ``--rows`` realistic customers from ``webapp.demo_data`` (seeded; names,
companies, emails, phones, addresses and tax rates across the demo's countries; about one
in five with a status other than active), written with the export's own headings and
cells (``services.exports.csv_writing``: formulas neutralised, tax rate, auto pay, status
label), Customer ID left empty (they are new customers) and matched by email. A few emails
repeat in the generated data: their later row updates the customer the earlier one added.

The database: ``tally_bench_import`` on 127.0.0.1 (``--pg-url``), made by this script,
migrated and emptied of customers before each run (it is this script's own; no other
database is touched). The tax classes the file's rates need are made first, as an admin
would under Settings.

Each phase runs as a worker runs a job: ``jobs.imports.run_import`` called in an app
context of a new Python process (``--worker-python``), which the benchmark starts and
waits for with ``os.wait4``: wall time from start to exit (imports and app start
included), peak RSS (``ru_maxrss`` of that process, in MB of 10^6 bytes). The upload
(checking the file, counting its rows) is timed in this process. Before measuring it waits
(up to ``--wait-for-quiet`` seconds) for the 1-minute load average to fall under 1 and
prints the load before and after each phase beside the figures.

    .venv/bin/python benchmarks/bench_import.py                  # 100,000 rows
    .venv/bin/python benchmarks/bench_import.py --rows 10000     # quick check

The table is printed and written to ``benchmarks/results/bench_import.md`` (``--report``).
Exit status 1 when a target is missed or the import is wrong (a row doubled or lost).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from flask_migrate import upgrade
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_customer_list import machine, wait_for_quiet  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import normalise_database_url  # noqa: E402
from webapp.demo_data import TAX_RATES, generate_customers  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models.customer import Customer, CustomerStatus  # noqa: E402
from webapp.models.imports import CustomerImport, ImportStatus  # noqa: E402
from webapp.services import imports, settings  # noqa: E402
from webapp.services.exports.csv_writing import HEADINGS, neutralise  # noqa: E402
from webapp.services.imports import running  # noqa: E402
from webapp.services.money import format_plain  # noqa: E402
from webapp.services.reference import format_tax_rate  # noqa: E402
from webapp.services.staff import create_staff, find_staff_by_email  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tally_bench_import"
TARGET_SECONDS = 60.0
TARGET_RSS_MB = 200.0
BENCH_EMAIL = "bench-import@example.com"

# What the worker process runs: one job, as RQ's work horse would.
WORKER = """
import sys, time
from webapp import create_app
from jobs.imports import run_import
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "bench",
                  "IMPORT_DIR": sys.argv[3], "JOBS_INLINE": "sync"})
with app.app_context():
    started = time.perf_counter()
    status = run_import(int(sys.argv[2]))
    seconds = time.perf_counter() - started
status_file = open("/proc/self/status").read()
peak_kb = int(status_file.split("VmHWM:")[1].split()[0])
print(status, seconds, peak_kb)
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare_database(url: str) -> None:
    """Create this script's database if missing."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone():
            log(f"creating database {name}")
            connection.execute(f'CREATE DATABASE "{name}"')


def empty_customers(app) -> None:
    """Remove what earlier runs imported (customers and what hangs on them, the imports)."""
    with app.app_context():
        db.session.execute(
            text(
                "TRUNCATE customers, contacts, addresses, customer_events, customer_imports, "
                "customer_import_problems RESTART IDENTITY CASCADE"
            )
        )
        db.session.commit()


def write_file(path: Path, rows: int, seed: int) -> None:
    """The export's columns, one realistic customer a row (see the module's docstring)."""
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADINGS)
        for row in generate_customers(rows, seed):
            writer.writerow(
                [
                    "",
                    neutralise(row["name"]),
                    neutralise(row["company"]),
                    neutralise(row["first_name"]),
                    neutralise(row["last_name"]),
                    neutralise(row["email"]),
                    neutralise(row["phone"]),
                    neutralise(row["mobile"]),
                    neutralise(row["fax"]),
                    neutralise(row["position"]),
                    neutralise(row["website"]),
                    neutralise(row["address_line1"]),
                    neutralise(row["address_line2"]),
                    neutralise(row["city"]),
                    neutralise(row["region"]),
                    neutralise(row["postal_code"]),
                    row["country"],
                    row["currency"],
                    neutralise(row["tax_id"]),
                    format_tax_rate(row["tax_rate_bp"]),
                    str(row["payment_terms_days"]),
                    row["invoicing_flow"],
                    "yes" if row["auto_pay"] else "no",
                    row["payment_gateway"],
                    CustomerStatus(row["status"]).label,
                    neutralise(row["footnotes"]),
                    format_plain(0, row["currency"]),
                    row["created_at"].isoformat(" ", "seconds"),
                    row["updated_at"].isoformat(" ", "seconds"),
                    "",
                ]
            )


@dataclass
class Phase:
    name: str
    rows: int
    seconds: float
    rss_mb: float | None
    load_before: float
    load_after: float
    note: str = ""
    job_seconds: float | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run_job(
    url: str, import_id: int, import_dir: str, python: str
) -> tuple[float, float, float, str]:
    """Run the import's job in a new process; (process wall seconds, the job's own seconds,
    the process's peak RSS in MB, the status it ended in)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [python, "-c", WORKER, url, str(import_id), import_dir],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "FLASK_SKIP_DOTENV": "1", "PYTHONPATH": str(ROOT)},
    )
    output = process.stdout.read().decode().strip()
    status = process.wait()
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"the import job exited with status {status}: {output}")
    # VmHWM, the process's own high-water mark since it started Python (ru_maxrss would
    # count the pages it shared with this, larger, process before the exec).
    ended, job_seconds, peak_kb = output.split()[-3:]
    return seconds, float(job_seconds), int(peak_kb) * 1024 / 1e6, ended


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_IMPORT_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--wait-for-quiet", type=float, default=300.0)
    parser.add_argument("--worker-python", default=sys.executable)
    parser.add_argument("--report", type=Path, default=RESULTS / "bench_import.md")
    args = parser.parse_args()

    prepare_database(args.pg_url)
    url = normalise_database_url(args.pg_url)
    folder = Path(tempfile.mkdtemp(prefix="tally-bench-import-"))
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "IMPORT_DIR": str(folder)}
    )
    with app.app_context():
        upgrade()
    empty_customers(app)
    path = folder / "customers.csv"
    log(f"writing {args.rows:,} rows to {path}")
    write_file(path, args.rows, args.seed)
    size_mb = path.stat().st_size / 1e6

    class NoQueue:  # the phases run in their own process below, not at the commit
        @staticmethod
        def enqueue_after_commit(*_args) -> None:
            return None

    running.jobs = NoQueue  # type: ignore[assignment]
    phases: list[Phase] = []
    with app.app_context():
        for rate in set(TAX_RATES):
            settings.tax_class_for_rate(db.session, rate)
        staff = find_staff_by_email(db.session, BENCH_EMAIL) or create_staff(
            db.session, BENCH_EMAIL, "Bench Admin", "admin", "bench password 12345"
        )
        db.session.commit()
        load = wait_for_quiet(patience=args.wait_for_quiet)
        started = time.perf_counter()
        customer_import = imports.upload(db.session, staff, path.name, path.read_bytes())
        upload_s = time.perf_counter() - started
        phases.append(
            Phase("upload (check, count)", customer_import.rows_total, upload_s, None, load,
                  os.getloadavg()[0], f"{size_mb:.1f} MB file")
        )  # fmt: skip
        import_id = customer_import.id
        errors = imports.start_dry_run(
            db.session, customer_import, imports.mapping_of(customer_import), "email"
        )
        assert not errors, errors
        db.session.remove()

    for phase in ("dry run", "import"):
        load = wait_for_quiet(patience=args.wait_for_quiet)
        log(f"{phase}: running the job (load {load:.2f})")
        seconds, job_seconds, rss, output = run_job(url, import_id, str(folder), args.worker_python)
        with app.app_context():
            done = db.session.get(CustomerImport, import_id)
            rows = done.rows_done
            note = output
            if phase == "dry run":
                note = f"{done.checked_errors} rows with errors"
                assert done.status == ImportStatus.CHECKED, done.status
                imports.start_import(db.session, done)
            else:
                note = (
                    f"{done.created_count:,} added, {done.updated_count:,} updated, "
                    f"{done.rejected_count:,} rejected"
                )
                assert done.status == ImportStatus.DONE, (done.status, done.last_error)
            db.session.remove()
        phases.append(Phase(phase, rows, seconds, rss, load, os.getloadavg()[0], note, job_seconds))

    with app.app_context():
        done = db.session.get(CustomerImport, import_id)
        customers = db.session.scalar(select(func.count()).select_from(Customer))
        distinct = db.session.scalar(select(func.count(func.distinct(Customer.email))))
        wrong = []
        if customers != done.created_count or distinct != customers:
            wrong.append(
                f"{customers:,} customers, {distinct:,} emails, {done.created_count:,} added"
            )
        if (
            done.created_count + done.updated_count + done.rejected_count + done.unchanged_count
            != args.rows
        ):
            wrong.append("the counts do not add up to the rows")
        db.session.remove()

    imported = phases[-1]
    verdicts = {
        "time": imported.seconds < TARGET_SECONDS,
        "memory": (imported.rss_mb or 0) < TARGET_RSS_MB,
        "correct": not wrong,
    }
    lines = [
        f"# CSV import benchmark — {datetime.now():%Y-%m-%d %H:%M}",
        "",
        f"{machine()}; {platform.python_version()}; PostgreSQL; "
        f"IMPORT_CHUNK_SIZE {app.config['IMPORT_CHUNK_SIZE']}",
        "",
        "| phase | rows | process s | job s | rows/s (job) | peak RSS MB | load before "
        "| load after | |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for p in phases:
        rss = f"{p.rss_mb:.0f}" if p.rss_mb is not None else "–"
        job = f"{p.job_seconds:.1f}" if p.job_seconds is not None else "–"
        rate = p.rows / (p.job_seconds or p.seconds)
        lines.append(
            f"| {p.name} | {p.rows:,} | {p.seconds:.1f} | {job} | {rate:,.0f} | {rss} | "
            f"{p.load_before:.2f} | {p.load_after:.2f} | {p.note} |"
        )
    lines += [
        "",
        "Process s: from starting the worker-like process to its exit (Python and the app "
        "start, about 2 s, included); job s: the job alone, as a running RQ worker's work "
        "horse spends it. The time target is judged on the process.",
        "",
        f"Targets: import under {TARGET_SECONDS:.0f} s "
        f"({'met' if verdicts['time'] else 'MISSED'}), worker peak RSS under "
        f"{TARGET_RSS_MB:.0f} MB ({'met' if verdicts['memory'] else 'MISSED'}); every row "
        f"once: {'yes' if verdicts['correct'] else 'NO: ' + '; '.join(wrong)}.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report)
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
