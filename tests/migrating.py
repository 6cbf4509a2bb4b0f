"""A fresh database migrated only up to an older revision, for migration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask_migrate import upgrade

from tests import conftest
from tests.conftest import _admin_url, make_app
from webapp.extensions import db


@contextmanager
def database_at(request, backend: str, revision: str, tmp_path, instance_dir, **config) -> Iterator:
    """The app on a new ``backend`` database at ``revision``; dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / f'at-{revision}.db'}"
        drop = None
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"tally_m{revision}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(_admin_url(base), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + f"/{name}"

        def drop():
            with psycopg.connect(_admin_url(base), autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    conftest._migrated.add(url)  # make_app must not migrate it to the head
    app = make_app(url, instance_dir, **config)
    with app.app_context():
        upgrade(revision=revision)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if drop:
            drop()
