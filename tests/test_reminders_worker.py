"""Payment reminders under a real worker: PostgreSQL, a redis-server, a real SMTP server and
``flask --app wsgi worker``. The worker's sweep enqueues the reminder job (once per
REMINDERS_EVERY_SECONDS, under a Redis key), a worker runs it, the reminder is delivered
to the customer and the Billing contact, and a second run sends nothing more."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import func, select

from jobs.worker import REMINDERS_LOCK
from tests import test_background_faults as faults
from tests.conftest import empty_database, make_app
from tests.waiting import wait_for
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.contacts import Contact
from webapp.models.reminders import ReminderStep, SentReminder
from webapp.services import settings
from webapp.services.billing import capture_one_time_charge
from webapp.services.customers import create_customer


@pytest.fixture
def reminder_settings(postgres_url, instance_dir, redis_server, smtp, tmp_path) -> dict[str, Any]:
    return {
        "SECRET_KEY": "reminder-worker-" + uuid.uuid4().hex,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_server.url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp.port,
        "MAIL_USE_TLS": False,
        "JOBS_SWEEP_SECONDS": 1,
        "REMINDERS_EVERY_SECONDS": 3600,
        "EXPORT_DIR": str(tmp_path / "exports"),
        "IMPORT_DIR": str(tmp_path / "imports"),
        "PUBLIC_BASE_URL": "http://tally.test",
        "SELLER_NAME": "Tally",
        "SELLER_ADDRESS": "",
        "TALLY_INSTANCE_PATH": str(instance_dir),
    }


@pytest.fixture
def web(reminder_settings):
    config = {k: v for k, v in reminder_settings.items() if k != "DATABASE_URL"}
    app = make_app(
        reminder_settings["DATABASE_URL"],
        Path(reminder_settings["TALLY_INSTANCE_PATH"]),
        **config,
    )
    empty_database(app)
    yield app
    empty_database(app)


def test_the_worker_runs_the_scheduled_job_and_sends_each_reminder_once(
    web, reminder_settings, redis_server, smtp, tmp_path
):
    today = utcnow().date()
    with web.app_context():
        entity = settings.default_legal_entity(db.session)
        entity.reminder_steps = []
        db.session.flush()
        entity.reminder_steps = [ReminderStep(offset_days=0, attach="pdf")]
        db.session.commit()
        customer = create_customer(
            db.session,
            {
                "name": "Remi Nder",
                "email": "remi@example.com",
                "country": "DE",
                "currency": "EUR",
                "payment_terms_days": 14,
            },
        )
        db.session.add(
            Contact(
                customer_id=customer.id, name="Bills", email="bills@example.com", wants_billing=True
            )
        )
        db.session.commit()
        charge = capture_one_time_charge(
            db.session,
            customer.id,
            amount_minor=12_345,
            currency="EUR",
            description="Consulting",
            actor_id=None,
            key=None,
            today=today - timedelta(days=14),  # due today
        )
        number = charge.invoice.number

    env = faults.worker_environment(reminder_settings)
    worker = faults.WorkerProcess(env, tmp_path / "worker.log", redis_server.url)
    try:
        worker.wait_until_listening()

        def reminders_delivered():
            found = [m for m in smtp.messages if m["Subject"].startswith("Reminder:")]
            return found if len(found) == 2 else None

        # Each email's PDF takes seconds on a busy machine: the two invoice emails go first.
        delivered = wait_for(reminders_delivered, "both reminder emails to be delivered", 240)
        assert {m["X-Envelope-To"] for m in delivered} == {"remi@example.com", "bills@example.com"}
        assert {m["Subject"] for m in delivered} == {f"Reminder: invoice {number} is due today"}
        attachments = [part.get_filename() for part in delivered[0].iter_attachments()]
        assert attachments == [f"Invoice-{number}.pdf"]

        # The next interval: the key is gone (as after REMINDERS_EVERY_SECONDS), a sweep
        # enqueues the job again, it runs and sends nothing new.
        redis = Redis.from_url(redis_server.url)
        first_run = Job.fetch("reminders", connection=redis).ended_at
        redis.delete(REMINDERS_LOCK)

        def ran_again():
            job = Job.fetch("reminders", connection=redis)
            return job.ended_at is not None and job.ended_at != first_run and job

        job = wait_for(ran_again, "the reminder job to run a second time", 120)
        assert job.return_value() == 0
        with web.app_context():
            assert db.session.scalar(select(func.count()).select_from(SentReminder)) == 1
        assert len([m for m in smtp.messages if m["Subject"].startswith("Reminder:")]) == 2
    finally:
        worker.stop()
        print(worker.output())
