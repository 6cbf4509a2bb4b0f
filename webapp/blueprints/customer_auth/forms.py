"""Customer sign-in, Forgot password, set a password (invite/reset) and change it."""

from __future__ import annotations

from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from webapp.forms import Form
from webapp.services.staff import MIN_PASSWORD_LENGTH

PASSWORD_HINT = f"At least {MIN_PASSWORD_LENGTH} characters."


class CustomerSignInForm(Form):
    email = EmailField("Email", validators=[InputRequired("Enter your email."), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    next = HiddenField()


class ForgotPasswordForm(Form):
    email = EmailField("Email", validators=[InputRequired("Enter your email."), Length(max=254)])


class SetPasswordForm(Form):
    """A new password through an invite or reset link; the rules are the service's."""

    password = PasswordField(
        "New password",
        validators=[InputRequired("Enter a new password.")],
        description=PASSWORD_HINT,
    )
    confirm_password = PasswordField(
        "New password again",
        validators=[
            InputRequired("Enter the new password again."),
            EqualTo("password", "The two passwords are not the same."),
        ],
    )


class CustomerPasswordForm(Form):
    current_password = PasswordField(
        "Current password", validators=[InputRequired("Enter your current password.")]
    )
    new_password = PasswordField(
        "New password",
        validators=[InputRequired("Enter a new password.")],
        description=PASSWORD_HINT,
    )
    confirm_password = PasswordField(
        "New password again",
        validators=[
            InputRequired("Enter the new password again."),
            EqualTo("new_password", "The two new passwords are not the same."),
        ],
    )
