"""Errors as RFC 9457 problem details (``application/problem+json``).

Every answer of /api/v1 that is not a success is one of these: a refused key (401), a
key that may only read (403), an unknown id or path (404), a state that forbids the
change (409), values the form's rules refuse (422, with ``errors`` naming each field),
too many requests (429), and the rest of HTTP's errors. ``type`` is a stable URI per
kind of problem, documented on the API docs page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from flask import Response, request

from webapp.blueprints.api.blueprint import PREFIX

PROBLEM_TYPE = "application/problem+json"
# Each kind of problem is described on the API docs page (and in the README).
TYPE_BASE = "/api/v1/docs#problem-"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Server error",
}
SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "server-error",
}


class ApiProblem(Exception):
    """Raised anywhere in an API request; answered as problem+json with ``status``."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: Mapping[str, str] | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = dict(errors or {})
        self.title = title
        self.headers = dict(headers or {})


def is_api_request() -> bool:
    """Whether this request is to the API (also when no route matched: an unknown path)."""
    return request.path.startswith(PREFIX)


def problem(
    status: int,
    detail: str,
    errors: Mapping[str, str] | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response; ``errors`` is field -> message, in the form's words."""
    body = {
        "type": TYPE_BASE + SLUGS.get(status, "http-" + str(status)),
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [{"field": field, "message": message} for field, message in errors.items()]
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    response.headers.update(headers or {})
    return response


def problem_of(error: ApiProblem) -> Response:
    return problem(error.status, error.detail, error.errors, error.title, error.headers)
