"""New note."""

from __future__ import annotations

from wtforms import TextAreaField
from wtforms.validators import DataRequired

from webapp.forms import Form


class NoteForm(Form):
    """New note: plain text, shown escaped wherever it appears."""

    # The length limit is the service's, on the text with line breaks normalised.
    body = TextAreaField("New note", validators=[DataRequired("Write the note first.")])
