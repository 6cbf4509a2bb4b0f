"""The confirmation of a bulk action: the tag or the new status it asks for."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField

from webapp.forms import Form
from webapp.models.customer import CustomerStatus


class BulkForm(Form):
    """A bulk action's confirmation; which customers travel beside it (``ids`` or ``all``
    with the list's view), the rules are services.bulk's."""

    action = HiddenField()
    tag_name = StringField("Tag")
    new_status = SelectField(
        "New status",
        choices=[("", "Choose a status"), *((s.value, s.label) for s in CustomerStatus)],
        validate_choice=False,  # services.bulk says what is wrong, beside the field
    )
