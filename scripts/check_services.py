"""Fail loudly, before any test runs, when PostgreSQL or Redis cannot be reached."""

import os
import socket
import sys
from urllib.parse import urlsplit

import psycopg


def main() -> int:
    problems = []
    database_url = os.environ["TEST_DATABASE_URL"]
    try:
        with psycopg.connect(database_url, connect_timeout=5) as connection:
            version = connection.execute("SHOW server_version").fetchone()[0]
        print(f"PostgreSQL {version} at {urlsplit(database_url).netloc}: ok")
    except Exception as error:  # any failure is reported, with the URL tried
        problems.append(f"PostgreSQL at {database_url}: {error}")

    redis_url = urlsplit(os.environ["TEST_REDIS_URL"])
    try:
        with socket.create_connection((redis_url.hostname, redis_url.port or 6379), 5) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
        if not reply.startswith(b"+PONG"):
            raise RuntimeError(f"unexpected reply {reply!r}")
        print(f"Redis at {redis_url.netloc}: ok")
    except Exception as error:
        problems.append(f"Redis at {redis_url.geturl()}: {error}")

    for problem in problems:
        print(f"error: cannot reach {problem}", file=sys.stderr)
    if problems:
        print(
            "The test suite needs PostgreSQL 15 and Redis 7 running (see README, 'Tests').",
            file=sys.stderr,
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
