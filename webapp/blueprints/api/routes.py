"""The JSON API's blueprint, put together: its routes (one module per resource), key
authentication, problem+json errors for everything under /api/, no session cookie, no
CSRF, and a rate limit per API key."""

from __future__ import annotations

from flask import Flask, current_app
from flask.sessions import SessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException, InternalServerError

# The resource modules add their routes to ``bp`` when imported.
from webapp.blueprints.api import customers, documents, entries, openapi, payment_links
from webapp.blueprints.api.auth import (
    api_rate_limit,
    api_rate_limit_without_key,
    authenticate,
    has_key,
    no_key,
    rate_limit_key,
)
from webapp.blueprints.api.blueprint import PREFIX, bp
from webapp.blueprints.api.problems import (
    ApiProblem,
    is_api_request,
    problem,
    problem_of,
)
from webapp.extensions import csrf, db
from webapp.services.guard import CustomerRefusal

__all__ = ["bp", "customers", "documents", "entries", "init_app", "openapi", "payment_links"]


@bp.before_request
def _authenticate():
    authenticate()


@bp.errorhandler(CustomerRefusal)
def _customer_refusal(refusal: CustomerRefusal):
    """A customer deleted (404) or cleared (409) while the request ran, as in the panel."""
    db.session.rollback()
    return problem(refusal.status, refusal.message)


class NoSessionOnApi(SessionInterface):
    """The app's session everywhere but /api/: there a request's cookie is never read and
    no cookie is ever set, so a staff session cannot authenticate a program's request."""

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def open_session(self, app, request):
        if request.path.startswith(PREFIX):
            return self.inner.session_class() if hasattr(self.inner, "session_class") else None
        return self.inner.open_session(app, request)

    def save_session(self, app, session, response) -> None:
        from flask import request

        if request.path.startswith(PREFIX):
            return None
        return self.inner.save_session(app, session, response)

    def is_null_session(self, obj) -> bool:
        return self.inner.is_null_session(obj)


def _http_error(error: HTTPException):
    """Any HTTP error under /api/ as problem+json (405, 413, 429 …); the panel's as before."""
    if not is_api_request():
        return error
    headers = {}
    if error.code == 405:
        if not _path_exists():
            return problem(404, "There is nothing at this address.")
        allowed = error.get_headers()
        headers = {name: value for name, value in allowed if name.lower() == "allow"}
    detail = error.description or ""
    if error.code == 429:
        detail = "Too many requests with this API key: wait for Retry-After seconds."
    return problem(error.code or 500, detail, headers=headers)


def _path_exists() -> bool:
    """Whether some method really answers this path. Werkzeug says 405 for a POST to
    /customers/<an id past the id range>/entries (the GET rule's path matched before its
    converter refused the id): that is an unknown id, a 404."""
    from flask import request

    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in ("GET", "POST", "PATCH", "DELETE", "PUT"):
        try:
            adapter.match(method=method)
        except HTTPException:
            continue
        return True
    return False


def _server_error(error: InternalServerError):
    if not is_api_request():
        return error
    current_app.logger.error("API request failed", exc_info=error.original_exception)
    return problem(500, "Something went wrong on our side; it has been logged.")


def api_error_response(status: int, title: str, message: str):
    """The panel's error page (404, 403 …) as problem+json, for requests under /api/."""
    return problem(status, message)


def init_app(app: Flask, limiter: Limiter) -> None:
    """Register the API: no CSRF, no session, problem+json errors, a limit per key."""
    csrf.exempt(bp)
    # One count per key across every route of the API.
    # One count per key across every route of the API; requests without a live key
    # (refused with 401, or the public reference) count per client address instead, so
    # guessing keys is slow too.
    limiter.shared_limit(api_rate_limit, scope="api", key_func=rate_limit_key, exempt_when=no_key)(
        bp
    )
    limiter.shared_limit(
        api_rate_limit_without_key,
        scope="api-without-key",
        key_func=get_remote_address,
        exempt_when=has_key,
    )(bp)
    app.register_blueprint(bp)
    app.register_error_handler(ApiProblem, problem_of)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
    app.session_interface = NoSessionOnApi(app.session_interface)
