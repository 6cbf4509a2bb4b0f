"""/api/v1/customers: list (the panel's search, filters and keyset paging), get, create,
update and archive, through the Add/Edit customer form's rules and services.customers."""

from __future__ import annotations

from dataclasses import replace

from flask import url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.blueprints.api import schemas
from webapp.blueprints.api.blueprint import bp
from webapp.blueprints.api.common import (
    answer,
    checked_cursor,
    customer_or_404,
    idempotent,
    json_body,
    next_cursor,
    query_args,
    refused,
    shaped,
)
from webapp.blueprints.api.openapi import documented
from webapp.blueprints.api.problems import ApiProblem
from webapp.blueprints.customers.forms import check_customer_input
from webapp.extensions import db
from webapp.models.customer import Customer, CustomerStatus, format_customer_id
from webapp.services import customers as customer_service
from webapp.services import ledger, search
from webapp.services.tags import tag_id_for_key, tag_key

TAG = "Customers"


def customer_json(customer: Customer) -> schemas.Customer:
    balances = ledger.balances(db.session, customer)
    if not any(row.currency == customer.currency for row in balances):
        balances = [None, *balances]
    return schemas.Customer(
        id=customer.id,
        customer_number=format_customer_id(customer.id),
        external_id=customer.external_id,
        status=str(customer.status),
        **{name: getattr(customer, name) for name in customer_service.EDITABLE_FIELDS},
        tax_rate_bp=customer.tax_rate_bp,
        balances=[
            schemas.Money(amount_minor=0, currency=customer.currency)
            if row is None
            else schemas.Money(amount_minor=row.balance_minor, currency=row.currency)
            for row in balances
        ],
        tags=[tag.name for tag in customer.tags],
        created_at=schemas.utc(customer.created_at),
        updated_at=schemas.utc(customer.updated_at),
    )


def _summary(row: search.ListRow, external_ids: dict[int, str | None]) -> schemas.CustomerSummary:
    return schemas.CustomerSummary(
        id=row.id,
        customer_number=row.customer_id,
        external_id=external_ids.get(row.id),
        name=row.name,
        company=row.company,
        email=row.email,
        country=row.country,
        currency=row.currency,
        status=str(row.status),
        balance=schemas.Money(amount_minor=row.balance_minor, currency=row.currency),
        other_currencies=row.other_currencies,
        tags=row.tags,
        created_at=schemas.utc(row.created_at),
    )


def _list_query(args: schemas.CustomerListQuery) -> search.CustomerQuery:
    """The panel's CustomerQuery from the API's parameters; what the panel would quietly
    drop (an unknown country, currency or tag) is a 422 here: a program's typo must not
    widen the list."""
    given = args.model_dump(exclude_none=True)
    cursor = given.pop("cursor", None)
    query = search.CustomerQuery.from_args(given)
    errors = {}
    if args.currency is not None and query.currency != args.currency.upper():
        errors["currency"] = "Choose a currency from the list (an ISO 4217 code)."
    if args.country is not None and query.country != args.country.upper():
        errors["country"] = "Choose a country from the list (an ISO 3166-1 alpha-2 code)."
    if args.tag is not None and (
        not query.tag or tag_id_for_key(db.session, tag_key(args.tag)) is None
    ):
        errors["tag"] = "No tag has this name."
    if errors:
        raise refused(errors, "Some parameters need changing.")
    return replace(query, after=checked_cursor(search.list_keyset(query), cursor))


@bp.get("/customers")
@documented(
    "List customers",
    tag=TAG,
    query=schemas.CustomerListQuery,
    responses={200: schemas.CustomerList},
)
def list_customers():
    """The customer list as in the panel: search, filters and sort, 50 a page, newest first
    by default; archived customers only with status=archived or status=all."""
    query = _list_query(query_args(schemas.CustomerListQuery))
    page = search.list_customers(db.session, query)
    ids = [row.id for row in page.customers]
    rows = db.session.execute(
        select(Customer.id, Customer.external_id).where(Customer.id.in_(ids))
    ).all()
    external_ids = {customer_id: external_id for customer_id, external_id in rows}
    return answer(
        schemas.CustomerList(
            data=[_summary(row, external_ids) for row in page.customers],
            next_cursor=next_cursor(page.rows),
        )
    )


@bp.get("/customers/<int:customer_id>")
@documented("Get a customer", tag=TAG, responses={200: schemas.Customer})
def get_customer(customer_id: int):
    """One customer: every field, its balance in each currency used, its tags."""
    return answer(customer_json(customer_or_404(customer_id)))


def _checked_fields(body: dict, customer: Customer | None) -> dict:
    """The form's rules over the sent values (and the external ID's): fields for the service."""
    sent = shaped(schemas.CustomerWrite, body).model_dump(exclude_unset=True)
    external_sent = "external_id" in sent
    external = sent.pop("external_id", None)
    locked = None
    if customer is not None and customer_service.currency_is_locked(db.session, customer):
        locked = customer.currency
    fields, errors = check_customer_input(sent, customer, locked_currency=locked)
    if external_sent:
        try:
            external = customer_service.normalise_external_id(external)
        except customer_service.CustomerError as refusal:
            errors = {**errors, "external_id": str(refusal)}
    if errors:
        raise refused(errors)
    if external_sent:
        fields["external_id"] = external
    return fields


def _service_refusal(refusal: customer_service.CustomerError) -> ApiProblem:
    if isinstance(refusal, customer_service.ExternalIdTaken):
        return ApiProblem(409, str(refusal), {"external_id": str(refusal)})
    if refusal.field:
        return refused({refusal.field: str(refusal)})
    return ApiProblem(409, str(refusal))


def _taken(external_id: str | None, exclude_id: int | None = None) -> ApiProblem:
    """A unique index refused the save: two requests raced for one external ID."""
    db.session.rollback()
    try:
        customer_service.check_external_id(db.session, external_id, exclude_id)
    except customer_service.ExternalIdTaken as refusal:
        return _service_refusal(refusal)
    return ApiProblem(409, "The customer changed meanwhile: send the request again.")


@bp.post("/customers")
@documented(
    "Create a customer",
    tag=TAG,
    body=schemas.CustomerWrite,
    responses={201: schemas.Customer},
)
@idempotent
def create_customer():
    """Add customer: the panel form's rules and defaults (lowest-rate tax class, oldest legal
    entity, Net 30, the country's currency). No customer-area account is made."""
    fields = _checked_fields(json_body(), None)
    try:
        customer = customer_service.create_customer(db.session, fields)
    except customer_service.CustomerError as refusal:
        raise _service_refusal(refusal) from None
    except IntegrityError:
        raise _taken(fields.get("external_id")) from None
    return answer(
        customer_json(customer),
        201,
        location=url_for("api.get_customer", customer_id=customer.id),
    )


@bp.patch("/customers/<int:customer_id>")
@documented(
    "Update a customer",
    tag=TAG,
    body=schemas.CustomerWrite,
    responses={200: schemas.Customer},
)
@idempotent
def update_customer(customer_id: int):
    """Edit customer: only the fields sent change, under the same rules as the form (the
    billing currency is fixed once money has moved)."""
    customer = customer_or_404(customer_id)
    fields = _checked_fields(json_body(), customer)
    try:
        customer = customer_service.update_customer(db.session, customer, fields)
    except customer_service.CustomerError as refusal:
        raise _service_refusal(refusal) from None
    except IntegrityError:
        raise _taken(fields.get("external_id"), customer_id) from None
    return answer(customer_json(customer))


@bp.post("/customers/<int:customer_id>/archive")
@documented(
    "Archive a customer",
    tag=TAG,
    responses={200: schemas.Customer},
    errors=(409,),
)
@idempotent
def archive_customer(customer_id: int):
    """Archive: the customer leaves the default list (nothing is deleted); 409 when the
    customer is already archived."""
    customer = customer_or_404(customer_id)
    try:
        customer = customer_service.change_status(db.session, customer, CustomerStatus.ARCHIVED)
    except customer_service.CustomerError as refusal:
        raise ApiProblem(409, str(refusal)) from None
    return answer(customer_json(customer))
