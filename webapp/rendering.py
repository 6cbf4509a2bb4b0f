"""Full page or fragment: the one helper every route renders through."""

from __future__ import annotations

import json
from collections.abc import Iterable

from flask import Response, current_app, make_response, render_template, request
from jinja2 import UndefinedError
from jinja2_fragments.flask import render_block


def is_htmx_partial() -> bool:
    """An htmx request that wants a fragment (not a boosted page or a history restore)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and not headers.get("HX-Boosted")
        and not headers.get("HX-History-Restore-Request")
    )


def render_page(
    template: str, blocks: Iterable[str] = (), status: int = 200, **context
) -> Response:
    """Render ``template`` whole, or only the block htmx targets if it is allowed.

    ``blocks`` is the allow-list of block names; each matches the id of the
    element it fills, so ``HX-Target: results`` renders ``{% block results %}``. An
    allowed block that this page did not prepare the context for (it needs a name
    that is undefined) is answered with the whole page; any other error is raised.
    """
    target = request.headers.get("HX-Target") if is_htmx_partial() else None
    body = None
    if target and target in tuple(blocks):
        try:
            body = render_block(template, target, **context)
        except UndefinedError as missing:
            # The allow-list is per route, but not every page of a route prepares every
            # block (the note form belongs to the Notes tab only): a block this page
            # cannot fill is answered with the whole page, as an unknown target is.
            current_app.logger.info(
                "HX-Target %r cannot be rendered alone by %s (%s): whole page instead",
                target,
                template,
                missing,
            )
    if body is None:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def htmx_done(events: dict, status: int = 204) -> Response:
    """An empty htmx success that fires client events (closeModal, customerCreated …)."""
    response = make_response("", status)
    response.headers["HX-Trigger"] = json.dumps(events)
    response.vary.add("HX-Request")
    return response
