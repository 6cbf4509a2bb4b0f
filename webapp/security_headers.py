"""Security headers on every response, from one ``after_request`` hook.

Every response (pages, htmx fragments, redirects, error pages, files, static files)
gets the panel's policy: scripts from Tally's own origin only (no inline script, no
eval), no framing by any page at all, no MIME sniffing, and no referrer sent to other
sites. A route whose responses need a different policy declares it with
``@header_policy(...)`` beside its route decorator; the hook reads that from the view,
so no path is special-cased here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, Response, current_app, request

View = TypeVar("View", bound=Callable)

# One year; browsers keep to https for Tally's host that long after a visit. Not
# includeSubDomains: Tally does not own the parent domain's other hosts.
HSTS = "max-age=31536000"


def content_security_policy(**directives: str) -> str:
    """A CSP header value from keyword arguments (``default_src="'self'"`` becomes
    ``default-src 'self'``), in the order given."""
    return "; ".join(
        f"{name.replace('_', '-')} {value}".strip() for name, value in directives.items()
    )


@dataclass(frozen=True)
class HeaderPolicy:
    """The security headers one kind of response carries."""

    content_security_policy: str
    frame_options: str = "DENY"
    referrer_policy: str = "same-origin"


# The panel, the sign-in page, error pages and static files. Pico's form controls draw
# their icons from data: SVG images; htmx's inline indicator styles are turned off in
# layout.html (includeIndicatorStyles), and it never evaluates code (allowEval).
PANEL = HeaderPolicy(
    content_security_policy=content_security_policy(
        default_src="'self'",
        script_src="'self'",
        style_src="'self'",
        img_src="'self' data:",
        object_src="'none'",
        base_uri="'none'",
        form_action="'self'",
        frame_ancestors="'none'",
    ),
)


def header_policy(policy: HeaderPolicy) -> Callable[[View], View]:
    """Give the view's responses (pages, errors, redirects) ``policy`` instead of the panel's."""

    def declare(view: View) -> View:
        view.header_policy = policy
        return view

    return declare


def policy_for_request() -> HeaderPolicy:
    """The policy the matched view declares, or the panel's (also when no route matched)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "header_policy", PANEL)


def add_security_headers(response: Response) -> Response:
    """Set the request's policy on the response; HSTS in production only (tests are plain http)."""
    policy = policy_for_request()
    response.headers["Content-Security-Policy"] = policy.content_security_policy
    response.headers["X-Frame-Options"] = policy.frame_options
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = policy.referrer_policy
    if current_app.config.get("TALLY_ENV") == "production":
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def init_app(app: Flask) -> None:
    """Install the hook."""
    app.after_request(add_security_headers)
