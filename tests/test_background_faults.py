"""Background work under faults, with real parts only: PostgreSQL, a redis-server, an
SMTP server on loopback (aiosmtpd) and the worker as its own process
(``flask --app wsgi worker``), killed and restarted the way an operator or a crash would.

What these tests prove:

* A captured charge's invoice email is delivered end to end (web request → row →
  RQ job → worker → SMTP) with the right total and the invoice's PDF, which the worker
  makes as it sends, and recorded as sent, once.
* With the mail server down, the email is retried on its back-off, then ends
  "failed" with the reason; once the server is back, "Resend" (the real form, with
  CSRF) delivers it exactly once, and no later sweep sends it again.
* With Redis down, capturing a charge still works (ledger entry and invoice recorded,
  the pages answer); the email waits "queued" in the database and, once Redis is back,
  the worker's sweep hands it to a job and it is delivered exactly once.
* A worker killed with SIGKILL in the middle of an export does not leave it "running"
  for ever: after a new worker starts, its sweep either runs it again to completion or,
  once ``EXPORT_MAX_ATTEMPTS`` is used up, marks it failed with the reason; either way
  a new export can then be started and completes.
* Redis away does not stop a worker: started without Redis it waits (one log line,
  not one per attempt) and sends a queued email within 5 s of redis-server starting;
  an idle worker is back at work within 5 s of Redis returning; Redis killed in the
  middle of a send or an export leaves the worker running, the email sent once, the
  export complete and its ready email delivered once Redis is back.
* However many sweeps run over a backlog, and two at once, each email and export has
  exactly one job in its RQ queue.

Intervals are shortened through the same environment variables an operator would set
(sweep every second, one-second mail back-off, exports stale after three seconds).
Waits poll with a deadline; nothing asserts on timing.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import insert, select, update

from jobs.maintenance import sweep
from tests.conftest import (
    PASSWORD,
    RedisServer,
    SmtpServer,
    StaffClient,
    csrf_token_from,
    empty_database,
    make_app,
    sign_in,
)
from tests.test_document_pdf import pages_text, pdf_parts
from tests.waiting import WAIT_SECONDS, holds, wait_for
from webapp.extensions import db, jobs
from webapp.models.base import utcnow
from webapp.models.billing import Invoice, LedgerEntry
from webapp.models.customer import Customer
from webapp.models.email import Email, EmailStatus
from webapp.models.export import Export, ExportStatus
from webapp.services.customers import create_customer
from webapp.services.exports import start_export as start_export_service
from webapp.services.mailer import SEND_EMAIL_JOB
from webapp.services.staff import create_staff

ROOT = Path(__file__).resolve().parent.parent
STAFF_EMAIL = "agent@example.com"
CUSTOMER_EMAIL = "billing@kunde.example"
MAIL_RETRY_BACKOFF = (1, 1)
SWEEP_SECONDS = 1
MAIL_REQUEUE_AFTER_SECONDS = 3
EXPORT_STALE_AFTER_SECONDS = 3
EXPORT_CUSTOMERS = 5_000
EXPORT_BATCH_SIZE = 1_000
# The worker that is killed mid-export commits progress every few rows, so the export
# is still early on when the test sees its first batch.
KILLED_EXPORT_BATCH_SIZE = 10
# An idle worker should leave within a second of SIGTERM; the jobs are asserted by then.
STOP_GRACE_SECONDS = 2


# -- the worker as a real process ------------------------------------------------------


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the worker's work horses)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class WorkerProcess:
    """``flask --app wsgi worker`` in its own session, its output kept in a file.

    RQ runs every job in a forked work horse that puts itself in a process group of its
    own (``os.setpgrp``), so killing the worker's group alone would leave a running job
    going: ``kill`` takes the horses' groups too, as losing the machine would.
    """

    def __init__(self, env: dict[str, str], log_path: Path, redis_url: str) -> None:
        flask = Path(sys.executable).with_name("flask")
        command = [str(flask)] if flask.exists() else [sys.executable, "-m", "flask"]
        self.log_path = log_path
        self.redis_url = redis_url
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*command, "--app", "wsgi", "worker"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_listening(self) -> None:
        def registered() -> bool:
            assert self.process.poll() is None, f"the worker exited:\n{self.output()}"
            try:
                connection = Redis.from_url(self.redis_url, socket_connect_timeout=1)
                return any(worker.pid == self.pid for worker in Worker.all(connection=connection))
            except RedisError:
                return False

        wait_for(registered, "the worker to register with Redis")

    def kill(self) -> None:
        """SIGKILL the worker and its work horses at once: no clean-up runs."""
        horses = child_pids(self.pid)
        signal_group(self.pid, signal.SIGKILL)
        for horse in horses:
            signal_group(horse, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(horse, signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_for(lambda: not any(map(is_running, horses)), "the work horses to die", 10)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM (RQ's warm shut-down), then SIGKILL whatever is left after ``grace``."""
        horses = child_pids(self.pid) if self.process.poll() is None else []
        if self.process.poll() is None:
            signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                signal_group(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        signal_group(self.pid, signal.SIGKILL)  # anything left in its group
        for horse in horses:
            signal_group(horse, signal.SIGKILL)


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def settings(postgres_url, instance_dir, redis_server, smtp, tmp_path) -> dict[str, Any]:
    """One configuration for the test's app and the worker processes."""
    return {
        "SECRET_KEY": "background-faults-" + uuid.uuid4().hex,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_server.url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp.port,
        "MAIL_USE_TLS": False,
        "MAIL_DEFAULT_SENDER": "tally@localhost",
        "JOBS_SWEEP_SECONDS": SWEEP_SECONDS,
        "MAIL_RETRY_BACKOFF": MAIL_RETRY_BACKOFF,
        "MAIL_REQUEUE_AFTER_SECONDS": MAIL_REQUEUE_AFTER_SECONDS,
        "MAIL_TIMEOUT_SECONDS": 2,
        "EXPORT_DIR": str(tmp_path / "exports"),
        "EXPORT_STALE_AFTER_SECONDS": EXPORT_STALE_AFTER_SECONDS,
        "EXPORT_MAX_ATTEMPTS": 3,
        "EXPORT_BATCH_SIZE": EXPORT_BATCH_SIZE,
        "PUBLIC_BASE_URL": "http://tally.test",
        "SELLER_NAME": "Tally",
        "SELLER_ADDRESS": "",
        "TALLY_INSTANCE_PATH": str(instance_dir),
    }


def worker_environment(settings: dict[str, Any]) -> dict[str, str]:
    """The settings as the environment variables ``webapp.config`` reads; every one is
    set, so nothing from a developer's ``.env`` reaches the worker."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, tuple):
            return ",".join(str(part) for part in value)
        return str(value)

    env = {key: text(value) for key, value in settings.items()}
    env.update(
        TALLY_ENV="development",
        JOBS_INLINE="thread",
        MAIL_USERNAME="",
        MAIL_PASSWORD="",
        FLASK_SKIP_DOTENV="1",
        PYTHONUNBUFFERED="1",
    )
    return {**os.environ, **env}


@pytest.fixture
def web(settings):
    """The web app the tests drive: same database, Redis and mail server as the worker."""
    config = {key: value for key, value in settings.items() if key != "DATABASE_URL"}
    app = make_app(settings["DATABASE_URL"], Path(settings["TALLY_INSTANCE_PATH"]), **config)
    empty_database(app)
    yield app
    empty_database(app)


@pytest.fixture
def start_worker(settings, web, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``flask --app wsgi worker`` processes; all are stopped (before the database
    is emptied) and their output is printed, which pytest shows when a test fails."""
    started: list[WorkerProcess] = []

    def start(wait: bool = True, **overrides: Any) -> WorkerProcess:
        """``wait=False``: return at once (for a worker started while Redis is down)."""
        env = worker_environment({**settings, **overrides})
        log_path = tmp_path / f"worker-{len(started) + 1}.log"
        worker = WorkerProcess(env, log_path, settings["REDIS_URL"])
        started.append(worker)
        if wait:
            worker.wait_until_listening()
        return worker

    yield start
    for worker in started:
        worker.stop()
    for worker in started:
        print(f"---- {worker.log_path.name} (pid {worker.pid}) ----\n{worker.output()}")


# -- helpers ---------------------------------------------------------------------------


def signed_in(app) -> StaffClient:
    with app.app_context():
        staff = create_staff(db.session, STAFF_EMAIL, "Alex Agent", "agent", PASSWORD)
    client = app.test_client()
    assert sign_in(client, STAFF_EMAIL).status_code == 303
    return StaffClient(client, staff)


def new_customer(app) -> int:
    """A German customer billed in euros at 19 % tax."""
    with app.app_context():
        customer = create_customer(
            db.session,
            {
                "name": "Kunde GmbH",
                "email": CUSTOMER_EMAIL,
                "country": "DE",
                "currency": "EUR",
                "tax_rate_bp": 1900,
            },
        )
        return customer.id


def capture_charge(client: StaffClient, customer_id: int, amount: str = "150.00"):
    """Capture one time charge through the form, without JavaScript (303 on success)."""
    form = {
        "amount": amount,
        "currency": "EUR",
        "description": "Consulting",
        "key": uuid.uuid4().hex,
    }
    response = client.post(f"/customers/{customer_id}/charges/new", form)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/customers/{customer_id}/invoices"
    return response


def the_email(app) -> Email:
    """The one email the test caused (read afresh)."""
    with app.app_context():
        emails = db.session.scalars(select(Email)).all()
        assert len(emails) == 1, [(email.name, email.status) for email in emails]
        return emails[0]


def email_in(app, status: str) -> Email | None:
    email = the_email(app)
    return email if email.status == status else None


def export_row(app, export_id: int) -> Export:
    with app.app_context():
        return db.session.get(Export, export_id)


def bodies(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def assert_one_invoice_email(smtp: SmtpServer, email: Email) -> None:
    received = smtp.to(CUSTOMER_EMAIL)
    assert len(received) == 1, f"{len(received)} messages delivered, expected exactly one"
    message = received[0]
    assert message["Subject"] == "Invoice INV-000001 from Tally"
    assert message["Message-ID"] == f"<tally-email-{email.id}@localhost>"
    text, html = bodies(message)
    assert "Total: €178.50" in text and "€150.00" in text and "€28.50" in text
    assert "€178.50" in html
    [pdf] = pdf_parts(message)
    assert pdf.get_filename() == "Invoice-INV-000001.pdf"
    [page] = pages_text(pdf.get_content())
    assert "INV-000001" in page and "Kunde GmbH" in page and "Total (EUR) €178.50" in page


# -- 1. delivered end to end -----------------------------------------------------------


def test_invoice_email_is_delivered_end_to_end_and_recorded_as_sent(web, smtp, start_worker):
    start_worker()
    client = signed_in(web)
    customer_id = new_customer(web)

    capture_charge(client, customer_id)

    email = wait_for(lambda: email_in(web, EmailStatus.SENT), "the invoice email to be sent")
    assert (email.kind, email.recipient, email.attempts) == ("invoice", CUSTOMER_EMAIL, 1)
    assert email.sent_at is not None and email.last_error == ""
    assert_one_invoice_email(smtp, email)
    assert smtp.messages == smtp.to(CUSTOMER_EMAIL)

    emails_tab = client.get(f"/customers/{customer_id}/emails").get_data(as_text=True)
    assert "Invoice INV-000001" in emails_tab and "Delivered" in emails_tab


# -- 2. mail server down, then Resend --------------------------------------------------


def test_email_fails_while_smtp_is_down_and_resend_delivers_it_once(web, smtp, start_worker):
    start_worker()
    client = signed_in(web)
    customer_id = new_customer(web)
    smtp.stop()

    capture_charge(client, customer_id)

    email = wait_for(lambda: email_in(web, EmailStatus.FAILED), "the email to fail")
    assert email.attempts == len(MAIL_RETRY_BACKOFF) + 1
    assert f"Could not reach the mail server 127.0.0.1:{smtp.port}" in email.last_error
    assert email.sent_at is None and smtp.messages == []

    page = client.get(f"/customers/{customer_id}/emails/{email.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Failed" in html and "Could not reach the mail server" in html

    smtp.start()
    resend_url = f"/customers/{customer_id}/emails/{email.id}/resend"
    response = client.post(resend_url, {"csrf_token": csrf_token_from(html)})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer_id}/emails/{email.id}"

    sent = wait_for(lambda: email_in(web, EmailStatus.SENT), "the resent email to be sent")
    assert sent.attempts == 1 and sent.sent_at is not None and sent.last_error == ""
    assert_one_invoice_email(smtp, sent)

    # A second click on Resend is refused, and later sweeps send nothing more.
    again = client.post(resend_url, {"csrf_token": csrf_token_from(html)}, follow_redirects=True)
    refusal = re.search(r'class="flash flash-error"[^>]*>([^<]*)<', again.get_data(as_text=True))
    assert refusal and "Invoice INV-000001 is delivered" in refusal.group(1)
    holds(
        lambda: len(smtp.to(CUSTOMER_EMAIL)) == 1,
        "a duplicate of the invoice email was delivered",
        seconds=3 * SWEEP_SECONDS,
    )
    assert the_email(web).status == EmailStatus.SENT


# -- 3. Redis down while a charge is captured ------------------------------------------


def test_charge_is_recorded_while_redis_is_down_and_emailed_once_it_is_back(
    web, smtp, redis_server: RedisServer, start_worker
):
    start_worker()
    client = signed_in(web)
    customer_id = new_customer(web)
    redis_server.stop()

    response = capture_charge(client, customer_id)

    invoices = client.get(response.headers["Location"])
    assert invoices.status_code == 200
    assert "Invoice INV-000001 for €178.50 created." in invoices.get_data(as_text=True)
    assert client.get(f"/customers/{customer_id}").status_code == 200
    with web.app_context():
        invoice = db.session.scalar(select(Invoice))
        assert (invoice.number, invoice.total_minor) == ("INV-000001", 17850)
        entries = db.session.scalars(select(LedgerEntry)).all()
        assert [(entry.customer_id, entry.amount_minor) for entry in entries] == [
            (customer_id, -17850)
        ]
    email = the_email(web)
    assert (email.status, email.attempts) == (EmailStatus.QUEUED, 0)
    # Nothing can deliver it while Redis is away, not even once its next attempt is due.
    holds(
        lambda: the_email(web).status == EmailStatus.QUEUED and not smtp.messages,
        "the email left 'queued' while Redis was down",
        seconds=MAIL_REQUEUE_AFTER_SECONDS + SWEEP_SECONDS,
    )

    redis_server.start()

    sent = wait_for(lambda: email_in(web, EmailStatus.SENT), "the email to be sent after Redis")
    assert sent.attempts == 1 and sent.sent_at is not None
    assert_one_invoice_email(smtp, sent)
    holds(
        lambda: len(smtp.to(CUSTOMER_EMAIL)) == 1,
        "a duplicate of the invoice email was delivered",
        seconds=3 * SWEEP_SECONDS,
    )


# -- 4. the worker killed mid-export ---------------------------------------------------


def add_customers(app, count: int) -> None:
    """Many customers in one bulk insert (the export's input); names with commas and
    quotes so the CSV has quoting to get right. The insert bypasses the customer service,
    so it names their tax class and legal entity itself."""
    from webapp.services.settings import default_legal_entity, tax_class_for_rate

    with app.app_context():
        tax_class_id = tax_class_for_rate(db.session, 1900).id
        legal_entity_id = default_legal_entity(db.session).id
        rows = [
            {
                "name": f'Kunde {number:05d}, "Nord" GmbH',
                "email": f"kunde{number}@example.com",
                "country": "DE",
                "currency": "EUR",
                "tax_class_id": tax_class_id,
                "tax_rate_bp": 1900,
                "legal_entity_id": legal_entity_id,
                "search_text": f"kunde {number:05d} nord gmbh kunde{number}@example.com",
            }
            for number in range(1, count + 1)
        ]
        db.session.execute(insert(Customer), rows)
        db.session.commit()


def start_export(client: StaffClient) -> int:
    response = client.post("/exports/")
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rpartition("/")[2])


def export_finished(app, export_id: int) -> Export | None:
    export = export_row(app, export_id)
    return export if export.status in (ExportStatus.DONE, ExportStatus.FAILED) else None


def csv_customer_ids(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:2] == ["Customer ID", "Name"]
    assert all(row[1].endswith(', "Nord" GmbH') for row in rows[1:])
    return [row[0] for row in rows[1:]]


def export_ready_emails(smtp: SmtpServer) -> list:
    return [
        message
        for message in smtp.to(STAFF_EMAIL)
        if message["Subject"] == "Your customer export is ready"
    ]


@pytest.mark.parametrize("max_attempts", [3, 1], ids=["retried", "attempts-used-up"])
def test_export_killed_mid_way_is_recovered_and_a_new_export_completes(
    web, smtp, settings, start_worker, max_attempts
):
    add_customers(web, EXPORT_CUSTOMERS)
    export_dir = Path(settings["EXPORT_DIR"])
    first_worker = start_worker(
        EXPORT_MAX_ATTEMPTS=max_attempts, EXPORT_BATCH_SIZE=KILLED_EXPORT_BATCH_SIZE
    )
    client = signed_in(web)

    with psycopg.connect(settings["DATABASE_URL"]) as watcher:
        export_id = start_export(client)

        def under_way() -> tuple[int, int] | None:
            status, done, total = watcher.execute(
                "SELECT status, rows_done, rows_total FROM exports WHERE id = %s", (export_id,)
            ).fetchone()
            assert status in (ExportStatus.QUEUED, ExportStatus.RUNNING), (status, done)
            return (done, total) if status == ExportStatus.RUNNING and done > 0 else None

        wait_for(under_way, "the export to write its first batch")
        # Hold the customers table: the running export stops at its next batch, so the
        # kill lands mid-export however fast the machine is.
        watcher.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        done, total = under_way()
        assert 0 < done < total == EXPORT_CUSTOMERS
        assert child_pids(first_worker.pid), "no work horse is running the export"
        first_worker.kill()
        watcher.rollback()

    assert list(export_dir.glob(f"customers-{export_id}.csv.part*")), "no partial file"
    assert not (export_dir / f"customers-{export_id}.csv").exists()
    killed = export_row(web, export_id)
    assert (killed.status, killed.rows_done, killed.attempts) == (ExportStatus.RUNNING, done, 1)

    start_worker(EXPORT_MAX_ATTEMPTS=max_attempts)

    export = wait_for(lambda: export_finished(web, export_id), "the killed export to end")
    if max_attempts > 1:
        assert export.status == ExportStatus.DONE, export.last_error
        assert export.attempts == 2 and export.last_error == ""
        assert export.rows_done == export.rows_total == EXPORT_CUSTOMERS
        path = export_dir / export.file_name
        assert path.is_file() and path.stat().st_size == export.size_bytes
        ids = csv_customer_ids(path)
        assert len(ids) == len(set(ids)) == EXPORT_CUSTOMERS
        ready_emails = 1
    else:
        assert export.status == ExportStatus.FAILED
        assert export.attempts == 1 and export.finished_at is not None
        assert "before it finished" in export.last_error
        assert "the worker running it was lost" in export.last_error
        assert "Start a new export" in export.last_error
        # The sweeper removes what the dead attempt left behind.
        wait_for(
            lambda: not list(export_dir.glob(f"customers-{export_id}.csv*")),
            "the failed export's partial file to be removed",
        )
        ready_emails = 0
    wait_for(lambda: len(export_ready_emails(smtp)) == ready_emails, "the export-ready email")

    second_id = start_export(client)
    assert second_id != export_id
    second = wait_for(lambda: export_finished(web, second_id), "the new export to end")
    assert second.status == ExportStatus.DONE, second.last_error
    assert second.attempts == 1
    assert second.rows_done == second.rows_total == EXPORT_CUSTOMERS
    assert len(csv_customer_ids(export_dir / second.file_name)) == EXPORT_CUSTOMERS
    wait_for(
        lambda: len(export_ready_emails(smtp)) == ready_emails + 1,
        "the new export's ready email",
    )
    holds(
        lambda: len(export_ready_emails(smtp)) == ready_emails + 1,
        "an export-ready email was delivered twice",
        seconds=2 * SWEEP_SECONDS,
    )
    assert export_row(web, export_id).status == export.status


def test_sigterm_stops_an_idle_worker_instead_of_restarting_it(start_worker):
    """systemd and docker stop a worker with SIGTERM; it must leave, not start again."""
    worker = start_worker()
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.process.wait(timeout=WAIT_SECONDS) == 0, worker.output()
    assert "stopped unexpectedly" not in worker.output()


# -- 5. Redis away: the worker waits, survives, and is back within seconds -------------

# How soon after redis-server accepts connections a waiting worker must be at work.
REDIS_BACK_SECONDS = 5
# An outage long enough that a growing back-off (1, 2, 4, 8 s …) would still be asleep
# when Redis returns.
IDLE_OUTAGE_SECONDS = 8
WAITING_FOR_REDIS = "; waiting for it"  # the worker's one line when a wait starts


def alive(worker: WorkerProcess) -> bool:
    return worker.process.poll() is None


def noticed_redis_is_gone(worker: WorkerProcess) -> bool:
    """The worker logged that it waits for Redis, or it exited (which the test fails)."""
    return WAITING_FOR_REDIS in worker.output() or not alive(worker)


def invoice_emails(smtp: SmtpServer, number: int) -> list:
    subject = f"Invoice INV-{number:06d} from Tally"
    return [message for message in smtp.to(CUSTOMER_EMAIL) if message["Subject"] == subject]


def email_numbered(app, number: int) -> Email | None:
    with app.app_context():
        return db.session.scalar(select(Email).where(Email.name == f"Invoice INV-{number:06d}"))


def sent_email_numbered(app, number: int) -> Email | None:
    email = email_numbered(app, number)
    return email if email is not None and email.status == EmailStatus.SENT else None


def test_worker_started_while_redis_is_down_waits_and_works_once_it_starts(
    web, smtp, redis_server: RedisServer, start_worker
):
    redis_server.stop()
    worker = start_worker(wait=False)
    wait_for(lambda: noticed_redis_is_gone(worker), "the worker to say it waits for Redis")
    assert alive(worker), worker.output()

    client = signed_in(web)
    customer_id = new_customer(web)
    capture_charge(client, customer_id)  # recorded; its enqueue fails, the row waits

    # It keeps waiting without a line per attempt, until the email is due for the sweeper.
    holds(
        lambda: alive(worker) and the_email(web).status == EmailStatus.QUEUED,
        "the worker exited, or the email left 'queued', while Redis was down",
        seconds=MAIL_REQUEUE_AFTER_SECONDS,
    )
    assert worker.output().count(WAITING_FOR_REDIS) == 1, worker.output()

    redis_server.start()

    sent = wait_for(
        lambda: email_in(web, EmailStatus.SENT),
        "the queued email to be sent once Redis started",
        timeout=REDIS_BACK_SECONDS,
    )
    assert sent.attempts == 1
    assert_one_invoice_email(smtp, sent)
    assert "answers again" in worker.output() and "Traceback" not in worker.output()


def test_idle_worker_works_again_within_seconds_of_redis_returning(
    web, smtp, redis_server: RedisServer, start_worker
):
    worker = start_worker()
    client = signed_in(web)
    customer_id = new_customer(web)
    redis_server.stop()

    wait_for(
        lambda: noticed_redis_is_gone(worker) or "could not connect to Redis" in worker.output(),
        "the worker to notice Redis is gone",
    )
    holds(lambda: alive(worker), "the worker exited while Redis was down", IDLE_OUTAGE_SECONDS)
    redis_server.start()
    capture_charge(client, customer_id)

    sent = wait_for(
        lambda: email_in(web, EmailStatus.SENT),
        "the worker to send the email after Redis returned",
        timeout=REDIS_BACK_SECONDS,
    )
    assert_one_invoice_email(smtp, sent)
    worker.wait_until_listening()  # listed again in the Redis that restarted empty
    # One line when the wait began (and at most RQ's own, once), not one per attempt.
    output = worker.output()
    assert output.count(WAITING_FOR_REDIS) == 1, output
    assert output.count("could not connect to Redis") <= 1, output
    assert "Traceback" not in output


def test_redis_lost_mid_send_the_worker_survives_and_the_email_goes_once(
    web, smtp, redis_server: RedisServer, start_worker
):
    # The mail server holds the message until released, so Redis dies mid-send; the
    # client waits for the server's answer rather than timing out meanwhile.
    worker = start_worker(MAIL_TIMEOUT_SECONDS=10, MAIL_REQUEUE_AFTER_SECONDS=15)
    client = signed_in(web)
    customer_id = new_customer(web)
    smtp.hold()

    capture_charge(client, customer_id)
    assert smtp.holding.wait(WAIT_SECONDS), "the email never reached the mail server"
    assert email_numbered(web, 1).status == EmailStatus.SENDING
    redis_server.stop()
    smtp.release()

    first = wait_for(lambda: sent_email_numbered(web, 1), "the held email to be recorded sent")
    wait_for(lambda: noticed_redis_is_gone(worker), "the worker to wait for Redis")
    holds(lambda: alive(worker), "the worker exited after losing Redis", seconds=2)
    assert first.attempts == 1 and len(invoice_emails(smtp, 1)) == 1

    redis_server.start()
    capture_charge(client, customer_id, amount="90.00")

    wait_for(
        lambda: sent_email_numbered(web, 2),
        "a new email to be sent after Redis returned",
        timeout=REDIS_BACK_SECONDS,
    )
    holds(
        lambda: len(invoice_emails(smtp, 1)) == 1 and len(invoice_emails(smtp, 2)) == 1,
        "an invoice email was delivered twice",
        seconds=3 * SWEEP_SECONDS,
    )
    assert len(smtp.to(CUSTOMER_EMAIL)) == 2
    assert alive(worker)


def test_redis_lost_mid_export_the_worker_survives_and_the_export_completes(
    web, smtp, settings, redis_server: RedisServer, start_worker
):
    add_customers(web, EXPORT_CUSTOMERS)
    export_dir = Path(settings["EXPORT_DIR"])
    worker = start_worker(EXPORT_BATCH_SIZE=KILLED_EXPORT_BATCH_SIZE)
    client = signed_in(web)

    with psycopg.connect(settings["DATABASE_URL"]) as watcher:
        export_id = start_export(client)

        def under_way() -> bool:
            status, done = watcher.execute(
                "SELECT status, rows_done FROM exports WHERE id = %s", (export_id,)
            ).fetchone()
            return status == ExportStatus.RUNNING and done > 0

        wait_for(under_way, "the export to write its first batch")
        # Hold the export at its next batch while Redis goes away.
        watcher.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        assert under_way() and child_pids(worker.pid), "no work horse is running the export"
        redis_server.stop()
        watcher.rollback()

    export = wait_for(lambda: export_finished(web, export_id), "the export to end")
    assert export.status == ExportStatus.DONE, export.last_error
    assert export.attempts == 1
    assert export.rows_done == export.rows_total == EXPORT_CUSTOMERS
    ids = csv_customer_ids(export_dir / export.file_name)
    assert len(ids) == len(set(ids)) == EXPORT_CUSTOMERS
    wait_for(lambda: noticed_redis_is_gone(worker), "the worker to wait for Redis")
    holds(lambda: alive(worker), "the worker exited after losing Redis", seconds=2)
    assert export_ready_emails(smtp) == []  # its job could not be enqueued: it waits

    redis_server.start()

    wait_for(lambda: export_ready_emails(smtp), "the export-ready email once Redis is back")
    holds(
        lambda: len(export_ready_emails(smtp)) == 1,
        "the export-ready email was delivered twice",
        seconds=3 * SWEEP_SECONDS,
    )
    assert export_row(web, export_id).attempts == 1
    assert alive(worker)


@pytest.mark.parametrize("redis_gone", ["before-start", "while-idle"])
def test_sigterm_stops_a_worker_that_waits_for_redis(
    redis_server: RedisServer, start_worker, redis_gone
):
    if redis_gone == "before-start":
        redis_server.stop()
        worker = start_worker(wait=False)
    else:
        worker = start_worker()
        redis_server.stop()
    wait_for(
        lambda: WAITING_FOR_REDIS in worker.output() or not alive(worker),
        "the worker to wait for Redis",
    )
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.process.wait(timeout=WAIT_SECONDS) == 0, worker.output()
    assert "Traceback" not in worker.output()


# -- 6. one queued job per email or export, however many sweeps ------------------------

BACKLOG_EMAILS = 50


def queued_job_ids(redis_url: str, queue: str) -> list[str]:
    connection = Redis.from_url(redis_url)
    return [job_id.decode() for job_id in connection.lrange(f"rq:queue:{queue}", 0, -1)]


def test_sweeps_racing_over_a_backlog_leave_one_job_per_email_and_export(
    database_url, instance_dir, redis_server: RedisServer, tmp_path
):
    """No worker runs, so every job stays queued; each sweep comes after the lease of
    the last one ran out (as with a backlog longer than MAIL_REQUEUE_AFTER_SECONDS)."""
    app = make_app(
        database_url,
        instance_dir,
        REDIS_URL=redis_server.url,
        MAIL_SERVER="127.0.0.1",
        EXPORT_DIR=str(tmp_path / "exports"),
    )
    empty_database(app)
    try:
        with app.app_context():
            staff = create_staff(db.session, STAFF_EMAIL, "Alex Agent", "agent", PASSWORD)
            export, started = start_export_service(db.session, staff)  # enqueued: one job
            assert started
            export_id = export.id
            db.session.execute(
                insert(Email),
                [
                    {
                        "kind": "invoice",
                        "name": f"Invoice INV-{number:06d}",
                        "recipient": f"kunde{number}@example.com",
                        "subject": f"Invoice INV-{number:06d} from Tally",
                        "html_body": "<p>Invoice</p>",
                        "text_body": "Invoice",
                        "status": EmailStatus.QUEUED,
                        "next_attempt_at": utcnow(),
                    }
                    for number in range(1, BACKLOG_EMAILS + 1)
                ],
            )
            db.session.commit()
            email_ids = db.session.scalars(select(Email.id)).all()

        def lease_runs_out() -> None:
            with app.app_context():
                past = utcnow() - timedelta(seconds=1)
                for model in (Email, Export):
                    db.session.execute(update(model).values(next_attempt_at=past))
                db.session.commit()

        def sweep_in_app():
            with app.app_context():
                return sweep()

        for _ in range(3):
            lease_runs_out()
            result = sweep_in_app()
            assert (result.emails, result.exports) == (BACKLOG_EMAILS, 1)

        # Two sweepers at once (two workers, or a worker and `jobs sweep`).
        lease_runs_out()
        start = threading.Barrier(2)

        def racing_sweep():
            start.wait()
            return sweep_in_app()

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = [future.result() for future in [pool.submit(racing_sweep) for _ in "ab"]]
        assert sum(result.emails for result in results) >= BACKLOG_EMAILS

        # Two sweepers that both leased the same rows (neither saw the other's lease)
        # enqueue them at the same moment.
        def racing_enqueues() -> None:
            with app.app_context():
                start.wait()
                for email_id in email_ids:
                    jobs.enqueue(SEND_EMAIL_JOB, email_id)

        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(racing_enqueues) for _ in "ab"]:
                future.result()

        emails_queue = queued_job_ids(redis_server.url, "tally")
        assert len(emails_queue) == BACKLOG_EMAILS, f"{len(emails_queue)} jobs queued"
        assert sorted(emails_queue) == sorted(f"email-{email_id}" for email_id in email_ids)
        assert queued_job_ids(redis_server.url, "tally-exports") == [f"export-{export_id}"]
    finally:
        empty_database(app)
