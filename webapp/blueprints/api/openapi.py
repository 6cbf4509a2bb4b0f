"""The OpenAPI 3.1 document, built from the code: each route declares its shapes with
``@documented(...)`` (pydantic models), apispec puts paths and components together, and
the paths come from Flask's own URL map, so a route cannot be left out or misspelt.

pydantic writes JSON Schema 2020-12, which is OpenAPI 3.1's schema dialect, so the
models go in unchanged. The document is built once per app and served at
/api/v1/openapi.json; /api/v1/docs shows it with the vendored Swagger UI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from apispec import APISpec
from flask import Flask, current_app, jsonify, render_template
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from webapp.blueprints.api import schemas
from webapp.blueprints.api.blueprint import bp
from webapp.blueprints.api.problems import PROBLEM_TYPE, SLUGS, TITLES

REF = "#/components/schemas/{model}"
_CONVERTED = re.compile(r"<(?:(\w+):)?(\w+)>")
ID_MAX = 2**31 - 1


def documented(
    summary: str,
    *,
    tag: str,
    responses: Mapping[int, type[BaseModel] | str | None],
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    description: str = "",
):
    """Declare a route's operation for the OpenAPI document: its summary, request body and
    query shapes, its success responses (a model, a media type such as "application/pdf",
    or None for no body) and the problems it can answer besides 401, 404 and 429."""

    def declare(view):
        view.openapi = {
            "summary": summary,
            "description": description or (view.__doc__ or "").strip(),
            "tag": tag,
            "responses": dict(responses),
            "body": body,
            "query": query,
            "errors": errors,
        }
        return view

    return declare


def _models(app: Flask) -> list[tuple[type[BaseModel], str]]:
    """Every model the routes name, with its JSON Schema mode (bodies are read, the rest
    written)."""
    found: list[tuple[type[BaseModel], str]] = [(schemas.Problem, "serialization")]
    for _rule, operation in _operations(app):
        named = [(operation["body"], "validation")]
        named += [(model, "serialization") for model in operation["responses"].values()]
        for model, mode in named:
            is_model = isinstance(model, type) and issubclass(model, BaseModel)
            if is_model and (model, mode) not in found:
                found.append((model, mode))
    return found


def _operations(app: Flask):
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        view = app.view_functions.get(rule.endpoint)
        if rule.endpoint.startswith("api.") and hasattr(view, "openapi"):
            yield rule, view.openapi


def _ref(model: type[BaseModel]) -> str:
    return REF.format(model=model.__name__)


def _problem(description: str, headers: dict | None = None) -> dict:
    answer = {
        "description": description,
        "content": {PROBLEM_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


ERROR_TEXT = {
    400: "The body is not valid JSON.",
    401: "No API key, or a mistyped, unknown or revoked one.",
    403: "The API key may only read.",
    404: "No such customer, document or path (another customer's ids are not found).",
    409: "The request conflicts with the current state (see detail).",
    415: "The body is not sent as application/json.",
    422: "Values refused, each field with the panel form's own message.",
    429: "Too many requests for this API key; retry after Retry-After seconds.",
    405: "The path exists; the method does not (Allow lists those that do).",
    413: "The request body is too large.",
    500: "Something went wrong on Tally's side; it is logged.",
}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
}


def _operation(rule, operation: dict) -> tuple[str, dict]:
    path = _CONVERTED.sub(r"{\2}", rule.rule)
    parameters = []
    for converter, name in _CONVERTED.findall(rule.rule):
        schema = (
            {"type": "integer", "minimum": 0, "maximum": ID_MAX}
            if converter == "int"
            else {"type": "string"}
        )
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    if operation["query"] is not None:
        shape = operation["query"].model_json_schema(ref_template=REF)
        for name, schema in shape["properties"].items():
            schema = dict(schema)
            description = schema.pop("description", "")
            schema.pop("default", None)
            schema.pop("title", None)
            # A query value is one string; null is "left out".
            if "anyOf" in schema:
                kept = [part for part in schema["anyOf"] if part.get("type") != "null"]
                schema = kept[0] if len(kept) == 1 else {"anyOf": kept}
            parameters.append(
                {"name": name, "in": "query", "required": False, "schema": schema}
                | ({"description": description} if description else {})
            )
    (method,) = sorted(rule.methods - {"HEAD", "OPTIONS"})
    method = method.lower()
    if method in ("post", "patch"):
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Replays the first successful response for 24 hours.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    responses: dict = {}
    for status, shape in operation["responses"].items():
        if shape is None:
            responses[str(status)] = {"description": "Done; no body."}
        elif isinstance(shape, str):
            responses[str(status)] = {
                "description": "The file.",
                "content": {shape: {"schema": {"type": "string", "format": "binary"}}},
            }
        else:
            responses[str(status)] = {
                "description": shape.__doc__.strip().splitlines()[0] if shape.__doc__ else "OK",
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=shape.__name__)}}
                },
            }
    codes = {401, 404, 429, *operation["errors"]}
    if method != "get":
        codes |= {403}
    if operation["body"] is not None:
        codes |= {400, 415, 422}
    if operation["query"] is not None or method in ("post", "patch"):
        codes |= {422}
    if method in ("post", "patch"):
        codes |= {409}  # an Idempotency-Key still in progress
    for code in sorted(codes):
        responses[str(code)] = _problem(ERROR_TEXT[code], RETRY_AFTER if code == 429 else None)
    spec = {
        "summary": operation["summary"],
        "description": operation["description"],
        "operationId": rule.endpoint.removeprefix("api."),
        "tags": [operation["tag"]],
        "parameters": parameters,
        "responses": responses,
    }
    if operation["body"] is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(model=operation["body"].__name__)}
                }
            },
        }
    return path, {method: spec}


DESCRIPTION = """\
Tally's JSON API: customers, their entries, invoices, credit notes and payment links.

**Authentication**: `Authorization: Bearer <API key>`. Admins create keys in the panel
under Settings → API keys; a *read* key may only GET, a *read-write* key may do anything.
No cookie and no CSRF token: a signed-in staff session does not authenticate here.

**Money** is integer minor units with an ISO 4217 code: `{"amount_minor": 1500,
"currency": "EUR"}` is 15.00 EUR. Charges are negative, credits positive.

**Errors** are RFC 9457 `application/problem+json`; a 422 lists each refused field with the
panel form's own message. **Pages** hold 50 items; pass `next_cursor` back as `?cursor=`.
**Idempotency-Key** on POST and PATCH replays the first successful response for 24 hours.
**Rate limits** count per API key; a 429 says when to retry in `Retry-After`.
"""


def build_spec(app: Flask) -> dict:
    """The OpenAPI 3.1 document of ``app``'s /api/v1 routes."""
    spec = APISpec(
        title="Tally API",
        version="1.0.0",
        openapi_version="3.1.0",
        info={"description": DESCRIPTION},
        security=[{"ApiKey": []}],
    )
    spec.components.security_scheme(
        "ApiKey", {"type": "http", "scheme": "bearer", "description": "An API key."}
    )
    _, definitions = models_json_schema(_models(app), ref_template=REF)
    for name, schema in sorted(definitions.get("$defs", {}).items()):
        spec.components.schema(name, schema)
    for rule, operation in _operations(app):
        path, operations = _operation(rule, operation)
        spec.path(path=path, operations=operations)
    # The reference itself (openapi.json, docs) is left out: it is not a program's call.
    return spec.to_dict()


def spec_of(app: Flask) -> dict:
    if "tally_openapi" not in app.extensions:
        app.extensions["tally_openapi"] = build_spec(app)
    return app.extensions["tally_openapi"]


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of this API (no key needed)."""
    return jsonify(spec_of(current_app))


@bp.get("/docs")
def docs():
    """The API's reference, rendered by the vendored Swagger UI (no key needed)."""
    problems = [
        (SLUGS[status], status, TITLES[status], ERROR_TEXT.get(status, ""))
        for status in sorted(SLUGS)
    ]
    return render_template("api/docs.html", problems=problems)
