"""Account access (staff): set a customer's password; the other actions are confirmations."""

from __future__ import annotations

from wtforms import PasswordField
from wtforms.validators import InputRequired, ValidationError

from webapp.forms import Form
from webapp.services.staff import MIN_PASSWORD_LENGTH

PASSWORD_HINT = (
    f"At least {MIN_PASSWORD_LENGTH} characters. The customer must choose their own "
    "at first sign-in."
)


class StaffSetsPasswordForm(Form):
    """A password staff set for the customer; the rules are the service's (staff rules)."""

    password = PasswordField(
        "Password for the customer",
        validators=[InputRequired("Enter a password.")],
        description=PASSWORD_HINT,
    )
    confirm_password = PasswordField(
        "Password again", validators=[InputRequired("Enter the password again.")]
    )

    def validate_confirm_password(self, field):
        # One mistake at a time: a refused password is not also "not the same".
        if not self.password.errors and field.data != self.password.data:
            raise ValidationError("The two passwords are not the same.")
