"""Static files under fingerprinted names, cached for a year and compressed once.

``url_for("static", filename="app.css")`` builds ``/static/app.<fingerprint>.css``, the
fingerprint being the start of the SHA-256 of the file's content. That URL is served
with ``Cache-Control: public, max-age=31536000, immutable``: a browser fetches each
version of a file once, and a changed file gets a new name, so it is never stale. The
plain name (``/static/app.css``) still answers, with Flask's short lifetime for static
files (``SEND_FILE_MAX_AGE_DEFAULT``; unset, the browser revalidates every use), and so
does a fingerprint of an older version (a page rendered before a deploy), with the
current content and that same short lifetime.

Each file is read and hashed once per process, when a URL to it is first built or it
is first asked for. A text file (a type Flask-Compress compresses, at least
``COMPRESS_MIN_SIZE`` long) is compressed once per encoding, at the best level (brotli
11, gzip 9), when a client first accepts that encoding, and the bytes are kept: each
response picks brotli or gzip from ``Accept-Encoding`` (identity without one). The
response then carries ``Content-Encoding``, which Flask-Compress leaves alone. In
debug mode a file changed on disk is read again (and so gets its new name). Static
answers vary on ``Accept-Encoding`` only, not on the cookie (``SessionInterface``).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass, field

import brotli
from flask import Flask, Response, abort, current_app, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import safe_join

FINGERPRINT_LENGTH = 12
IMMUTABLE = "public, max-age=31536000, immutable"
# Best first: the one a client that accepts both gets.
ENCODINGS = ("br", "gzip")
# "htmx-2.0.11.min.3f2a9c1b0e4d.js" -> stem "htmx-2.0.11.min", fingerprint, suffix ".js"
_FINGERPRINTED = re.compile(
    rf"^(?P<stem>.+)\.(?P<fingerprint>[0-9a-f]{{{FINGERPRINT_LENGTH}}})(?P<suffix>\.[^.]+)?$"
)


def fingerprint(content: bytes) -> str:
    """The fingerprint of a file's content: the first hex digits of its SHA-256."""
    return hashlib.sha256(content).hexdigest()[:FINGERPRINT_LENGTH]


def fingerprinted_name(filename: str, print_: str) -> str:
    """``vendor/pico.min.css`` -> ``vendor/pico.min.<print_>.css`` (before the last
    suffix of the file's own name; at the end when it has none)."""
    folder, slash, name = filename.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    name = f"{stem}.{print_}.{suffix}" if dot and stem else f"{name}.{print_}"
    return f"{folder}{slash}{name}"


def split_fingerprint(filename: str) -> tuple[str, str] | None:
    """``(plain name, fingerprint)`` of a fingerprinted name, None for any other name."""
    folder, slash, name = filename.rpartition("/")
    match = _FINGERPRINTED.match(name)
    if match is None:
        return None
    plain = match["stem"] + (match["suffix"] or "")
    return f"{folder}{slash}{plain}", match["fingerprint"]


def _compress(content: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return brotli.compress(content, quality=11)
    return gzip.compress(content, compresslevel=9, mtime=0)


@dataclass
class StaticFile:
    """One file as read from disk, with its compressed forms as they are made."""

    content: bytes
    fingerprint: str
    mimetype: str
    modified: float  # seconds since the epoch
    stamp: tuple[int, int]  # (mtime in ns, size): read again in debug mode when it changes
    compressible: bool
    encoded: dict[str, bytes] = field(default_factory=dict)

    def body(self, encoding: str | None) -> bytes:
        if encoding is None:
            return self.content
        if encoding not in self.encoded:
            self.encoded[encoding] = _compress(self.content, encoding)
        return self.encoded[encoding]


class StaticFiles:
    """The files of one static folder, read once per process (again in ``reload`` mode
    when one changes on disk)."""

    def __init__(
        self,
        folder: str,
        compress_mimetypes: frozenset[str] = frozenset(),
        min_size: int = 500,
        reload: bool = False,
    ) -> None:
        self.folder = folder
        self.compress_mimetypes = compress_mimetypes
        self.min_size = min_size
        self.reload = reload
        self._files: dict[str, StaticFile] = {}

    def get(self, filename: str) -> StaticFile | None:
        """The file, or None when there is no such file in the folder."""
        known = self._files.get(filename)
        if known is not None and not self.reload:
            return known
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if known is not None and known.stamp == (stat.st_mtime_ns, stat.st_size):
            return known
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as handle:
            content = handle.read()
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self._files[filename] = loaded = StaticFile(
            content=content,
            fingerprint=fingerprint(content),
            mimetype=mimetype,
            modified=stat.st_mtime,
            stamp=(stat.st_mtime_ns, stat.st_size),
            compressible=mimetype in self.compress_mimetypes and len(content) >= self.min_size,
        )
        return loaded

    def url_name(self, filename: str) -> str:
        """The name to link to: fingerprinted, or as given for a file that is not there."""
        found = self.get(filename)
        return filename if found is None else fingerprinted_name(filename, found.fingerprint)


def _files() -> StaticFiles:
    return current_app.extensions["tally_static_files"]


def serve_static(filename: str) -> Response:
    """The ``static`` endpoint: the file under its plain or fingerprinted name."""
    files = _files()
    found = files.get(filename)
    immutable = False
    if found is None:
        split = split_fingerprint(filename)
        if split is None:
            abort(404)
        filename, asked_for = split
        found = files.get(filename)
        if found is None:
            abort(404)
        immutable = asked_for == found.fingerprint
    encoding = request.accept_encodings.best_match(ENCODINGS) if found.compressible else None
    response = Response(found.body(encoding), mimetype=found.mimetype)
    if encoding is not None:
        response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    response.set_etag(found.fingerprint if encoding is None else f"{found.fingerprint}-{encoding}")
    response.last_modified = found.modified
    if immutable:
        response.headers["Cache-Control"] = IMMUTABLE
    else:
        max_age = current_app.get_send_file_max_age(filename)
        if max_age is None:
            response.cache_control.no_cache = True
        else:
            response.cache_control.public = True
            response.cache_control.max_age = max_age
    return response.make_conditional(request)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, less ``Vary: Cookie`` on static files.

    Flask adds ``Vary: Cookie`` to every answer whose request looked at the session,
    and Flask-Login looks at it on every request. A static file is the same whatever
    the cookie, and Chromium asks again (If-None-Match) for a cached answer whose
    ``Vary`` headers differ from the request's: after each sign-in (a new cookie) it
    would revalidate every "immutable" file."""

    def save_session(self, app: Flask, session, response: Response) -> None:
        super().save_session(app, session, response)
        if request.endpoint == "static" and response.status_code in (200, 304):
            response.vary.discard("cookie")  # lower case: HeaderSet.remove matches it so


def init_app(app: Flask) -> None:
    """Serve the static folder through ``serve_static`` and fingerprint its URLs."""
    if app.static_folder is None:
        return
    app.extensions["tally_static_files"] = files = StaticFiles(
        app.static_folder,
        compress_mimetypes=frozenset(app.config["COMPRESS_MIMETYPES"]),
        min_size=app.config["COMPRESS_MIN_SIZE"],
        reload=app.debug,
    )
    app.view_functions["static"] = serve_static
    app.session_interface = SessionInterface()

    @app.url_defaults
    def fingerprint_static_urls(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = files.url_name(values["filename"])
