"""Add staff and Change role."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from webapp.forms import Form, normalised
from webapp.services import reference
from webapp.services.staff import MIN_PASSWORD_LENGTH, ROLE_LABELS


class StaffForm(Form):
    """Add staff; services.staff checks the rest (password length, duplicate email) by the field."""

    name = StringField(
        "Name", validators=[DataRequired("Enter the person's name."), Length(max=200)]
    )
    email = EmailField(
        "Email",
        validators=[DataRequired("Enter the email they sign in with."), Length(max=254)],
        description="They sign in with it.",
    )
    role = RadioField(
        "Role",
        choices=list(ROLE_LABELS.items()),
        default="agent",
        validate_choice=False,  # the service says what to choose instead
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter a first password.")],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. Pass it on to them safely.",
    )

    def validate_email(self, field):
        normalised(field, reference.normalise_email)


class StaffRoleForm(Form):
    """Change on a staff member's row: the new role (the service checks it)."""

    role = SelectField("Role", choices=list(ROLE_LABELS.items()), validate_choice=False)
