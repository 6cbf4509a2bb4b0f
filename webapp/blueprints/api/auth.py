"""Who is calling: ``Authorization: Bearer <API key>``, never a cookie.

The key is looked up once per request (the rate limiter asks first, to count per key)
and kept on ``g``; ``g.api_key_id`` is what history and audit lines name as the actor.
A read key may use GET only.
"""

from __future__ import annotations

from flask import current_app, g, request

from webapp.blueprints.api.problems import ApiProblem
from webapp.extensions import db, login_manager
from webapp.models.api_keys import ApiKey
from webapp.services import api_keys

_UNSET = object()
_ENVIRON_KEY = "tally.api_key"
# Routes anyone may read (the OpenAPI document and its docs page): no key needed.
PUBLIC_API_ENDPOINTS = frozenset({"api.openapi_document", "api.docs"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_api_key() -> ApiKey | None:
    """The live key this request carries, or None; looked up once per request (kept in
    the request's environ: an app context, and so ``g``, may outlive one request)."""
    found = request.environ.get(_ENVIRON_KEY, _UNSET)
    if found is _UNSET:
        token = bearer_token()
        found = api_keys.key_for_token(db.session, token) if token else None
        request.environ[_ENVIRON_KEY] = found
        g.api_key_id = found.id if found is not None else None
    return found


def rate_limit_key() -> str:
    """Flask-Limiter's key: one count per API key."""
    key = current_api_key()
    return f"api-key:{key.id}" if key is not None else "api-key:none"


def no_key() -> bool:
    """Requests without a live key are not counted: they are refused (401) anyway."""
    return current_api_key() is None


def api_rate_limit() -> str:
    """``API_RATE_LIMIT`` requests a minute per key, read per request."""
    return f"{current_app.config['API_RATE_LIMIT']} per minute"


def has_key() -> bool:
    return not no_key()


def api_rate_limit_without_key() -> str:
    """The same number for requests without a live key, counted per client address (a
    function of its own: Flask-Limiter keeps one limit per function on a blueprint)."""
    return api_rate_limit()


def authenticate() -> None:
    """The blueprint's before_request: a live key (401), allowed to do this (403)."""
    # Flask-Login's user stays anonymous here: a staff session never counts on the API.
    g._login_user = login_manager.anonymous_user()
    if request.endpoint in PUBLIC_API_ENDPOINTS:
        return
    key = current_api_key()
    if key is None:
        detail = (
            "Send an API key: Authorization: Bearer <key>. Admins create keys under "
            "Settings → API keys."
            if bearer_token() is None
            else "This API key is not valid: it is mistyped, unknown or revoked."
        )
        raise ApiProblem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="tally"'})
    if request.method not in READ_METHODS and not key.can_write:
        raise ApiProblem(403, "This API key may only read: ask an admin for a read-write key.")
    api_keys.touch(db.session, key)
