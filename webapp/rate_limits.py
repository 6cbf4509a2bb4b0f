"""Request rate limits, counted by Flask-Limiter.

With ``REDIS_URL`` set the counts live in Redis, shared by every web process; without
it they live in the process's memory. While Redis does not answer, Flask-Limiter
counts in memory instead (so the page still answers, limited per process) and tries
Redis again after a growing pause (1 s, 2 s, 4 s … 32 s).

Flask-Limiter keeps its storage on the ``Limiter`` object, not per app, so each app
gets its own (in the tests several apps, standing in for processes, share one
interpreter and must not share counts).
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Fail fast on an unreachable Redis: the in-memory count takes over.
REDIS_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}


def init_app(app: Flask) -> Limiter:
    """Give ``app`` its own limiter: Redis storage with ``REDIS_URL``, memory otherwise."""
    redis_url = app.config.get("REDIS_URL")
    limiter = Limiter(
        key_func=get_remote_address,  # the client's address (ProxyFix sets it behind a proxy)
        storage_uri=redis_url or "memory://",
        storage_options=REDIS_OPTIONS if redis_url else {},
        # Any 60 seconds, not a calendar minute: no double burst across a boundary.
        strategy="moving-window",
        key_prefix="tally",
        in_memory_fallback_enabled=True,
        headers_enabled=True,  # X-RateLimit-* and Retry-After
    )
    limiter.init_app(app)
    app.extensions["tally_limiter"] = limiter
    return limiter


def payment_link_limit() -> str:
    """``PAYMENT_LINK_RATE_LIMIT`` requests a minute, read per request."""
    return f"{current_app.config['PAYMENT_LINK_RATE_LIMIT']} per minute"


def limit_public_pages(limiter: Limiter, blueprint: Blueprint) -> None:
    """Every page of ``blueprint`` (the payment-link page): ``payment_link_limit`` per
    client address, whatever the token (unknown tokens count too: no guessing around it)."""
    limiter.shared_limit(payment_link_limit, scope="payment-link")(blueprint)
