"""How every route answers: ``render_page`` (a full page or the block htmx targets),
``render_form`` (a form page: 422 once submitted) and ``done`` (success: 204 with
HX-Trigger events for htmx, or HX-Redirect to a new page; a flash and a 303 without),
and ``download`` (a file made for this request: a PDF copy)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Protocol

from flask import (
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
)
from jinja2 import UndefinedError, nodes
from jinja2_fragments import BlockNotFoundError
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
            body = _render_block(template, target, context)
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


def _render_block(template_name: str, block: str, context: dict) -> str:
    """``block`` of ``template_name`` rendered alone (jinja2-fragments), also when the
    template inherits it from the template it extends: a form template defines only
    its ``form`` block, the ``modal`` block that wraps it is form_page.html's."""
    env = current_app.jinja_env
    template = env.get_template(template_name)
    if block in template.blocks:
        return render_block(template_name, block, **context)
    current_app.update_template_context(context)
    frame = template.new_context(context)
    ancestor = template
    while block not in ancestor.blocks:
        parent = _extended_template(ancestor.name)
        if parent is None:
            raise BlockNotFoundError(block, template_name)
        ancestor = env.get_template(parent)
        # What {% extends %} does while rendering: the parent's blocks go after the
        # child's, so self.form() in the parent's block is the child's form.
        for name, render in ancestor.blocks.items():
            frame.blocks.setdefault(name, []).append(render)
    try:
        return env.concat(frame.blocks[block][0](frame))
    except Exception:
        env.handle_exception()  # re-raised with the template's lines in the traceback


def _extended_template(template_name: str) -> str | None:
    """The name of the template ``template_name`` extends, or None."""
    env = current_app.jinja_env
    source, _filename, _uptodate = env.loader.get_source(env, template_name)
    extends = env.parse(source).find(nodes.Extends)
    if extends is None or not isinstance(extends.template, nodes.Const):
        return None
    return extends.template.value


def htmx_done(events: dict, status: int = 204) -> Response:
    """An empty htmx success that fires client events (closeModal, customerCreated …)."""
    response = make_response("", status)
    response.headers["HX-Trigger"] = json.dumps(events)
    response.vary.add("HX-Request")
    return response


def render_form(
    template: str,
    form,
    blocks: Iterable[str] = ("modal", "form"),
    status: int | None = None,
    **context,
) -> Response:
    """A form's page (htmx: its ``modal``/``form`` block): 200 first, 422 after a submit.
    ``status`` overrides that (409: someone else saved the row meanwhile)."""
    if status is None:
        status = 422 if form.is_submitted() else 200
    return render_page(template, blocks=blocks, status=status, form=form, **context)


def done(
    events: str | dict,
    to: str,
    message: str | None = None,
    *,
    level: str = "success",
    warnings: Iterable[str] = (),
    close_modal: bool = True,
    open_page: bool = False,
) -> Response:
    """The answer after a change. htmx: 204 with HX-Trigger ``closeModal`` (unless
    ``close_modal`` is False), ``events`` (an event name, fired with ``true``, or a dict
    of events and their values) and ``showMessage`` (the message, with any
    ``warnings`` after it; ``{"text", "level"}`` unless ``level`` is "success"). A
    plain request: the message (then each warning) flashed, and a 303 to ``to``.
    ``open_page``: htmx goes to ``to`` as well (204 with HX-Redirect, a page load), where
    the flashed message and warnings show as they do without JavaScript; ``events``
    are not fired, the page they would refresh is left."""
    warnings = list(warnings)
    if is_htmx_partial() and not open_page:
        triggers: dict = {"closeModal": True} if close_modal else {}
        triggers.update({events: True} if isinstance(events, str) else events)
        if message is not None:
            text = " ".join([message, *warnings])
            triggers["showMessage"] = text if level == "success" else {"text": text, "level": level}
        return htmx_done(triggers)
    if message is not None:
        flash(message, level)
    for warning in warnings:
        flash(warning, "warning")
    if is_htmx_partial():
        return htmx_redirect(to)
    return redirect(to, code=303)


def htmx_redirect(to: str) -> Response:
    """An htmx success that sends the browser to ``to`` (HX-Redirect: a page load, not a
    swap), for when the result is another page. A 204, never a 3xx: htmx would follow a
    redirect itself and swap the page it got into the modal."""
    response = make_response("", 204)
    response.headers["HX-Redirect"] = to
    response.vary.add("HX-Request")
    return response


class Downloadable(Protocol):
    """A file made for the request (``services.document_pdf.Attachment``)."""

    filename: str
    content_type: str
    data: bytes


def download(attachment: Downloadable) -> Response:
    """``attachment`` as a file to save, under its own name; a customer's document, so kept
    by no shared cache, nor by the browser's."""
    response = send_file(
        io.BytesIO(attachment.data),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
        max_age=0,
        etag=False,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
