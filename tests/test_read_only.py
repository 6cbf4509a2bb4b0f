"""Read-only pages run on an autocommit connection (no BEGIN, no ROLLBACK); others do not."""

from __future__ import annotations

import pytest
from sqlalchemy import event


@pytest.fixture
def isolation_seen(app, db):
    """The isolation level of every statement the next requests run."""
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append(conn.get_execution_options().get("isolation_level", "default"))

    db.session.remove()  # each request starts with no transaction, as in production
    event.listen(db.engine, "before_cursor_execute", remember)
    yield seen
    event.remove(db.engine, "before_cursor_execute", remember)


def test_the_list_and_a_customer_tab_read_without_a_transaction(
    staff_client, make_customer, db, isolation_seen
):
    customer_id = make_customer().id
    db.session.remove()
    for url in ("/customers", f"/customers/{customer_id}", f"/customers/{customer_id}/history"):
        isolation_seen.clear()
        assert staff_client.get(url).status_code == 200
        assert isolation_seen and set(isolation_seen) == {"AUTOCOMMIT"}, url
        db.session.remove()


def test_a_form_keeps_its_transaction(staff_client, make_customer, db, isolation_seen):
    customer_id = make_customer().id
    db.session.remove()
    isolation_seen.clear()
    assert staff_client.get(f"/customers/{customer_id}/edit").status_code == 200
    assert isolation_seen and "AUTOCOMMIT" not in isolation_seen
