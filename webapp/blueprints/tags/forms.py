"""Add tag."""

from __future__ import annotations

from wtforms import StringField

from webapp.forms import Form


class TagForm(Form):
    """Add tag on the customer page; the name rules are services.tags'."""

    tag = StringField("New tag")
