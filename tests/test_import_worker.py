"""A CSV import under a real worker that is killed mid-way: PostgreSQL, a redis-server and
``flask --app wsgi worker`` processes (tests/test_background_faults.py's), SIGKILL on the
worker and its work horse while the import is between two chunks. The sweeper of a new
worker takes the import up again at its cursor, and at the end every row of the file is a
customer exactly once, with one "Imported from" line each."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from tests import test_background_faults as faults
from tests.conftest import empty_database, make_app
from tests.waiting import wait_for
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.models.history import CustomerEvent
from webapp.models.imports import CustomerImport, ImportStatus
from webapp.services import imports
from webapp.services.staff import create_staff

ROWS = 3_000
# The first worker commits every few rows, so the import is early on when it is killed.
KILLED_CHUNK_SIZE = 20
STALE_AFTER_SECONDS = 3


@pytest.fixture
def import_settings(postgres_url, instance_dir, redis_server, tmp_path) -> dict[str, Any]:
    return {
        "SECRET_KEY": "import-worker-" + uuid.uuid4().hex,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_server.url,
        "MAIL_SERVER": "",
        "JOBS_SWEEP_SECONDS": 1,
        "IMPORT_DIR": str(tmp_path / "imports"),
        "EXPORT_DIR": str(tmp_path / "exports"),
        "IMPORT_STALE_AFTER_SECONDS": STALE_AFTER_SECONDS,
        "IMPORT_MAX_ATTEMPTS": 3,
        "PUBLIC_BASE_URL": "http://tally.test",
        "SELLER_NAME": "Tally",
        "SELLER_ADDRESS": "",
        "TALLY_INSTANCE_PATH": str(instance_dir),
    }


@pytest.fixture
def import_web(import_settings):
    config = {key: value for key, value in import_settings.items() if key != "DATABASE_URL"}
    app = make_app(
        import_settings["DATABASE_URL"], Path(import_settings["TALLY_INSTANCE_PATH"]), **config
    )
    empty_database(app)
    yield app
    empty_database(app)


@pytest.fixture
def start_import_worker(
    import_settings, import_web, tmp_path
) -> Iterator[Callable[..., faults.WorkerProcess]]:
    started: list[faults.WorkerProcess] = []

    def start(**overrides: Any) -> faults.WorkerProcess:
        env = faults.worker_environment({**import_settings, **overrides})
        worker = faults.WorkerProcess(
            env, tmp_path / f"worker-{len(started) + 1}.log", import_settings["REDIS_URL"]
        )
        started.append(worker)
        worker.wait_until_listening()
        return worker

    yield start
    for worker in started:
        worker.stop()
    for worker in started:
        print(f"---- {worker.log_path.name} (pid {worker.pid}) ----\n{worker.output()}")


def the_file() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Name", "Email", "Country", "City"])
    for number in range(1, ROWS + 1):
        writer.writerow(
            [f'Kunde {number:05d}, "Nord" GmbH', f"k{number}@example.com", "DE", "Kiel"]
        )
    return buffer.getvalue().encode()


def import_row(app, import_id: int) -> CustomerImport:
    with app.app_context():
        found = db.session.get(CustomerImport, import_id)
        db.session.expunge(found)
        return found


def test_an_import_whose_worker_is_killed_resumes_and_has_every_row_once(
    import_web, import_settings, start_import_worker
):
    app = import_web
    first_worker = start_import_worker(IMPORT_CHUNK_SIZE=KILLED_CHUNK_SIZE)
    with app.app_context():
        admin = create_staff(db.session, "ada@example.com", "Ada Admin", "admin", faults.PASSWORD)
        customer_import = imports.upload(db.session, admin, "kunden.csv", the_file())
        import_id = customer_import.id
        imports.start_dry_run(
            db.session, customer_import, imports.mapping_of(customer_import), "email"
        )
    checked = wait_for(
        lambda: (row := import_row(app, import_id)).status == ImportStatus.CHECKED and row,
        "the dry run to finish",
    )
    assert (checked.checked_rows, checked.checked_errors) == (ROWS, 0)
    with app.app_context():
        imports.start_import(db.session, db.session.get(CustomerImport, import_id))

    with psycopg.connect(import_settings["DATABASE_URL"]) as watcher:

        def under_way() -> int | None:
            status, done = watcher.execute(
                "SELECT status, rows_done FROM customer_imports WHERE id = %s", (import_id,)
            ).fetchone()
            watcher.rollback()
            assert status in (ImportStatus.QUEUED, ImportStatus.RUNNING), status
            return done if status == ImportStatus.RUNNING and done > 0 else None

        wait_for(under_way, "the import to commit its first chunk")
        # Hold the customers table: the job stops at its next chunk's first query, so the
        # kill lands between two chunks however fast the machine is.
        watcher.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        done = watcher.execute(
            "SELECT rows_done FROM customer_imports WHERE id = %s", (import_id,)
        ).fetchone()[0]
        assert 0 < done < ROWS
        assert faults.child_pids(first_worker.pid), "no work horse is running the import"
        first_worker.kill()
        watcher.rollback()

    killed = import_row(app, import_id)
    assert (killed.status, killed.rows_done, killed.attempts) == (ImportStatus.RUNNING, done, 1)
    with app.app_context():
        # What the killed attempt committed, and nothing of the chunk it was in.
        assert db.session.scalar(select(func.count()).select_from(Customer)) == done
        assert killed.created_count == done

    start_import_worker()
    finished = wait_for(
        lambda: (
            (row := import_row(app, import_id)).status in (ImportStatus.DONE, ImportStatus.FAILED)
            and row
        ),
        "the killed import to finish",
    )
    assert finished.status == ImportStatus.DONE, finished.last_error
    assert finished.attempts == 2
    assert (finished.rows_done, finished.created_count) == (ROWS, ROWS)
    assert (finished.updated_count, finished.rejected_count) == (0, 0)
    with app.app_context():
        emails = db.session.scalars(select(Customer.email)).all()
        assert len(emails) == len(set(emails)) == ROWS
        assert set(emails) == {f"k{number}@example.com" for number in range(1, ROWS + 1)}
        lines = db.session.scalars(
            select(CustomerEvent.customer_id).where(CustomerEvent.kind == "imported")
        ).all()
        assert len(lines) == len(set(lines)) == ROWS
