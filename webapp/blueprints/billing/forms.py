"""Add entry and Capture one time charge."""

from __future__ import annotations

import re
import uuid

from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from webapp.forms import Form
from webapp.services import reference
from webapp.services.money import AmountError, parse_amount


def _new_key() -> str:
    return uuid.uuid4().hex


class _MoneyForm(Form):
    """Amount + currency + description, with a one-time key against double posts."""

    amount = StringField("Amount")
    currency = SelectField("Currency", validate_choice=False)
    description = StringField(
        "Description",
        validators=[
            DataRequired("Enter a description: it is what the customer sees."),
            Length(max=500),
        ],
        description="What the customer sees on their statement.",
    )
    key = HiddenField(default=_new_key)
    repeat = BooleanField("Record it again")
    allow_negative = True

    def __init__(self, *args, billing_currency: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency.choices = [
            (code, f"{code} — {name}") for code, name in reference.currencies()
        ]
        if not self.is_submitted() and billing_currency:
            self.currency.data = billing_currency
        self.amount_minor = 0

    def validate_currency(self, field):
        if field.data not in reference.currency_codes():
            raise ValidationError("Choose a currency from the list.")

    def validate_amount(self, field):
        if self.currency.data not in reference.currency_codes():
            return  # the currency's own message says what to fix
        try:
            self.amount_minor = parse_amount(field.data, self.currency.data, self.allow_negative)
        except AmountError as error:
            raise ValidationError(str(error)) from None

    def validate_key(self, field):
        if not re.fullmatch(r"[0-9a-f]{32}", field.data or ""):
            raise ValidationError("This form is out of date; reload it and try again.")


class EntryForm(_MoneyForm):
    """Add entry: a Charge (owed by the customer) or a Credit (in their favour)."""

    kind = RadioField(
        "Type",
        choices=[("charge", "Charge"), ("credit", "Credit")],
        default="charge",
    )
    payment_method = StringField(
        "Payment method", validators=[Length(max=50)], description="For credits, optional."
    )
    reference = StringField("Reference", validators=[Length(max=100)])
    allow_negative = False


class OneTimeChargeForm(_MoneyForm):
    """Capture one time charge: positive invoices, negative credits."""

    amount = StringField(
        "Amount",
        description="A negative amount (e.g. -25) adds a credit and a credit note.",
    )
