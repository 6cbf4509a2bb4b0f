"""scripts/serve's web processes: one without REDIS_URL (jobs and rate-limit counts live
in the process, so there must be only one), WEB_CONCURRENCY (default 2) with it.

gunicorn is started with the arguments scripts/serve gives it (read from the script),
on a free loopback port, and its worker processes are counted once /health answers.
"""

from __future__ import annotations

import contextlib
import os
import re
import runpy
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
SERVE = ROOT / "scripts" / "serve"
CONFIG = ROOT / "scripts" / "gunicorn.conf.py"
START_SECONDS = 60


def serve_gunicorn_arguments(bind: str) -> list[str]:
    """The arguments of the gunicorn command at the end of scripts/serve."""
    match = re.search(r"^exec \.venv/bin/gunicorn (.+)$", SERVE.read_text(), re.MULTILINE)
    assert match, "scripts/serve does not end by running gunicorn"
    return shlex.split(match.group(1).replace("${HOST}:${PORT}", bind))


def child_pids(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def health(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/health"
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
        return answer.status == 200
    return False


def serve_workers(tmp_path: Path, **settings: str) -> int:
    """Start gunicorn as scripts/serve does with ``settings`` in the environment, wait
    for /health, and count its worker processes."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "WEB_CONCURRENCY", "DATABASE_URL", "GUNICORN_CMD_ARGS"}
    }
    env.update(
        {
            # Set even when empty: a developer's .env must not decide for the test.
            "REDIS_URL": "",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
            "TALLY_INSTANCE_PATH": str(tmp_path / "instance"),
            "JOBS_INLINE": "sync",  # no job thread sweeping an empty database meanwhile
            **settings,
        }
    )
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *serve_gunicorn_arguments(f"127.0.0.1:{port}")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:

        def answers() -> bool:
            assert process.poll() is None, log.read_text()
            return health(port)

        wait_for(answers, "gunicorn to answer /health", START_SECONDS)
        # gunicorn forks every worker before any of them loads the app, so all of them
        # exist once one answers.
        return len(child_pids(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serve_runs_one_process_without_redis(tmp_path):
    assert serve_workers(tmp_path, WEB_CONCURRENCY="3") == 1


def test_serve_runs_web_concurrency_processes_with_redis(tmp_path, redis_server):
    assert serve_workers(tmp_path, REDIS_URL=redis_server.url) == 2


@pytest.mark.parametrize(
    "settings, workers, threads",
    [
        ({"REDIS_URL": "", "WEB_CONCURRENCY": "3"}, 1, 8),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0", "WEB_CONCURRENCY": ""}, 2, 4),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0", "WEB_CONCURRENCY": "3"}, 3, 4),
    ],
)
def test_serve_settings(monkeypatch, settings, workers, threads):
    """The same eight concurrent requests by default, in one process or two."""
    monkeypatch.setattr(os, "environ", dict(os.environ))  # what .env adds goes away after
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    config = runpy.run_path(str(CONFIG))
    assert (config["workers"], config["threads"]) == (workers, threads)
