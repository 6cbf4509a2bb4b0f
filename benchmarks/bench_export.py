"""Export benchmark: all customers to CSV by the real worker, its wall time and peak memory.

Target (the export issue): 1,000,000 customers on PostgreSQL exported in under
60 s, with the worker's peak memory under 200 MB.

Uses the PostgreSQL database of bench_customer_list.py (``tally_bench``,
1,000,000 demo customers) with the 5,000,000 ledger entries and balances of
bench_money.py, both created and filled the same way if missing (that takes
several minutes once; re-runs reuse them). The money fill books every entry in
the customer's billing currency, so to give the "Other balances" column work to
do the run adds, for the run only, a balance in one or two other currencies to
5 % of the customers (``--other-balances``): ledger entries with an idempotency
key ``bench-export-…`` and their ``customer_balances`` rows, removed afterwards
(bench_money.py's clean-up of its own postings removes them too, should a run
be interrupted).

The export runs as in production: a throwaway ``redis-server`` on a free
loopback port (no persistence), ``start_export`` called in an app context built
from the same environment as the worker's (so it records the export and
enqueues ``jobs.exports.run_export`` to RQ after the commit), then
``flask --app wsgi worker --burst`` as a subprocess with DATABASE_URL,
REDIS_URL, EXPORT_DIR and TALLY_INSTANCE_PATH in a temporary folder, a
SECRET_KEY and no MAIL_SERVER (the "export ready" email is recorded as not
delivered). The worker forks a work horse for each job (the export, then the
email) and exits when the queue is empty. This is done ``--runs`` times (3),
one export after the other: on a shared machine one run can be a lot slower
than the next, so the time verdict is on the median (every run is shown).

Measured:

- wall time: from just before the worker is started to the export's
  ``finished_at`` (the row's status is polled until it is ``done``); worker start
  and the job's claim included. The export's own duration (``finished_at -
  started_at``) and rows/s are reported too.
- peak memory: ``ru_maxrss`` of the worker's process tree, from ``os.wait4`` on
  the worker (Linux reports the largest peak RSS of the process and of every
  descendant it waited for: the work horses). That is the verdict's number, in
  MB of 10^6 bytes. It counts pages shared with the parent after the fork too,
  so it errs high. For information /proc is sampled every 0.2 s: peak RSS
  (VmHWM) of the worker and of the export's work horse, and the largest sum of
  their PSS (what the two take together, shared pages split between them).
- CPU time (user + system) of the worker and its work horses, from the same
  ``os.wait4``: how much of the wall time the Python side takes.
- the file is read back with the csv module: rows and headings must match.

    .venv/bin/python benchmarks/bench_export.py                     # full scale
    .venv/bin/python benchmarks/bench_export.py --customers 20000 --runs 1   # quick check
    .venv/bin/python benchmarks/bench_export.py --wait-for-quiet 600 --keep-file
    .venv/bin/python benchmarks/bench_export.py --app-root /tmp/candidate \\
        --report benchmarks/results/bench_export_candidate.md   # a copy with a change

Other scales use their own databases (``tally_bench_20000``), as the other
benchmarks do; the targets stay those of the full scale. ``--app-root`` runs
the worker from another copy of the code (``PYTHONPATH`` and working folder),
to measure a candidate change without touching this checkout. After each run
Redis is stopped and its temporary folder (the CSV, ~300 MB at full scale)
removed (the last one is kept with ``--keep-file``); at the end the
benchmark's exports and their emails (those of the bench staff member) are
deleted, so re-runs measure the same data. The table is
printed and written to ``benchmarks/results/bench_export.md`` (``--report``);
exit status 1 when a target is missed or the export is wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import bench_customer_list as base
import bench_money as money
import psycopg
from rq import Queue

from webapp import create_app
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.services.exports import HEADINGS, start_export
from webapp.services.staff import find_staff_by_email

ROOT = base.ROOT
RESULTS = base.RESULTS
REPORT = RESULTS / "bench_export.md"
CUSTOMERS = base.PG_CUSTOMERS
WALL_TARGET_S = 60.0
MEMORY_TARGET_MB = 200.0  # 10^6 bytes
OTHER_BALANCES_PERCENT = 5.0
OTHER_KEY = "bench-export-"
SAMPLE_S = 0.2
RUNS = 3  # timings on a shared machine vary; the verdict is on the median
FLASK = ROOT / ".venv" / "bin" / "flask"


def log(message: str) -> None:
    base.log(message)


def mb(kib: float) -> float:
    """KiB (what Linux reports) to MB of 10^6 bytes."""
    return kib * 1024 / 1e6


# --------------------------------------------------------------------------- data

ADD_OTHER_BALANCES = """
INSERT INTO ledger_entries (customer_id, currency, amount_minor, kind, description,
                            payment_method, reference, created_at, idempotency_key)
SELECT id, currency, amount,
       CASE WHEN amount < 0 THEN 'charge' ELSE 'credit' END,
       CASE WHEN amount < 0 THEN 'Bench export: charge' ELSE 'Bench export: credit' END,
       '', '', now() AT TIME ZONE 'utc', %(prefix)s::text || id || '-' || currency
FROM (
    SELECT c.id, k.k,
           (array_remove(ARRAY['USD', 'EUR', 'GBP', 'CHF'], c.currency))
               [1 + (c.id + k.k) %% 3] AS currency,
           coalesce(nullif((c.id::bigint * 7919 + k.k * 104729) %% 40000 - 25000, 0), 1)
               AS amount
    FROM customers c
    CROSS JOIN (VALUES (0), (1)) AS k(k)
    WHERE (c.id::bigint * 2654435761) %% 10000 < %(first)s
      AND (k.k = 0 OR (c.id::bigint * 2654435761) %% 10000 < %(second)s)
) picked
WHERE NOT EXISTS (SELECT 1 FROM customer_balances b
                  WHERE b.customer_id = picked.id AND b.currency = picked.currency)
"""
ADD_OTHER_ROWS = """
INSERT INTO customer_balances (customer_id, currency, balance_minor, updated_at)
SELECT customer_id, currency, sum(amount_minor), max(created_at) FROM ledger_entries
WHERE idempotency_key LIKE %(pattern)s GROUP BY customer_id, currency
"""
COUNT_OTHER = "SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE %(pattern)s"
REMOVE_OTHER_BALANCES = [
    """DELETE FROM customer_balances b USING ledger_entries e
       WHERE e.idempotency_key LIKE %(pattern)s
         AND b.customer_id = e.customer_id AND b.currency = e.currency""",
    "DELETE FROM ledger_entries WHERE idempotency_key LIKE %(pattern)s",
]
KEYS = {"prefix": OTHER_KEY, "pattern": OTHER_KEY + "%"}


def remove_other_balances(url: str) -> int:
    with psycopg.connect(money.libpq_url(url)) as connection:
        removed = 0
        for statement in REMOVE_OTHER_BALANCES:
            removed = connection.execute(statement, KEYS).rowcount
    return removed


def add_other_balances(url: str, percent: float) -> int:
    """Balances in other currencies for ``percent`` of the customers (a quarter of
    them in two), in the same transaction as the entries they add up."""
    first = round(percent * 100)
    with psycopg.connect(money.libpq_url(url)) as connection:
        picked = {"first": first, "second": first // 4, **KEYS}
        entries = connection.execute(ADD_OTHER_BALANCES, picked).rowcount
        connection.execute(ADD_OTHER_ROWS, KEYS)
    with psycopg.connect(money.libpq_url(url), autocommit=True) as connection:
        connection.execute("ANALYZE customer_balances, ledger_entries")
    return entries


def bench_staff_id(url: str) -> int:
    with psycopg.connect(money.libpq_url(url)) as connection:
        row = connection.execute(
            "SELECT id FROM staff WHERE lower(email) = %s", (base.STAFF_EMAIL,)
        ).fetchone()
    if row is None:
        raise SystemExit(f"no staff member {base.STAFF_EMAIL} in the bench database")
    return row[0]


def remove_exports(url: str, staff_id: int) -> tuple[int, int]:
    """The bench staff member's exports and the emails about them (exports first: they
    point at their email)."""
    with psycopg.connect(money.libpq_url(url)) as connection:
        exports = connection.execute(
            "DELETE FROM exports WHERE staff_id = %s", (staff_id,)
        ).rowcount
        emails = connection.execute(
            "DELETE FROM emails WHERE staff_id = %s AND kind = 'export_ready'", (staff_id,)
        ).rowcount
    return exports, emails


def missing_columns(url: str) -> list[str]:
    """Columns the models have and the database lacks: a migration edited after this
    database was migrated (``upgrade()`` sees the same revision and does nothing)."""
    with psycopg.connect(money.libpq_url(url)) as connection:
        present = set(
            connection.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            ).fetchall()
        )
    return [
        f"{table.name}.{column.name}"
        for table in db.metadata.sorted_tables
        for column in table.columns
        if (table.name, column.name) not in present
    ]


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (scripts/test installs it)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise SystemExit(f"redis-server did not start on port {port}")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def kill_worker(worker: subprocess.Popen) -> None:
    """SIGKILL the work horses first: a worker told to stop waits for its current job."""
    for horse in children(worker.pid):
        with contextlib.suppress(OSError):
            os.kill(horse, signal.SIGKILL)
    worker.kill()


def children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in listed]


def proc_kib(pid: int) -> tuple[int, int, int]:
    """(VmHWM, VmRSS, Pss) in KiB; zeros once the process is gone."""
    hwm = rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
                break
    except (OSError, ValueError):
        pass
    return hwm, rss, pss


@dataclass
class Memory:
    ru_maxrss_kib: int = 0  # os.wait4 on the worker: the tree's largest peak RSS
    children_maxrss_kib: int = 0  # getrusage(RUSAGE_CHILDREN) of this process, after it
    worker_hwm_kib: int = 0
    horse_hwm_kib: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM
    export_horse: int | None = None  # the first horse: the export's (the email job follows)
    tree_pss_kib: int = 0  # largest sum of worker and horse PSS seen
    samples: int = 0

    def sample(self, worker: int) -> None:
        hwm, _, pss = proc_kib(worker)
        self.worker_hwm_kib = max(self.worker_hwm_kib, hwm)
        total = pss
        for horse in children(worker):
            horse_hwm, _, horse_pss = proc_kib(horse)
            if horse_hwm:
                self.horse_hwm_kib[horse] = max(self.horse_hwm_kib.get(horse, 0), horse_hwm)
                if self.export_horse is None:
                    self.export_horse = horse
            total += horse_pss
        self.tree_pss_kib = max(self.tree_pss_kib, total)
        self.samples += 1

    @property
    def export_horse_hwm_kib(self) -> int:
        if self.export_horse is not None:
            return self.horse_hwm_kib.get(self.export_horse, 0)
        return max(self.horse_hwm_kib.values(), default=0)


# --------------------------------------------------------------------------- the run


@dataclass
class Run:
    customers: int
    export_id: int = 0
    status: str = ""
    last_error: str = ""
    rows_total: int = 0
    rows_done: int = 0
    size_bytes: int = 0
    wall_s: float | None = None  # worker start -> finished_at
    export_s: float | None = None  # started_at -> finished_at
    claim_s: float | None = None  # worker start -> started_at
    worker_exit_s: float = 0.0  # worker start -> worker exited (email job included)
    worker_rc: int | None = None
    worker_cpu_s: float = 0.0  # user + system time of the worker and its work horses
    file_rows: int | None = None
    file_headings_ok: bool = False
    file_other_balances: int = 0
    email_status: str = ""
    memory: Memory = field(default_factory=Memory)
    load: tuple[float, float] = (0.0, 0.0)

    @property
    def rows_per_s(self) -> float:
        return self.rows_done / self.export_s if self.export_s else 0.0


def export_row(connection, export_id: int) -> dict:
    cursor = connection.execute(
        "SELECT status, last_error, rows_total, rows_done, size_bytes, file_name, "
        "started_at, finished_at FROM exports WHERE id = %s",
        (export_id,),
    )
    names = [column.name for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def read_back(path: Path, run: Run) -> None:
    """Rows and headings of the written file, and how many have other balances."""
    rows = other = 0
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        run.file_headings_ok = next(reader, None) == HEADINGS
        for row in reader:
            rows += 1
            if row[-1]:
                other += 1
    run.file_rows, run.file_other_balances = rows, other


def run_export(url: str, customers: int, work: Path, timeout_s: float, app_root: Path) -> Run:
    """Start an export through the service, run the burst worker (from ``app_root``'s
    code), measure."""
    run = Run(customers)
    redis_process, redis_url = start_redis(work)
    env = dict(os.environ)
    env.pop("MAIL_SERVER", None)
    env.update(
        DATABASE_URL=url,
        REDIS_URL=redis_url,
        EXPORT_DIR=str(work / "exports"),
        SECRET_KEY="bench-export-secret-key",
        TALLY_INSTANCE_PATH=str(work / "instance"),
    )
    worker_env = dict(env, PYTHONPATH=str(app_root))  # before the editable install
    worker_log = work / "worker.log"
    worker: subprocess.Popen | None = None
    saved = dict(os.environ)
    try:
        # The app that starts the export reads the same environment as the worker's.
        os.environ.clear()
        os.environ.update(env)
        app = create_app()
        with app.app_context():
            staff = find_staff_by_email(db.session, base.STAFF_EMAIL)
            export, started = start_export(db.session, staff)
            run.export_id = export.id
            db.session.remove()
            db.engine.dispose()
        if not started:
            raise SystemExit(f"export {run.export_id} was already under way")
        # Whatever queue the app routes exports to: every queue on this fresh Redis.
        connection = app.extensions["tally_jobs"].connection
        queued = {queue.name: queue.count for queue in Queue.all(connection=connection)}
        if sum(queued.values()) != 1:
            raise SystemExit(f"jobs on the queues after start_export: {queued}, not 1")
        log(f"export {run.export_id} enqueued on {redis_url}; starting the burst worker")

        run.load = (os.getloadavg()[0], 0.0)
        with open(worker_log, "wb") as output, psycopg.connect(money.libpq_url(url)) as poll:
            poll.autocommit = True
            started_utc = utcnow()
            started = time.perf_counter()
            worker = subprocess.Popen(
                [str(FLASK), "--app", "wsgi", "worker", "--burst"],
                cwd=app_root,
                env=worker_env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            status, last_report = "queued", started
            while True:
                pid, wait_status, usage = os.wait4(worker.pid, os.WNOHANG)
                if pid:
                    run.worker_exit_s = time.perf_counter() - started
                    run.worker_rc = os.waitstatus_to_exitcode(wait_status)
                    worker.returncode = run.worker_rc
                    run.memory.ru_maxrss_kib = usage.ru_maxrss
                    run.worker_cpu_s = usage.ru_utime + usage.ru_stime
                    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                    run.memory.children_maxrss_kib = usage.ru_maxrss
                    break
                run.memory.sample(worker.pid)
                if status in ("queued", "running"):
                    row = export_row(poll, run.export_id)
                    status = row["status"]
                    now = time.perf_counter()
                    if now - last_report >= 10:
                        last_report = now
                        log(
                            f"  {now - started:6.1f} s  {status}  "
                            f"{row['rows_done']:,} of {row['rows_total']:,} rows"
                        )
                if time.perf_counter() - started > timeout_s:
                    log(f"timeout after {timeout_s:.0f} s: killing the worker and its horse")
                    kill_worker(worker)
                    timeout_s = float("inf")
                time.sleep(SAMPLE_S)
            run.load = (run.load[0], os.getloadavg()[0])
            row = export_row(poll, run.export_id)
            email = poll.execute(
                "SELECT status FROM emails WHERE kind = 'export_ready' AND staff_id = "
                "(SELECT staff_id FROM exports WHERE id = %s) ORDER BY id DESC LIMIT 1",
                (run.export_id,),
            ).fetchone()
        run.email_status = email[0] if email else "none"
        run.status, run.last_error = row["status"], row["last_error"]
        run.rows_total, run.rows_done = row["rows_total"], row["rows_done"]
        run.size_bytes = row["size_bytes"]
        if row["started_at"] and row["finished_at"]:
            run.export_s = (row["finished_at"] - row["started_at"]).total_seconds()
            run.wall_s = (row["finished_at"] - started_utc).total_seconds()
            run.claim_s = (row["started_at"] - started_utc).total_seconds()
        log(
            f"worker exited ({run.worker_rc}) after {run.worker_exit_s:.1f} s; export "
            f"{run.status}, {run.rows_done:,} rows, {run.size_bytes / 1e6:,.1f} MB"
        )
        if run.worker_rc != 0 or run.status != "done":
            tail = worker_log.read_text(errors="replace")[-3000:]
            log(f"worker log (end):\n{tail}")
        if run.status == "done":
            path = work / "exports" / row["file_name"]
            started = time.perf_counter()
            read_back(path, run)
            log(
                f"read back {path.name}: {run.file_rows:,} rows, headings "
                f"{'ok' if run.file_headings_ok else 'WRONG'}, "
                f"{run.file_other_balances:,} with other balances "
                f"({time.perf_counter() - started:.1f} s)"
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if worker is not None and worker.returncode is None:
            kill_worker(worker)
            worker.wait()
        stop(redis_process)
    return run


# --------------------------------------------------------------------------- report


@dataclass
class Line:
    case: str
    target: str
    measured: str
    verdict: str  # "ok", "MISS" or "info"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    """The median, and every run's value when there are several."""
    text = f"{median(values):,.{digits}f} {unit}".rstrip()
    if len(values) > 1:
        text += " (" + " / ".join(f"{value:,.{digits}f}" for value in values) + ")"
    return text


def lines_of(runs: list[Run]) -> list[Line]:
    customers = runs[0].customers
    done = [run for run in runs if run.wall_s is not None]
    walls = [run.wall_s for run in done]
    peak = max(mb(run.memory.ru_maxrss_kib) for run in runs)
    rows_ok = all(
        run.status == "done"
        and run.rows_done == customers
        and run.file_rows == customers
        and run.file_headings_ok
        for run in runs
    )

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISS"

    def info(case: str, values: list[float], unit: str, digits: int = 1) -> Line:
        return Line(case, "—", spread(values, unit, digits), "info")

    return [
        Line(
            "wall time, worker start → export done",
            f"< {WALL_TARGET_S:.0f} s",
            spread(walls, "s") if walls else "—",
            verdict(len(done) == len(runs) and median(walls) < WALL_TARGET_S),
        ),
        Line(
            "peak RSS of the worker tree (ru_maxrss)",
            f"< {MEMORY_TARGET_MB:.0f} MB",
            f"{peak:.1f} MB",
            verdict(0 < peak < MEMORY_TARGET_MB),
        ),
        Line(
            "rows in the file (csv read back, headings checked)",
            f"= {customers:,}",
            " / ".join("—" if run.file_rows is None else f"{run.file_rows:,}" for run in runs),
            verdict(rows_ok),
        ),
        info("export's own duration (started_at → finished_at)", [r.export_s for r in done], "s"),
        info("rows per second (export's own duration)", [r.rows_per_s for r in done], "", 0),
        info("CPU time of the worker tree (user + system)", [r.worker_cpu_s for r in runs], "s"),
        Line("file size", "—", f"{max(run.size_bytes for run in runs) / 1e6:,.1f} MB", "info"),
        info(
            "peak RSS of the export's work horse (VmHWM)",
            [mb(run.memory.export_horse_hwm_kib) for run in runs],
            "MB",
        ),
        info(
            "peak RSS of the worker process (VmHWM)",
            [mb(run.memory.worker_hwm_kib) for run in runs],
            "MB",
        ),
        info(
            "peak PSS, worker + work horse together",
            [mb(run.memory.tree_pss_kib) for run in runs],
            "MB",
        ),
    ]


def report(runs: list[Run], lines: list[Line], version: str, other: int, notes: list[str]) -> str:
    customers = runs[0].customers
    table = [
        "| case | scale | target | measured | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    scale = f"{customers:,} customers"
    for line in lines:
        verdict = "**MISS**" if line.verdict == "MISS" else line.verdict
        table.append(f"| {line.case} | {scale} | {line.target} | {line.measured} | {verdict} |")
    table.append("")
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    table.append(
        f"{stamp} · {base.machine()} · Python {platform.python_version()}, PostgreSQL {version}"
    )
    table.append("")
    if len(runs) > 1:
        table.append(
            f"- {len(runs)} exports one after the other; times are the median (each run's in "
            "brackets), the wall-time verdict is on the median, the memory one on the largest"
        )
    busy = (os.cpu_count() or 1) * 0.75
    for number, run in enumerate(runs, 1):
        before, after = run.load
        # The export itself keeps two processes busy (work horse and database); only the
        # load before it says whether other work was competing.
        warning = " (busy machine before the start: timings inflated)" if before > busy else ""
        claim = "" if run.claim_s is None else f", export claimed {run.claim_s:.1f} s in"
        table.append(
            f"- run {number}: load average (1 min) {before:.2f} at the start → {after:.2f} at "
            f"the end (the export's own processes included){warning}; worker exited "
            f'{run.worker_rc} after {run.worker_exit_s:.1f} s{claim}; "export ready" email: '
            f"{run.email_status}" + (f"; export error: {run.last_error}" if run.last_error else "")
        )
    samples = sum(run.memory.samples for run in runs)
    children = max(mb(run.memory.children_maxrss_kib) for run in runs)
    table += [
        "- worker: `flask --app wsgi worker --burst` (RQ, a work horse forked per job: the "
        "export, then its email) on a throwaway redis-server; wall time from just before the "
        "worker starts to the export's finished_at",
        f"- memory: ru_maxrss from os.wait4 on the worker, the largest peak RSS of the worker "
        f"and the work horses it forked and waited for (pages shared after the fork counted "
        f"in full); getrusage(RUSAGE_CHILDREN) of the benchmark after waiting for the worker: "
        f"{children:.1f} MB. VmHWM and PSS sampled from /proc every {SAMPLE_S} s "
        f"({samples} samples). MB = 10^6 bytes",
        f"- data: {customers:,} customers, {customers * money.ENTRIES_PER_CUSTOMER:,} "
        f"ledger entries (bench_money.py) and, for this run, other-currency balances for "
        f"{other:,} customer/currency pairs; rows with other balances in the file: "
        f"{runs[-1].file_other_balances:,}",
    ]
    table += [f"- {note}" for note in notes]
    return "\n".join(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--customers", type=int, default=CUSTOMERS, metavar="N", help="default 1,000,000")
    add(
        "--other-balances",
        type=float,
        default=OTHER_BALANCES_PERCENT,
        metavar="PCT",
        help="percent of customers given balances in other currencies for the run (default 5)",
    )
    add("--runs", type=int, default=RUNS, metavar="N", help="exports one after the other (3)")
    add("--timeout", type=float, default=1800, metavar="S", help="stop a worker after S s")
    add("--keep-file", action="store_true", help="keep the last run's folder and CSV")
    add(
        "--app-root",
        type=Path,
        default=ROOT,
        help="run the worker from this copy of the code, e.g. one with a candidate change "
        "(default: this checkout)",
    )
    add(
        "--wait-for-quiet",
        type=float,
        default=0,
        metavar="S",
        help="wait up to S seconds for the load average to drop before exporting",
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
    if args.customers < 1 or args.runs < 1:
        parser.error("--customers and --runs must be positive")
    if not 0 <= args.other_balances <= 100:
        parser.error("--other-balances is a percentage")
    url = args.pg_url or base.DEFAULT_PG_URL
    if args.pg_url is None and args.customers != CUSTOMERS:
        url += f"_{args.customers}"

    base.prepare_postgresql(url, args.customers, fresh=False)
    app = base.make_app(url)
    base.fill(app, "postgresql", args.customers)  # migrates and adds the staff member
    with app.app_context():
        db.engine.dispose()
    missing = missing_columns(url)
    if missing:
        raise SystemExit(
            f"{url} lacks {', '.join(missing)}: a migration changed after this database was "
            "migrated. If only emails/exports are concerned (they hold nothing but the "
            "benchmarks' own rows), rebuild them: DATABASE_URL=<url> .venv/bin/flask --app wsgi "
            "db downgrade 0004, then db upgrade."
        )
    entries = args.customers * money.ENTRIES_PER_CUSTOMER
    money.fill_ledger(url, entries, fresh=False, seed=money.SEED)
    staff_id = bench_staff_id(url)
    notes = []
    left = remove_exports(url, staff_id)
    if any(left):
        log(f"removed {left[0]} export(s) and {left[1]} email(s) left by an earlier run")
    if remove_other_balances(url):
        log("removed other-currency balances left by an earlier run")
    with psycopg.connect(money.libpq_url(url)) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]

    work = Path(tempfile.mkdtemp(prefix="bench_export_"))
    other = 0
    try:
        started = time.perf_counter()
        entries_added = add_other_balances(url, args.other_balances)
        with psycopg.connect(money.libpq_url(url)) as connection:
            other = connection.execute(COUNT_OTHER, KEYS).fetchone()[0]
        log(
            f"other-currency balances: {entries_added:,} added "
            f"({time.perf_counter() - started:.1f} s)"
        )
        runs: list[Run] = []
        for number in range(1, args.runs + 1):
            if args.wait_for_quiet:
                money.wait_for_quiet(args.wait_for_quiet)
            folder = work / f"run{number}"
            folder.mkdir()
            log(f"run {number} of {args.runs}")
            runs.append(
                run_export(url, args.customers, folder, args.timeout, args.app_root.resolve())
            )
            last = number == args.runs or runs[-1].status != "done"
            if not (args.keep_file and last):
                shutil.rmtree(folder, ignore_errors=True)  # the CSV: ~300 MB at full scale
            if last:
                break
    finally:
        removed = remove_other_balances(url)
        exports, emails = remove_exports(url, staff_id)
        log(
            f"clean-up: {removed:,} other-currency entries, {exports} export(s), "
            f"{emails} email(s) removed"
        )
        if args.keep_file:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if runs[-1].status != "done" and len(runs) < args.runs:
        notes.append(f"stopped after run {len(runs)}: the export did not finish")

    if args.app_root.resolve() != ROOT:
        notes.append(f"worker code from {args.app_root.resolve()} (not this checkout)")
    if args.customers != CUSTOMERS:
        notes.append(
            f"the targets are for {CUSTOMERS:,} customers; this run exported {args.customers:,}"
        )
    lines = lines_of(runs)
    table = report(runs, lines, version, other, notes)
    print(table)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(table + "\n")
    return 1 if any(line.verdict == "MISS" for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
