"""Pages that only read run without a transaction.

A request normally opens a transaction with its first query (BEGIN) and rolls
it back at the end (ROLLBACK): two more round trips to the database, a good
part of a page that takes a few milliseconds. A GET view marked ``@read_only``
runs on an autocommit connection instead: each query is its own transaction,
with no BEGIN and no ROLLBACK. Mark only views whose every write is a single
statement (the staff session's once-a-minute touch is one); a view that
writes more than that, or locks rows, stays unmarked.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from webapp.extensions import db


def read_only(view):
    """Mark a view as reading only (see the module docstring)."""
    view.read_only = True
    return view


def init_app(app: Flask) -> None:
    app.before_request(_autocommit_for_reads)


def _autocommit_for_reads() -> None:
    if request.method not in ("GET", "HEAD") or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    # A session already in a transaction (a test holding one open) keeps it.
    if getattr(view, "read_only", False) and not db.session().in_transaction():
        # The isolation level goes back to the default when the connection returns to
        # the pool; a commit during the request (the session touch) ends it sooner.
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
