"""Create API key."""

from __future__ import annotations

from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length

from webapp.forms import Form
from webapp.models.api_keys import ApiScope
from webapp.services.api_keys import NAME_MAX


class ApiKeyForm(Form):
    """Create API key: a name saying which program uses it, and what it may do."""

    name = StringField(
        "Name",
        validators=[
            DataRequired("Enter a name that says which program uses the key."),
            Length(max=NAME_MAX, message=f"A key's name is at most {NAME_MAX} characters."),
        ],
        description="Which program uses it, e.g. Shop sync. History names it as the one who acted.",
    )
    scope = RadioField(
        "Access",
        choices=[
            (ApiScope.READ, "Read: list and read customers, entries and documents"),
            (ApiScope.READ_WRITE, "Read and write: also create, change and archive"),
        ],
        default=ApiScope.READ,
    )
