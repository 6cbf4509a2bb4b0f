"""Waiting in tests: on the real condition, never for a fixed time.

``wait_for`` is the suite's one poll helper; threads that must meet use
threading.Event or Barrier instead, and ``start_and_wait_for_lock`` starts a thread
and returns once it waits for a lock another transaction holds. ``holds`` is the
opposite check: that something stays true for a while (no duplicate shows up).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

POLL_SECONDS = 0.05
WAIT_SECONDS = 40

_WRITES = ("INSERT", "UPDATE", "DELETE")


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Poll ``condition`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def holds(condition: Callable[[], Any], what: str, seconds: float) -> None:
    """Check ``condition`` stays true for ``seconds`` (e.g. no duplicate shows up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition(), what
        time.sleep(0.1)
    assert condition(), what


def start_and_wait_for_lock(thread: threading.Thread, engine: Engine) -> None:
    """Start ``thread`` and return once it waits for a lock that another transaction
    on ``engine`` holds, or once it has ended (the caller asserts which).

    PostgreSQL shows the wait: a backend of this database waiting on a lock
    (pg_stat_activity). SQLite shows none, but a write cannot finish while another
    connection holds the database's write lock: the thread has reached its first write.
    """
    if engine.dialect.name == "postgresql":
        thread.start()
        wait_for(lambda: not thread.is_alive() or _waits_on_a_lock(engine), "a lock wait")
        return

    writing = threading.Event()

    def note(_conn, _cursor, statement, *_args) -> None:
        if threading.current_thread() is thread and statement.lstrip().upper().startswith(_WRITES):
            writing.set()

    event.listen(engine, "before_cursor_execute", note)
    try:
        thread.start()
        wait_for(lambda: not thread.is_alive() or writing.is_set(), "the thread's first write")
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _waits_on_a_lock(engine: Engine) -> bool:
    # A new connection each time: a transaction keeps its first view of pg_stat_activity.
    with engine.connect() as probe:
        return bool(
            probe.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            )
        )
