"""The RQ worker behind ``flask --app wsgi worker``.

One worker process takes jobs from the ``tally`` queue on ``REDIS_URL``, then from
``tally-exports`` (or from the queues given with ``--queue``), and runs each in a
forked work horse, inside a fresh app context (``AppJob``), so every
job gets its own database session and connections. When idle, at least every
``JOBS_SWEEP_SECONDS``, it runs the sweeper (``jobs.maintenance.sweep``);
with several workers a short Redis lock lets one of them sweep per interval.
Should Redis go away the worker waits for it and starts again, so work queued
meanwhile (kept in the database) is picked up once Redis is back.
"""

from __future__ import annotations

import logging
import signal
import time
from contextlib import suppress
from typing import Any

from flask import Flask
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.utils import now

from webapp.extensions import db
from webapp.jobqueue import QUEUE_NAMES

log = logging.getLogger("tally.worker")
SWEEP_LOCK = "tally:sweep-lock"


class AppJob(Job):
    """Runs the job function inside an app context of the worker's app."""

    flask_app: Flask | None = None

    def perform(self) -> Any:
        app = type(self).flask_app
        if app is None:  # enqueued and run outside `flask worker`, e.g. rq's own CLI
            from webapp import create_app

            app = type(self).flask_app = create_app()
        with app.app_context():
            try:
                return super().perform()
            finally:
                # The work horse is a fork: close its connections now rather than
                # let them be dropped at exit.
                db.session.remove()
                db.engine.dispose()


class TallyWorker(Worker):
    """An RQ worker that also sweeps, at least every ``sweep_seconds``."""

    sweep_seconds = 60
    # RQ stops an idle worker by raising StopRequested without recording why, so the
    # restart loop in run_worker keeps its own note of a SIGTERM / Ctrl-C.
    stop_requested = False
    sweeping = False

    def request_stop(self, signum, frame) -> None:
        self.stop_requested = True
        if self.sweeping:
            # RQ would raise StopRequested right here, in the middle of the sweep's
            # database work (even half-way through SQLAlchemy's mapper set-up, which
            # then stays broken). Note the request instead: the work loop stops as soon
            # as the maintenance step returns; a second signal still forces a stop.
            self._stop_requested = True
            self._shutdown_requested_date = now()
            signal.signal(signal.SIGINT, self.request_force_stop)
            signal.signal(signal.SIGTERM, self.request_force_stop)
            return
        super().request_stop(signum, frame)

    @property
    def dequeue_timeout(self) -> int:
        # Wake from the blocking wait often enough to sweep on time.
        return max(1, min(self.worker_ttl - 15, self.sweep_seconds))

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        self.sweep()

    def sweep(self) -> None:
        app = AppJob.flask_app
        if app is None:
            return
        if not self.connection.set(SWEEP_LOCK, self.name, nx=True, ex=max(1, self.sweep_seconds)):
            return  # another worker swept within the interval
        from jobs.maintenance import sweep

        self.sweeping = True
        with app.app_context():
            try:
                result = sweep()
                if (
                    result.emails
                    or result.exports
                    or result.expired_files
                    or result.expired_sessions
                ):
                    log.info(
                        "Sweep: %d email(s) and %d export(s) enqueued again, %d file(s) "
                        "and %d staff session(s) expired",
                        result.emails,
                        result.exports,
                        result.expired_files,
                        result.expired_sessions,
                    )
            except Exception:
                log.exception("Sweep failed; the next one tries again")
            finally:
                self.sweeping = False
                # Hold no database connection while forking work horses.
                db.session.remove()
                db.engine.dispose()
        if self.stop_requested:
            raise StopRequested  # RQ's loops stop on it, waiting for Redis or not


def _stop_before_work(signum, frame) -> None:
    raise SystemExit(0)


def run_worker(app: Flask, burst: bool = False, queues: tuple[str, ...] = QUEUE_NAMES) -> None:
    """Run jobs from ``queues`` (in priority order) until stopped; SIGTERM or Ctrl-C let
    the current job finish first."""
    AppJob.flask_app = app
    TallyWorker.sweep_seconds = app.config["JOBS_SWEEP_SECONDS"]
    connection = Redis.from_url(app.config["REDIS_URL"])
    wait = 1.0
    while True:
        # Until RQ installs its own handlers (after it has registered with Redis), a
        # SIGTERM finds no job to finish: leave cleanly instead of dying of the signal.
        signal.signal(signal.SIGTERM, _stop_before_work)
        worker = TallyWorker(
            [Queue(name, connection=connection, job_class=AppJob) for name in queues],
            connection=connection,
            job_class=AppJob,
            maintenance_interval=app.config["JOBS_SWEEP_SECONDS"],
        )
        try:
            worker.work(burst=burst, logging_level="INFO")
        except RedisConnectionError as error:
            log.error("Redis is not reachable (%s); trying again in %.0f s", error, wait)
        else:
            if burst or worker.stop_requested:
                return
            log.warning("The worker stopped unexpectedly; starting it again in %.0f s", wait)
        try:
            time.sleep(wait)
        except KeyboardInterrupt:
            return
        wait = min(wait * 2, 30.0)
        with suppress(RedisError):
            connection.ping()
            wait = 1.0
