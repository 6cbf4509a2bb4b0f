"""Background jobs, enqueued after the database commit.

With ``REDIS_URL`` set, jobs go to the RQ queues ``tally`` (emails) and
``tally-exports`` (long jobs) and ``flask --app wsgi worker`` runs them. Without
it (the embedded default) the same job functions run in-process: in a background
thread of the web process (``JOBS_INLINE=thread``), or at once after the commit
(``JOBS_INLINE=sync``, what the tests use).

Jobs are named by dotted path and given ids, never objects (CONVENTIONS.md).
Nothing relies on an enqueue succeeding: the work is a database row first, and
the sweeper (``jobs.maintenance.sweep``) enqueues again whatever still waits,
so Redis being down delays work but loses none.

An email or an export has at most one job waiting in its RQ queue, however often it
is enqueued (after its commit, by sweepers in several workers, by ``jobs sweep``):
its job id is fixed (``email-42``, ``export-7``) and the enqueue adds it only when
that id is not waiting already, checked and written in one Redis transaction.
"""

from __future__ import annotations

import logging
import queue as thread_queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app
from redis import Redis
from redis.exceptions import RedisError, WatchError
from rq import Queue
from rq.job import Job
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.utils import import_string

QUEUE_NAME = "tally"  # emails and everything short
EXPORT_QUEUE_NAME = "tally-exports"  # long jobs, so a worker can be kept free of them
QUEUE_NAMES = (QUEUE_NAME, EXPORT_QUEUE_NAME)  # what a worker takes, in priority order
JOB_QUEUES = {
    "jobs.exports.run_export": EXPORT_QUEUE_NAME,
    "jobs.imports.run_import": EXPORT_QUEUE_NAME,
}
SWEEP_JOB = "jobs.maintenance.sweep"
# Payment reminders: run every REMINDERS_EVERY_SECONDS, by the job thread here and, with
# Redis, enqueued by one worker's sweep per interval (jobs.worker).
REMINDERS_JOB = "jobs.reminders.send_reminders"
# How long RQ lets a job run; exports of millions of customers need the long one.
JOB_TIMEOUTS = {"jobs.exports.run_export": 6 * 3600, "jobs.imports.run_import": 6 * 3600}
DEFAULT_JOB_TIMEOUT = 600
# Jobs about one row, named after it: at most one of each waits in the queue.
JOB_ID_PREFIXES = {
    "jobs.emails.send_email": "email",
    "jobs.exports.run_export": "export",
    "jobs.imports.run_import": "import",
}
# Jobs about no row that need only one copy waiting: their fixed id.
FIXED_JOB_IDS = {REMINDERS_JOB: "reminders"}
_PENDING = "tally_jobs_after_commit"
_EXTENSION = "tally_jobs"

log = logging.getLogger(__name__)


def run_job(app: Flask, func_name: str, args: tuple) -> Any:
    """Run one job function in a fresh app context (its own database session)."""
    func = import_string(func_name)
    with app.app_context():
        return func(*args)


def job_id(func_name: str, args: tuple) -> str | None:
    """The fixed RQ job id of a job about one row (``email-42``), else None (RQ picks one)."""
    if func_name in FIXED_JOB_IDS:
        return FIXED_JOB_IDS[func_name]
    prefix = JOB_ID_PREFIXES.get(func_name)
    return f"{prefix}-{args[0]}" if prefix is not None else None


class RedisBackend:
    """RQ on Redis: the worker process runs the jobs."""

    name = "redis"

    def __init__(self, url: str) -> None:
        self.connection = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
        self.queues = {name: Queue(name, connection=self.connection) for name in QUEUE_NAMES}

    def enqueue(self, func_name: str, args: tuple) -> bool:
        """Hand the job to RQ unless the same id is waiting; False if Redis did not take it."""
        queue = self.queues[JOB_QUEUES.get(func_name, QUEUE_NAME)]
        try:
            job = queue.create_job(
                func_name,
                args=args,
                job_id=job_id(func_name, args),
                timeout=JOB_TIMEOUTS.get(func_name, DEFAULT_JOB_TIMEOUT),
                result_ttl=3600,
                failure_ttl=7 * 86400,
            )
            if func_name in JOB_ID_PREFIXES or func_name in FIXED_JOB_IDS:
                self._enqueue_unless_waiting(queue, job)
            else:
                queue.enqueue_job(job)
        except RedisError as error:
            # The row that describes the work is committed; the sweeper will enqueue it
            # again once Redis answers.
            log.warning(
                "Could not enqueue %s%r (%s); the sweeper retries it.", func_name, args, error
            )
            return False
        return True

    def _enqueue_unless_waiting(self, queue: Queue, job: Job) -> bool:
        """Enqueue ``job`` unless its id is in ``queue`` already; True if it was added.

        RQ's own enqueue with a given id pushes a second entry, and its ``unique`` flag
        refuses while the job's record exists, which outlives the job (a record kept
        for its result, or left "started" by a worker that died) and would block the
        sweeper's hand-back. So: WATCH the queue, look for the id (LPOS), and enqueue in
        MULTI/EXEC; if another enqueue or a worker touched the queue in between, EXEC
        fails and it is checked again. A job that is running is no longer in the queue,
        so a copy may wait behind it; that copy finds its row done and does nothing.
        """
        with self.connection.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(queue.key)
                    if pipe.lpos(queue.key, job.id) is not None:
                        pipe.reset()
                        return False
                    pipe.multi()
                    queue.enqueue_job(job, pipeline=pipe)
                    pipe.execute()
                    return True
                except WatchError:
                    continue

    def start(self) -> None:
        """Nothing to start: the worker process runs the jobs."""


class ThreadBackend:
    """In-process: a daemon thread runs jobs in order, sweeps every ``JOBS_SWEEP_SECONDS`` and
    sends the payment reminders due every ``REMINDERS_EVERY_SECONDS``."""

    name = "thread"

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.jobs: thread_queue.Queue[tuple[str, tuple]] = thread_queue.Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="tally-jobs", daemon=True)
                self.thread.start()

    def enqueue(self, func_name: str, args: tuple) -> bool:
        self.start()
        self.jobs.put((func_name, args))
        return True

    def _run(self) -> None:
        interval = self.app.config["JOBS_SWEEP_SECONDS"]
        reminders_interval = self.app.config["REMINDERS_EVERY_SECONDS"]
        next_sweep = next_reminders = time.monotonic()
        while True:
            # Sweep (and remind) on time even while jobs keep arriving.
            wait = min(next_sweep, next_reminders) - time.monotonic()
            try:
                if wait <= 0:
                    raise thread_queue.Empty
                func_name, args = self.jobs.get(timeout=wait)
            except thread_queue.Empty:
                if next_sweep <= next_reminders:
                    func_name, args = SWEEP_JOB, ()
                    next_sweep = time.monotonic() + interval
                else:
                    func_name, args = REMINDERS_JOB, ()
                    next_reminders = time.monotonic() + reminders_interval
            try:
                run_job(self.app, func_name, args)
            except Exception:
                log.exception("Job %s%r failed", func_name, args)


class SyncBackend:
    """In-process, right after the commit, in its own app context; for tests, errors propagate."""

    name = "sync"

    def __init__(self, app: Flask) -> None:
        self.app = app

    def start(self) -> None:
        """Nothing to start."""

    def enqueue(self, func_name: str, args: tuple) -> bool:
        run_job(self.app, func_name, args)
        return True


class JobQueue:
    """The app's job queue (``webapp.extensions.jobs``)."""

    def init_app(self, app: Flask) -> None:
        if app.config.get("REDIS_URL"):
            backend: RedisBackend | ThreadBackend | SyncBackend = RedisBackend(
                app.config["REDIS_URL"]
            )
        elif app.config["JOBS_INLINE"] == "sync":
            backend = SyncBackend(app)
        elif app.config["JOBS_INLINE"] == "thread":
            backend = ThreadBackend(app)
        else:
            raise ValueError(
                f"JOBS_INLINE must be 'thread' or 'sync', not {app.config['JOBS_INLINE']!r}"
            )
        app.extensions[_EXTENSION] = backend
        _listen_for_commits()

        if isinstance(backend, ThreadBackend):
            # Start the thread with the first request so queued work left by a restart
            # is swept; CLI commands and imports never start it.
            app.before_request(backend.start)

    @staticmethod
    def backend(app: Flask | None = None):
        return (app or current_app).extensions[_EXTENSION]

    def redis(self) -> Redis | None:
        """The Redis connection when REDIS_URL is set (also for shared counters), else None."""
        backend = self.backend()
        return backend.connection if isinstance(backend, RedisBackend) else None

    @contextmanager
    def run_in_process(self) -> Iterator[None]:
        """Within the block, jobs run at once unless Redis takes them (a command's thread dies)."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        backend = app.extensions[_EXTENSION]
        if isinstance(backend, RedisBackend | SyncBackend):
            yield
            return
        app.extensions[_EXTENSION] = SyncBackend(app)
        try:
            yield
        finally:
            app.extensions[_EXTENSION] = backend

    def enqueue(self, func_name: str, *args: Any) -> bool:
        """Enqueue now (the caller has committed what the job reads)."""
        return self.backend().enqueue(func_name, args)

    def enqueue_after_commit(self, session: Session, func_name: str, *args: Any) -> None:
        """Enqueue once ``session`` commits; forgotten if it rolls back."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        session.info.setdefault(_PENDING, []).append((app, func_name, args))


def _dispatch_after_commit(session: Session) -> None:
    for app, func_name, args in session.info.pop(_PENDING, ()):
        JobQueue.backend(app).enqueue(func_name, args)


def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _listen_for_commits() -> None:
    if not event.contains(Session, "after_commit", _dispatch_after_commit):
        event.listen(Session, "after_commit", _dispatch_after_commit)
        event.listen(Session, "after_rollback", _forget_on_rollback)
