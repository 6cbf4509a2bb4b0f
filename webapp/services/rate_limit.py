"""A fixed-window request limit per key (e.g. per client address).

With Redis configured the count lives there (INCR with an expiry), shared by every
web process; without it, or while Redis does not answer, a counter in this process
stands in, so the limit always holds at least per process.
"""

from __future__ import annotations

import threading
import time

from flask import current_app
from redis.exceptions import RedisError

_lock = threading.Lock()
_counts: dict[str, tuple[int, int]] = {}  # key -> (window, count)


def allow(key: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one request for ``key``; False once it is over ``limit`` in this window."""
    window = int(time.time() // window_seconds)
    backend = current_app.extensions.get("tally_jobs")
    connection = getattr(backend, "connection", None)
    if connection is not None:
        name = f"tally:rate:{key}:{window}"
        try:
            pipe = connection.pipeline()
            pipe.incr(name)
            pipe.expire(name, window_seconds + 1)
            count = pipe.execute()[0]
            return count <= limit
        except RedisError:
            pass  # fall back to this process's count
    with _lock:
        if len(_counts) > 10_000:  # old windows and one-off addresses
            for stale in [k for k, (w, _) in _counts.items() if w != window]:
                del _counts[stale]
        seen_window, count = _counts.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        _counts[key] = (window, count)
        return count <= limit


def reset() -> None:
    """Forget the in-process counts (for tests)."""
    with _lock:
        _counts.clear()
