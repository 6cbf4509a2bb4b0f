"""The JSON API against its own OpenAPI document, by schemathesis: requests generated from
the document (paths, parameters and bodies of every operation) over seeded data, in
process against the WSGI app, on SQLite and PostgreSQL. Every answer must not be a
server error, must have a status the document lists, and must match its schema and
media type."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webapp.models.billing import EntryKind
from webapp.services import api_keys, billing, ledger, payment_links, tags

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Enough to reach every operation with varied values; about 10 s a backend.
EXAMPLES = 40


@pytest.fixture
def seeded_api(app, db, make_customer):
    """Customers 1 and 2 with entries, an invoice, a credit note, a draft, a tag and a
    payment link, so generated ids (small integers) hit real rows; the schema loaded
    from the app itself; the headers of a read-write key."""
    first = make_customer(
        name="Ada Lovelace", email="ada@example.com", country="DE", currency="EUR"
    )
    second = make_customer(
        name="Grace Hopper", email="grace@example.com", country="US", currency="USD"
    )
    # Hundreds of requests a minute: more than a key may send (API_RATE_LIMIT is read
    # per request); tests/test_api.py checks the limit itself.
    app.config["API_RATE_LIMIT"] = 1_000_000
    real = []
    for customer, currency in ((first, "EUR"), (second, "USD")):
        invoice = billing.capture_one_time_charge(
            db.session,
            customer.id,
            amount_minor=2500,
            currency=currency,
            description="Consulting",
            actor_id=None,
            key=f"{customer.id:032}",
        )
        note = billing.capture_one_time_charge(
            db.session,
            customer.id,
            amount_minor=-400,
            currency=currency,
            description="Goodwill",
            actor_id=None,
            key=f"{customer.id + 10:032}",
        )
        ledger.post_entry(
            db.session,
            customer.id,
            kind=EntryKind.CREDIT,
            amount_minor=1000,
            currency=currency,
            description="Payment",
            actor_id=None,
            key=None,
        )
        payment_links.generate(db.session, customer, None, "90")
        real.append(
            {
                "customer_id": customer.id,
                "invoice_id": invoice.invoice.id,
                "credit_note_id": note.credit_note.id,
            }
        )
    tags.add_tag(db.session, first, "vip")
    token = api_keys.create_key(db.session, "Schemathesis", "read_write", None).token
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # identity: the in-process client does not undo Flask-Compress's brotli.
    return schema, real, {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}


def operations(schema) -> list:
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 15, [operation.label for operation in found]
    return found


def exercise(operation, real: list[dict], headers: dict, answered: dict) -> None:
    """EXAMPLES generated requests to ``operation`` (the same ones every run), each
    checked; the statuses seen go in ``answered``."""

    # Values the document allows, values it does not (a program's mistakes must be a 4xx,
    # never a 500), and its own examples (a valid new customer, a valid charge).
    cases = st.one_of(
        operation.as_strategy(),
        operation.as_strategy(GenerationMode.NEGATIVE),
        *operation.get_strategies_from_examples(),
    )

    @given(case=cases, rows=st.sampled_from([None, *real]))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def answers_as_documented(case, rows):
        # Half the time the ids of a seeded customer and its own documents (random ids
        # alone would only ever be "not found").
        if rows is not None and case.path_parameters:
            case.path_parameters.update(
                {name: rows[name] for name in case.path_parameters if name in rows}
            )
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        answered.setdefault(operation.label, set()).add(response.status_code)

    answers_as_documented()


def test_every_answer_matches_the_openapi_document(seeded_api):
    schema, real, headers = seeded_api
    answered: dict[str, set[int]] = {}
    for operation in operations(schema):
        exercise(operation, real, headers, answered)
    # The generated requests reached real rows, not only 404s and 422s.
    succeeded = {label for label, statuses in answered.items() if statuses & {200, 201, 204}}
    assert succeeded >= {
        "GET /api/v1/customers",
        "GET /api/v1/customers/{customer_id}",
        "GET /api/v1/customers/{customer_id}/entries",
        "GET /api/v1/customers/{customer_id}/invoices",
        "GET /api/v1/customers/{customer_id}/invoices/{invoice_id}",
        "GET /api/v1/customers/{customer_id}/invoices/{invoice_id}/pdf",
        "GET /api/v1/customers/{customer_id}/credit-notes",
        "GET /api/v1/customers/{customer_id}/credit-notes/{credit_note_id}",
        "PATCH /api/v1/customers/{customer_id}",
        "POST /api/v1/customers",
        "POST /api/v1/customers/{customer_id}/entries",
    }, sorted(answered.items())
