"""What every API route uses: the JSON body, its shape, answers, cursors, Idempotency-Key."""

from __future__ import annotations

import json
from functools import wraps

from flask import Response, g, request
from pydantic import BaseModel, ValidationError

from webapp.blueprints.api.problems import ApiProblem
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.paging import Keyset, Page
from webapp.services import idempotency
from webapp.services.reference import UNSTORABLE_IN_FIELD, has_unstorable_character

JSON = "application/json"


def json_body() -> dict:
    """The request's JSON object; 415 for another media type, 400 when it does not parse."""
    if not request.is_json:
        raise ApiProblem(415, "Send the body as JSON, with Content-Type: application/json.")
    try:
        data = json.loads(request.get_data() or b"")
    except (ValueError, RecursionError):
        raise ApiProblem(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiProblem(422, "The body must be a JSON object.")
    return data


def _field_of(location: tuple) -> str:
    return ".".join(str(part) for part in location) or "body"


def shaped(model: type[BaseModel], data: dict) -> BaseModel:
    """``data`` checked against the shape ``model`` (types and known fields only; the rules
    are the form's): 422 naming each field that has the wrong type or is unknown."""
    errors = {}
    for name, value in data.items():
        if isinstance(value, str) and has_unstorable_character(value):
            errors[name] = UNSTORABLE_IN_FIELD
    try:
        checked = model.model_validate(data, strict=True)
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            field = _field_of(problem["loc"])
            if problem["type"] == "extra_forbidden":
                message = "Unknown field."
            elif problem["type"] == "missing":
                message = "This field is required."
            else:
                message = problem["msg"] + "."
            errors.setdefault(field, message)
        raise ApiProblem(422, "Some fields need changing.", errors) from None
    if errors:
        raise ApiProblem(422, "Some fields need changing.", errors)
    return checked


def query_args(model: type[BaseModel]) -> BaseModel:
    """The query string checked against ``model``'s shape (unknown names are refused)."""
    values = {}
    for name in request.args:
        got = request.args.getlist(name)
        if len(got) > 1:
            raise ApiProblem(422, "Some parameters need changing.", {name: "Send it once."})
        values[name] = got[0]
    try:
        return model.model_validate(values)
    except ValidationError as error:
        errors = {}
        for problem in error.errors(include_url=False):
            field = _field_of(problem["loc"])
            message = (
                "Unknown parameter." if problem["type"] == "extra_forbidden" else problem["msg"]
            )
            errors.setdefault(field, message)
        raise ApiProblem(422, "Some parameters need changing.", errors) from None


def answer(model: BaseModel | None, status: int = 200, location: str | None = None) -> Response:
    """A JSON answer from a response model (no body for None: 204)."""
    if model is None:
        return Response(status=204)
    response = Response(model.model_dump_json(), status=status, mimetype=JSON)
    if location:
        response.headers["Location"] = location
    return response


def refused(errors: dict[str, str], detail: str = "Some fields need changing.") -> ApiProblem:
    return ApiProblem(422, detail, errors)


def customer_or_404(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise ApiProblem(404, f"There is no customer with id {customer_id}.")
    return customer


def checked_cursor(keyset: Keyset, cursor: str | None) -> str:
    """``cursor`` if it is one of this list's; 422 otherwise (never silently page one)."""
    if cursor is None:
        return ""
    if keyset.decode(cursor) is None:
        raise ApiProblem(
            422, "Some parameters need changing.", {"cursor": "Not a cursor of this list."}
        )
    return cursor


def next_cursor(page: Page) -> str | None:
    return page.next_args.get("after") or None


def _canonical_body() -> bytes:
    """The body as compared for an Idempotency-Key: JSON with its keys sorted and no
    spacing (the same parameters sent again are the same request, as Stripe has it);
    anything else as sent."""
    raw = request.get_data()
    try:
        parsed = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return raw
    return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()


def idempotent(view):
    """Honour an ``Idempotency-Key`` header (services.idempotency): a success is replayed
    for 24 hours with ``Idempotent-Replayed: true``; a key in progress is 409, a key used
    for another request 422."""

    @wraps(view)
    def guarded(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        fingerprint = idempotency.request_hash(request.method, request.path, _canonical_body())
        try:
            outcome = idempotency.begin(db.session, g.api_key_id, key, fingerprint)
        except idempotency.IdempotencyError as refusal:
            errors = {"Idempotency-Key": str(refusal)} if refusal.status == 422 else None
            raise ApiProblem(refusal.status, str(refusal), errors) from None
        if isinstance(outcome, idempotency.Replay):
            response = Response(outcome.body or None, status=outcome.status, mimetype=JSON)
            if outcome.location:
                response.headers["Location"] = outcome.location
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            response = view(*args, **kwargs)
        except ApiProblem as refusal:
            idempotency.finish(db.session, outcome, refusal.status, "")
            raise
        except Exception:
            idempotency.finish(db.session, outcome, 500, "")
            raise
        idempotency.finish(
            db.session,
            outcome,
            response.status_code,
            response.get_data(as_text=True),
            response.headers.get("Location", ""),
        )
        return response

    guarded.idempotent = True
    return guarded
