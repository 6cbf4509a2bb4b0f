"""The base of every form (a NUL refused beside its field), the edit-version base,
the bare confirmation and shared field helpers (PlainDateField). Each feature's forms are in its
blueprint package: webapp/blueprints/<feature>/forms.py."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField
from wtforms.validators import StopValidation, ValidationError

from webapp.services import reference


def _storable(form, field) -> None:
    """Stop a field's other rules (a normaliser could choke on it, a service would write
    it) when what was sent holds a character the database cannot store."""
    if any(
        isinstance(value, str) and reference.has_unstorable_character(value)
        for value in field.raw_data or ()
    ):
        raise StopValidation(reference.UNSTORABLE_IN_FIELD)


class Form(FlaskForm):
    """Base form: a NUL in any field is refused beside it before its rules (422, no write)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self:
            if field.type != "CSRFTokenField":
                field.validators = [_storable, *field.validators]


def normalised(field, normalise, *args) -> None:
    """Run a normaliser; store its result in the field or raise its message."""
    try:
        field.data = normalise(field.data or "", *args)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class EditVersionForm(Form):
    """An edit form carrying the version and values it opened at (services.versions)."""

    opened_version = HiddenField()
    seen = HiddenField()

    # Not values of the row: left out of what a form hands to its service.
    VERSION_FIELDS = ("opened_version", "seen")


class ConfirmForm(Form):
    """A server-side confirmation for an action with no other fields."""


class PlainDateField(DateField):
    """A date typed as 2025-03-14 (as ``<input type="date">`` sends it); else a clear message."""

    def process_formdata(self, valuelist):
        if valuelist and not " ".join(valuelist).strip():
            self.data = None  # left empty: InputRequired says so
            return
        try:
            super().process_formdata([" ".join(valuelist).strip()] if valuelist else valuelist)
        except ValueError:
            raise ValueError("Enter a real date, like 2025-03-14.") from None
