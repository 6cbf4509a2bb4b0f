"""Add entry, Capture one time charge, and the draft invoice form (New invoice, Edit draft)."""

from __future__ import annotations

import re
import uuid

from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from webapp.blueprints.records.forms import PlainDateField
from webapp.forms import Form
from webapp.services import drafts, reference
from webapp.services.money import AmountError, format_plain, parse_amount


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


class DraftLineForm(Form):
    """One line of a draft invoice, as typed; services.drafts reads and checks it."""

    class Meta:
        csrf = False  # a part of DraftForm, whose token covers it

    description = StringField("Description")
    quantity = StringField("Quantity")
    unit_price = StringField("Unit price")


def _add_error(field, message: str) -> None:
    field.errors = [*field.errors, message]


class DraftForm(Form):
    """New invoice and Edit draft: currency, dates and any number of lines.

    Besides saving, the form is sent by "Add line" (``line_action=add``) and each line's
    "Remove" (``line_action=remove:<row name>``): the page comes back with a row more or
    less and nothing is saved, so lines are added and removed with JavaScript off too."""

    currency = SelectField("Currency", validate_choice=False)
    due_date = PlainDateField(
        "Due date",
        validators=[Optional()],
        description="Empty: the payment terms, counted from the day it is finalized.",
    )
    supply_date = PlainDateField(
        "Supply date",
        validators=[Optional()],
        description="When the goods or services were supplied. Empty: the issue date.",
    )
    lines = FieldList(
        FormField(DraftLineForm), "Line", min_entries=1, max_entries=drafts.LINES_MAX + 1
    )
    key = HiddenField(default=_new_key)
    opened_version = HiddenField()

    def __init__(self, *args, billing_currency: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency.choices = [
            (code, f"{code} — {name}") for code, name in reference.currencies()
        ]
        if not self.is_submitted() and billing_currency and not self.currency.data:
            self.currency.data = billing_currency
        self.draft_lines: list[drafts.DraftLine] = []

    @classmethod
    def of_draft(cls, invoice) -> DraftForm:
        """The edit form of a draft, as saved."""
        form = cls(formdata=None)
        form.currency.data = invoice.currency
        form.due_date.data = invoice.due_date
        form.supply_date.data = invoice.supply_date
        form.opened_version.data = str(invoice.version)
        while form.lines.entries:
            form.lines.pop_entry()
        for line in invoice.lines:
            form.lines.append_entry(
                {
                    "description": line.description,
                    "quantity": str(line.quantity),
                    "unit_price": format_plain(line.unit_price_minor, invoice.currency),
                }
            )
        if not form.lines.entries:
            form.lines.append_entry()
        return form

    def rows(self) -> list[dict[str, str]]:
        """The lines as typed, blank rows included."""
        return [
            {name: entry.form[name].data or "" for name in drafts.LINE_FIELDS}
            for entry in self.lines.entries
        ]

    def apply_line_action(self, action: str) -> str | None:
        """Add an empty row (``add``) or remove one (``remove:lines-1``); returns the id of the
        element to focus next: the new row's description, or Add line after a removal."""
        if action == "add":
            if len(self.lines.entries) > drafts.LINES_MAX:
                return "add_line"
            return self.lines.append_entry().form.description.id
        name = action.removeprefix("remove:")
        self.lines.entries = [entry for entry in self.lines.entries if entry.name != name]
        if not self.lines.entries:
            self.lines.append_entry()
        return "add_line"

    def validate_currency(self, field):
        if field.data not in reference.currency_codes():
            raise ValidationError("Choose a currency from the list.")

    def validate_key(self, field):
        if not re.fullmatch(r"[0-9a-f]{32}", field.data or ""):
            raise ValidationError("This form is out of date; reload it and try again.")

    def validate_opened_version(self, field):
        if field.data and not field.data.isdigit():
            raise ValidationError("This form is out of date; reload it and try again.")

    def validate(self, extra_validators=None) -> bool:
        """The fields' own checks, then the lines as services.drafts reads them, each
        problem beside its field."""
        valid = super().validate(extra_validators)
        if self.currency.errors:
            return False
        try:
            self.draft_lines = drafts.read_lines(self.rows(), self.currency.data)
        except drafts.DraftLinesError as refusal:
            self._put_line_problems(refusal.problems, self.lines.entries)
            return False
        if valid and not self.draft_lines:
            _add_error(self.lines.entries[0].form.description, drafts.NO_LINES)
            return False
        return valid

    def _put_line_problems(self, problems, entries) -> None:
        for (index, name), message in problems.items():
            if index < len(entries):
                _add_error(entries[index].form[name], message)

    def put_refusal(self, refusal: drafts.DraftError) -> None:
        """A service refusal beside the field it names (the lines as a whole: the first
        line's description), else above the form."""
        if isinstance(refusal, drafts.DraftLinesError):
            # Counted among the lines the service got: the rows that are not blank.
            filled = [
                entry
                for entry, row in zip(self.lines.entries, self.rows(), strict=True)
                if not drafts.is_blank(row)
            ]
            self._put_line_problems(refusal.problems, filled)
            return
        fields = {
            "currency": self.currency,
            "due_date": self.due_date,
            "lines": self.lines.entries[0].form.description,
        }
        field = fields.get(refusal.field or "")
        if field is None:
            self.form_errors.append(str(refusal))
        else:
            _add_error(field, str(refusal))

    def values(self) -> dict:
        """What services.drafts takes: currency, lines, due date and supply date."""
        return {
            "currency": self.currency.data,
            "lines": self.draft_lines,
            "due_date": self.due_date.data,
            "supply_date": self.supply_date.data,
        }
