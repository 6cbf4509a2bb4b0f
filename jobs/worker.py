"""The RQ worker behind ``flask --app wsgi worker``.

One worker process takes jobs from the ``tally`` queue on ``REDIS_URL``, then from
``tally-exports`` (or from the queues given with ``--queue``), and runs each in a
forked work horse, inside a fresh app context (``AppJob``), so every
job gets its own database session and connections. When idle, at least every
``JOBS_SWEEP_SECONDS``, it runs the sweeper (``jobs.maintenance.sweep``);
with several workers a short Redis lock lets one of them sweep per interval. The
sweep also enqueues the payment-reminder job (``jobs.reminders``) once per
``REMINDERS_EVERY_SECONDS``, under a Redis key that lets one worker do it per interval.

Redis going away never stops the worker. Started without Redis, or losing it while
idle, it waits: it asks Redis every ``REDIS_POLL_SECONDS`` and logs once when the
wait starts, once every ``REDIS_WAIT_LOG_SECONDS`` while it lasts and once when Redis
answers again, then carries on within about a second. Losing Redis during a job,
it lets the job run to its end (its outcome is in the database; RQ's own bookkeeping
of that job is skipped) and then waits the same way. Work queued meanwhile is in the
database, and the sweeper enqueues it once Redis is back.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from flask import Flask
from flask.cli import ScriptInfo
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rq import Queue, Worker, worker_registration
from rq.exceptions import StopRequested
from rq.job import Job
from rq.logutils import setup_loghandlers
from rq.utils import now

from jobs import maintenance
from webapp.extensions import db, jobs
from webapp.jobqueue import QUEUE_NAMES, REMINDERS_JOB

log = logging.getLogger("tally.worker")
SWEEP_LOCK = "tally:sweep-lock"
# Held for REMINDERS_EVERY_SECONDS by the worker whose sweep enqueued the reminders job.
REMINDERS_LOCK = "tally:reminders-lock"
# Redis unreachable: what a worker waits on, and a failure of it.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# While Redis is away a worker asks again this often, so it is back at work within
# about a second of Redis answering.
REDIS_POLL_SECONDS = 0.5
# ... and says it is still waiting this often (not once per attempt).
REDIS_WAIT_LOG_SECONDS = 30
# The longest an idle worker blocks waiting for a job. RQ gives the connection a
# socket timeout 10 s longer, which bounds how long a connection that died without a
# word (a network cut rather than a Redis restart) goes unnoticed.
DEQUEUE_SECONDS = 5


def worker_connection(url: str) -> Redis:
    """The worker's Redis client: a 2 s connect timeout, and a command on a dropped connection is
    retried once on a fresh one. RQ sets the socket timeout."""
    return Redis.from_url(url, socket_connect_timeout=2, retry=Retry(NoBackoff(), 1))


def redis_address(connection: Redis) -> str:
    kwargs = connection.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return kwargs["path"]
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def wait_for_redis(
    connection: Redis, error: Exception, stop_requested: Callable[[], bool] = lambda: False
) -> None:
    """Return once Redis answers a PING; a long wait is logged (start, periodically, end).
    Raises ``StopRequested`` if a stop is requested meanwhile."""
    with suppress(*REDIS_DOWN):
        connection.ping()
        return
    where = redis_address(connection)
    started = last_logged = time.monotonic()
    log.warning(
        "Redis at %s is not reachable (%s); waiting for it, checking every %.1f s",
        where,
        error,
        REDIS_POLL_SECONDS,
    )
    while True:
        if stop_requested():
            raise StopRequested
        time.sleep(REDIS_POLL_SECONDS)
        try:
            connection.ping()
        except REDIS_DOWN as still:
            if time.monotonic() - last_logged >= REDIS_WAIT_LOG_SECONDS:
                last_logged = time.monotonic()
                log.warning(
                    "Still waiting for Redis at %s (%.0f s so far: %s)",
                    where,
                    last_logged - started,
                    still,
                )
            continue
        log.info("Redis at %s answers again after %.0f s", where, time.monotonic() - started)
        return


class AppJob(Job):
    """Runs the job function inside an app context of the worker's app."""

    flask_app: Flask | None = None

    def perform(self) -> Any:
        app = type(self).flask_app
        if app is None:  # enqueued and run outside `flask worker`, e.g. rq's own CLI
            # The app the flask command would load (FLASK_APP, else wsgi.py): jobs/ is
            # below the app, so it finds it as a server does rather than importing it.
            app = type(self).flask_app = ScriptInfo(os.environ.get("FLASK_APP")).load_app()
        with app.app_context():
            try:
                return super().perform()
            finally:
                # The work horse is a fork: close its connections now rather than
                # let them be dropped at exit.
                db.session.remove()
                db.engine.dispose()


class TallyWorker(Worker):
    """An RQ worker that also sweeps every ``sweep_seconds`` and waits out a Redis outage."""

    sweep_seconds = 60
    reminders_seconds = 3600
    # RQ stops an idle worker by raising StopRequested without recording why, so the
    # restart loop in run_worker keeps its own note of a SIGTERM / Ctrl-C.
    stop_requested = False
    sweeping = False
    # RQ's own pause after a failed wait for jobs doubles up to a minute; keep it to a
    # second: the next heartbeat then does the waiting (wait_for_redis).
    max_connection_wait_time = 1.0

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
        # Wake from the blocking wait often enough to sweep on time, and to notice a
        # connection that died silently.
        return max(1, min(self.worker_ttl - 15, self.sweep_seconds, DEQUEUE_SECONDS))

    def wait_for_redis(self, error: Exception) -> None:
        wait_for_redis(self.connection, error, lambda: self.stop_requested)
        # A Redis that restarted empty has forgotten this worker: list it again, so
        # `rq info` and the like see it (the jobs do not depend on it).
        with suppress(RedisError):
            self.connection.hset(self.key, mapping=self.serialize())
            worker_registration.register(self)

    def _until_redis_answers(self, send: Callable[[], Any]) -> Any:
        while True:
            try:
                return send()
            except REDIS_DOWN as error:
                self.wait_for_redis(error)

    def heartbeat(self, timeout=None, pipeline=None) -> None:
        # RQ's idle loop starts every round with a heartbeat: waiting here (rather than
        # in RQ's growing back-off) is what brings an idle worker back within a second.
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        return self._until_redis_answers(lambda: super(TallyWorker, self).heartbeat(timeout))

    def set_state(self, state, pipeline=None) -> None:
        if pipeline is not None:
            return super().set_state(state, pipeline)
        return self._until_redis_answers(lambda: super(TallyWorker, self).set_state(state))

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        except REDIS_DOWN as error:
            # Redis went away while the job ran (the heartbeats failed) or just after it
            # (its bookkeeping failed). The job itself needs only the database: let it
            # end, then wait for Redis. A job that could not even start is still
            # queued in the database, and the sweeper hands it back.
            if self.horse_pid:
                log.warning("Lost Redis during job %s (%s); letting the job end", job.id, error)
                self.wait_for_horse()
                self._horse_pid = 0
            self.wait_for_redis(error)
            if self.stop_requested:
                raise StopRequested from None

    def set_shutdown_requested_date(self) -> None:
        # Only a note for dashboards: a stop requested while Redis is away still stops.
        with suppress(RedisError):
            super().set_shutdown_requested_date()

    def register_death(self) -> None:
        # Leaving while Redis is away: its entry expires by itself.
        with suppress(RedisError):
            super().register_death()

    def unsubscribe(self) -> None:
        with suppress(RedisError):
            super().unsubscribe()

    def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread) -> None:
        # The command channel's thread: RQ logs an error every 2 s while Redis is away;
        # the main loop already says so. Reconnecting restores the subscription.
        if isinstance(exc, REDIS_DOWN):
            time.sleep(1.0)
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def check_for_suspension(self, burst: bool) -> None:
        # Asked at the top of every round of RQ's work loop, where a Redis error would
        # end the loop.
        self._until_redis_answers(lambda: super(TallyWorker, self).check_for_suspension(burst))

    def run_maintenance_tasks(self) -> None:
        # Also run at the top of the work loop (cleaning RQ's registries needs Redis).
        self._until_redis_answers(super().run_maintenance_tasks)
        self.sweep()

    def sweep(self) -> None:
        app = AppJob.flask_app
        if app is None:
            return
        if not self._until_redis_answers(
            lambda: self.connection.set(
                SWEEP_LOCK, self.name, nx=True, ex=max(1, self.sweep_seconds)
            )
        ):
            return  # another worker swept within the interval
        self.sweeping = True
        with app.app_context():
            try:
                self._sweep_and_remind()
            finally:
                self.sweeping = False
                # Hold no database connection while forking work horses.
                db.session.remove()
                db.engine.dispose()
        if self.stop_requested:
            raise StopRequested  # RQ's loops stop on it, waiting for Redis or not

    def _sweep_and_remind(self) -> None:
        try:
            result = maintenance.sweep()
            if result.emails or result.exports or result.expired_files or result.expired_sessions:
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
        try:
            # Redis gone meanwhile: wait for it like the sweep's own lock does (no traceback).
            self._until_redis_answers(self.schedule_reminders)
        except StopRequested:
            raise  # SIGTERM while waiting for Redis: the worker leaves, nothing to log
        except Exception:
            log.exception("Could not enqueue the payment reminders; the next sweep tries again")

    def schedule_reminders(self) -> None:
        """Enqueue the payment-reminder job once per ``reminders_seconds`` across all workers:
        whichever sweep takes the Redis key first (it expires after the interval). A Redis that
        restarted empty only brings the next run forward; the job sends each step once anyway."""
        taken = self.connection.set(
            REMINDERS_LOCK, self.name, nx=True, ex=max(1, self.reminders_seconds)
        )
        if taken and not jobs.enqueue(REMINDERS_JOB):
            self.connection.delete(REMINDERS_LOCK)  # Redis did not take it: the next sweep


def _stop_before_work(signum, frame) -> None:
    raise SystemExit(0)


def _leave_on_signals() -> None:
    """Outside RQ's work loop a SIGTERM or Ctrl-C finds no job to finish: leave cleanly
    instead of dying of it (RQ installs its own handlers once it has registered)."""
    signal.signal(signal.SIGTERM, _stop_before_work)
    signal.signal(signal.SIGINT, _stop_before_work)


def run_worker(app: Flask, burst: bool = False, queues: tuple[str, ...] = QUEUE_NAMES) -> None:
    """Run jobs from ``queues`` (in order) until stopped; SIGTERM/Ctrl-C let the job finish."""
    # This module's lines (waiting for Redis, sweeps) look like RQ's own.
    setup_loghandlers("INFO", name=log.name)
    AppJob.flask_app = app
    TallyWorker.sweep_seconds = app.config["JOBS_SWEEP_SECONDS"]
    TallyWorker.reminders_seconds = app.config["REMINDERS_EVERY_SECONDS"]
    connection = worker_connection(app.config["REDIS_URL"])
    try:
        while True:
            _leave_on_signals()
            worker: TallyWorker | None = None
            lost: Exception | None = None
            try:
                worker = TallyWorker(
                    [Queue(name, connection=connection, job_class=AppJob) for name in queues],
                    connection=connection,
                    job_class=AppJob,
                    maintenance_interval=app.config["JOBS_SWEEP_SECONDS"],
                )
                worker.work(burst=burst, logging_level="INFO")
            except REDIS_DOWN as error:
                lost = error  # RQ could not register, or lost Redis where it does not wait
            # The handlers RQ installed belong to the worker that just ended.
            _leave_on_signals()
            if worker is not None and worker.stop_requested:
                return
            if lost is not None:
                wait_for_redis(connection, lost)
            elif burst:
                return
            else:
                log.warning("The worker stopped unexpectedly; starting it again in 1 s")
                time.sleep(1.0)
    except StopRequested:
        return  # a signal that reached RQ's handler just as its worker ended
