"""Absolute links for emails and copy-paste, on PUBLIC_BASE_URL."""

from __future__ import annotations

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    """``PUBLIC_BASE_URL`` + the endpoint's path: the public address, in a request or a job."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if has_request_context():
        return base + url_for(endpoint, **values)
    with current_app.test_request_context(base_url=base):
        return url_for(endpoint, **values, _external=True)
