"""The one form of the customer area: a contact's email preferences."""

from __future__ import annotations

from wtforms import BooleanField
from wtforms.validators import ValidationError

from webapp.forms import Form

# What a checked box sends (``y``, as BooleanField renders it) and what browsers and
# scripts commonly send for "on"; anything else is refused rather than read as yes.
CHECKED_VALUES = frozenset({"y", "on", "true", "1"})
NOT_A_CHOICE = "Tick the box to receive these emails, or leave it empty."


def _on_or_off(form, field) -> None:
    """A box is ticked (one of ``CHECKED_VALUES``) or absent; any other value is refused."""
    if any(value.lower() not in CHECKED_VALUES for value in field.raw_data or ()):
        raise ValidationError(NOT_A_CHOICE)


class EmailPreferencesForm(Form):
    """Which emails a contact receives. One form per contact on the page, each with its own
    ``prefix`` (``contact-<id>``) so the ids of its fields are unique. Its CSRF token is the
    page's plain ``csrf_token`` field, checked by CSRFProtect before any route runs (a
    prefixed token field would be named ``contact-<id>-csrf_token``)."""

    class Meta:
        csrf = False

    wants_billing = BooleanField(
        "Billing", validators=[_on_or_off], description="Invoices, credit notes and statements."
    )
    wants_updates = BooleanField(
        "Updates", validators=[_on_or_off], description="News about the service."
    )
    wants_legal = BooleanField(
        "Legal", validators=[_on_or_off], description="Changes to terms and policies."
    )

    PREFERENCES = ("wants_billing", "wants_updates", "wants_legal")

    def wanted(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name).data) for name in self.PREFERENCES}
