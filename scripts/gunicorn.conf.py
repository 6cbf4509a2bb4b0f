"""gunicorn settings for scripts/serve: how many processes, from REDIS_URL.

Without Redis, background jobs and the rate-limit counts live in the web process, so
the embedded default runs one process (with more threads): one job thread, one
sweeper, and PAYMENT_LINK_RATE_LIMIT holds as written. With REDIS_URL both are shared
through Redis, and WEB_CONCURRENCY processes (default 2) serve.
"""

import os
from pathlib import Path

from dotenv import load_dotenv

load_dotenv(Path(__file__).resolve().parent.parent / ".env")  # as wsgi.py does; env wins

if os.environ.get("REDIS_URL", "").strip():
    workers = int(os.environ.get("WEB_CONCURRENCY", "").strip() or 2)
    threads = 4
else:
    workers = 1
    threads = 8
accesslog = "-"
