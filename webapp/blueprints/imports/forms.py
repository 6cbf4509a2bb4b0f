"""Customers → Import: the upload, and the column mapping with the match rule."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import RadioField, SelectField
from wtforms.validators import ValidationError

from webapp.forms import Form
from webapp.services.imports import FIELDS, MATCH_CHOICES, SKIP_LABEL


class UploadForm(Form):
    """Choose a CSV file."""

    file = FileField(
        "CSV file",
        description="UTF-8, with a header row; commas or semicolons. Tally's own export, "
        "Stripe's and Chargebee's customer exports are recognised.",
    )

    def validate_file(self, field):
        if not field.data or not getattr(field.data, "filename", ""):
            raise ValidationError("Choose a CSV file to upload.")


def mapping_form(headers: list[str], mapping: list[str], match_by: str, formdata=None) -> Form:
    """A form with one "Import as" select per column of the file and the match rule."""
    choices = [("", SKIP_LABEL), *FIELDS.items()]

    class MappingForm(Form):
        match_by = RadioField(
            "Match rows to existing customers by", choices=list(MATCH_CHOICES.items())
        )

    for index, header in enumerate(headers):
        setattr(
            MappingForm,
            f"column_{index}",
            SelectField(f"Column {index + 1}: {header or '(no heading)'}", choices=choices),
        )
    data = {f"column_{index}": field for index, field in enumerate(mapping)}
    form = MappingForm(formdata=formdata, data={**data, "match_by": match_by})
    form.column_names = [f"column_{index}" for index in range(len(headers))]
    return form
