"""A fixed-window request limit per key (e.g. per client address).

With Redis configured the count lives there (INCR with an expiry), shared by every
web process; without it, or while Redis does not answer, a counter in this process
stands in, so the limit always holds at least per process.
"""

from __future__ import annotations

import threading
import time

from redis.exceptions import RedisError

from webapp.extensions import jobs

MAX_KEYS = 10_000
REDIS_RETRY_SECONDS = 30

_lock = threading.Lock()
_counts: dict[str, tuple[int, int]] = {}  # key -> (window, count)
_redis_skipped_until = 0.0


def allow(key: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one request for ``key``; False once it is over ``limit`` in this window."""
    window = int(time.time() // window_seconds)
    connection = jobs.redis()
    global _redis_skipped_until
    if connection is not None and time.monotonic() >= _redis_skipped_until:
        name = f"tally:rate:{key}:{window}"
        try:
            pipe = connection.pipeline()
            pipe.incr(name)
            pipe.expire(name, window_seconds + 1)
            count = pipe.execute()[0]
            return count <= limit
        except RedisError:
            # Fall back to this process's count, and do not make every request wait
            # for an unreachable Redis: try it again after a pause.
            _redis_skipped_until = time.monotonic() + REDIS_RETRY_SECONDS
    with _lock:
        if len(_counts) > MAX_KEYS:  # old windows and one-off addresses
            for stale in [k for k, (w, _) in _counts.items() if w != window]:
                del _counts[stale]
            if len(_counts) > MAX_KEYS:  # a flood of addresses within one window
                _counts.clear()
        seen_window, count = _counts.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        _counts[key] = (window, count)
        return count <= limit


def reset() -> None:
    """Forget the in-process counts and any Redis pause (for tests)."""
    global _redis_skipped_until
    with _lock:
        _counts.clear()
        _redis_skipped_until = 0.0
