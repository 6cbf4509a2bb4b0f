"""Compressed answers: Flask-Compress, also for the 4xx pages and fragments.

Flask-Compress compresses 2xx answers only. Tally's 4xx answers carry real pages:
a form sent back with its messages (422, or 409 when someone else saved first) holds
the whole form, country and currency lists included (about 26 KB for Add customer,
7 KB compressed), and is sent again at every invalid submit. They are compressed too;
the status is the answer's own. 5xx answers and redirects are left alone.
"""

from __future__ import annotations

import flask_compress
from flask import Flask, Response


class Compress(flask_compress.Compress):
    def after_request(self, response: Response) -> Response:
        status = response.status_code
        if not 400 <= status < 500:
            return super().after_request(response)
        # Flask-Compress looks at the status only to leave non-2xx answers alone.
        response.status_code = 200
        try:
            return super().after_request(response)
        finally:
            response.status_code = status


def init_app(app: Flask) -> Compress:
    """One per app: Flask-Compress keeps the settings of the app it was set up with."""
    return Compress(app)
