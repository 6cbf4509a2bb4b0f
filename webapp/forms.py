"""WTForms forms. Field rules call the normalisers in services.reference."""

from __future__ import annotations

import re
import uuid

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from webapp.models.customer import Customer, InvoicingFlow
from webapp.services import reference
from webapp.services.customers import CURRENCY_LOCKED, EDITABLE_FIELDS
from webapp.services.gateways import DEFAULT_GATEWAY, GATEWAYS
from webapp.services.money import AmountError, parse_amount


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired("Enter your email."), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    next = HiddenField()


def _normalised(field, normalise, *args) -> None:
    """Run a normaliser; store its result in the field or raise its message."""
    try:
        field.data = normalise(field.data or "", *args)
    except ValueError as error:
        raise ValidationError(str(error)) from None


INVOICING_FLOW_CHOICES = [
    (InvoicingFlow.AUTOMATIC.value, "Automatic: invoices are sent as they are created"),
    (InvoicingFlow.MANUAL.value, "Manual: invoices wait for staff to send them"),
]


# Every editable customer field but the three that are not plain text.
TEXT_FIELDS = tuple(
    name
    for name in EDITABLE_FIELDS
    if name not in ("tax_class_id", "legal_entity_id", "payment_terms_days", "auto_pay")
)


class CustomerForm(FlaskForm):
    """Add customer / Edit customer."""

    name = StringField(
        "Name",
        validators=[DataRequired("Enter the customer's name."), Length(max=200)],
        description="A person or an organisation.",
    )
    company = StringField("Company", validators=[Length(max=200)])
    first_name = StringField("Contact first name", validators=[Length(max=100)])
    last_name = StringField("Contact last name", validators=[Length(max=100)])
    email = EmailField(
        "Email", validators=[DataRequired("Enter the customer's email address."), Length(max=254)]
    )
    phone = StringField("Phone", validators=[Length(max=40)])
    mobile = StringField("Mobile", validators=[Length(max=40)])
    fax = StringField("Fax", validators=[Length(max=40)])
    position = StringField("Position", validators=[Length(max=100)])
    website = StringField("Website", validators=[Length(max=300)])
    country = SelectField(
        "Country", validators=[DataRequired("Choose a country.")], validate_choice=False
    )
    currency = SelectField(
        "Billing currency",
        validate_choice=False,
        description="Follows the country until you pick one.",
    )
    currency_chosen = HiddenField()
    address_line1 = StringField("Address line 1", validators=[Length(max=200)])
    address_line2 = StringField("Address line 2", validators=[Length(max=200)])
    city = StringField("City", validators=[Length(max=100)])
    region = StringField("State / region", validators=[Length(max=100)])
    postal_code = StringField("Postal code", validators=[Length(max=20)])
    tax_id = StringField("Tax ID / VAT number", validators=[Length(max=50)])
    tax_rate = StringField("Tax rate (%)", default="0.00")
    payment_terms_days = StringField(
        "Payment terms (Net N days)", default="30", description="Days until an invoice is due."
    )
    invoicing_flow = SelectField(
        "Invoicing flow", choices=INVOICING_FLOW_CHOICES, default=InvoicingFlow.AUTOMATIC.value
    )
    auto_pay = BooleanField("Auto pay")
    payment_gateway = SelectField(
        "Payment gateway",
        choices=[(g.code, g.name) for g in GATEWAYS.values()],
        default=DEFAULT_GATEWAY,
    )
    footnotes = TextAreaField(
        "Footnotes", validators=[Length(max=2000)], description="Printed at the bottom of invoices."
    )

    # Set by the edit route when money has moved: the currency may no longer change.
    locked_currency: str | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [("", "Choose a country…"), *reference.countries()]
        self.currency.choices = [
            ("", "Same as the country"),
            *[(code, f"{code} — {name}") for code, name in reference.currencies()],
        ]

    # -- field rules -------------------------------------------------------
    def validate_email(self, field):
        _normalised(field, reference.normalise_email)

    def validate_country(self, field):
        if field.data not in reference.country_codes():
            raise ValidationError("Choose a country from the list.")

    def validate_currency(self, field):
        if self.locked_currency:
            if (field.data or "").upper() not in ("", self.locked_currency):
                raise ValidationError(CURRENCY_LOCKED)
            field.data = self.locked_currency
            return
        field.data = (field.data or "").upper()
        if not field.data:
            field.data = reference.currency_for_country(self.country.data) or ""
            if not field.data and self.country.data:
                raise ValidationError(
                    "This country has no currency of its own: choose the billing currency."
                )
        elif field.data not in reference.currency_codes():
            raise ValidationError("Choose a currency from the list.")

    def validate_phone(self, field):
        _normalised(field, reference.normalise_phone, self.country.data)

    def validate_mobile(self, field):
        _normalised(field, reference.normalise_phone, self.country.data)

    def validate_fax(self, field):
        _normalised(field, reference.normalise_phone, self.country.data)

    def validate_website(self, field):
        _normalised(field, reference.normalise_website)

    def validate_tax_id(self, field):
        _normalised(field, reference.normalise_tax_id, self.country.data)

    def validate_tax_rate(self, field):
        try:
            self.tax_rate_bp = reference.parse_tax_rate(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def validate_payment_terms_days(self, field):
        text = str(field.data if field.data is not None else "").strip()
        if not re.fullmatch(r"[0-9]{1,3}", text) or not 0 <= int(text) <= 365:
            raise ValidationError("Payment terms are a whole number of days from 0 to 365.")

    # -- conversion ----------------------------------------------------------
    def customer_fields(self) -> dict:
        """The validated values, ready for services.customers."""
        fields = {name: (getattr(self, name).data or "").strip() for name in TEXT_FIELDS}
        fields["tax_rate_bp"] = self.tax_rate_bp
        fields["payment_terms_days"] = int(str(self.payment_terms_days.data).strip())
        fields["auto_pay"] = bool(self.auto_pay.data)
        return fields

    @classmethod
    def for_customer(cls, customer: Customer) -> CustomerForm:
        """The edit form, filled in with what people read (phones formatted nicely)."""
        form = cls(obj=customer)
        if not form.is_submitted():
            for name in ("phone", "mobile", "fax"):
                getattr(form, name).data = reference.display_phone(getattr(customer, name))
            form.tax_rate.data = customer.tax_rate_percent
            form.payment_terms_days.data = str(customer.payment_terms_days)
            form.currency_chosen.data = "1"
        return form


class StatusForm(FlaskForm):
    """Confirmation of a status change; the target status travels as a hidden field."""

    status = HiddenField()


def _new_key() -> str:
    return uuid.uuid4().hex


class _MoneyForm(FlaskForm):
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


class ConfirmForm(FlaskForm):
    """A server-side confirmation for an action with no other fields."""


class NoteForm(FlaskForm):
    """New note: plain text, shown escaped wherever it appears."""

    # The length limit is the service's, on the text with line breaks normalised.
    body = TextAreaField("New note", validators=[DataRequired("Write the note first.")])


class RecordForm(FlaskForm):
    """The form of a record kept on a customer (see blueprints.records). Built with the
    customer (phone numbers, countries and currencies default to theirs) and, when
    editing, the record, whose values fill it in."""

    # Legend -> field names shown together in a <fieldset>, after the other fields.
    fieldsets: dict[str, tuple[str, ...]] = {}

    def __init__(self, *args, customer: Customer, record=None, **kwargs):
        self.customer = customer
        super().__init__(*args, obj=record, **kwargs)
        if record is not None and not self.is_submitted():
            self.show(record)

    def show(self, record) -> None:
        """Hook: turn stored values into what people read (e.g. formatted phones)."""

    def record_fields(self) -> dict:
        """The validated values, ready for the kind's service."""
        fields = {}
        for name, field in self._fields.items():
            if name == "csrf_token":
                continue
            if isinstance(field, StringField):  # text, email, textarea: never None
                fields[name] = (field.data or "").strip()
            else:
                fields[name] = field.data
        return fields


class ContactForm(RecordForm):
    """+ New contact / Edit contact."""

    name = StringField(
        "Name", validators=[DataRequired("Enter the contact's name."), Length(max=200)]
    )
    email = EmailField("Email", validators=[Length(max=254)])
    phone = StringField("Phone", validators=[Length(max=40)])
    position = StringField("Position", validators=[Length(max=100)])
    is_primary = BooleanField(
        "Primary contact", description="The person to ask first; a customer has one."
    )
    wants_billing = BooleanField("Billing", description="Gets invoices and credit notes.")
    wants_updates = BooleanField("Updates")
    wants_legal = BooleanField("Legal")
    fieldsets = {"Email preferences": ("wants_billing", "wants_updates", "wants_legal")}

    def validate_email(self, field):
        if (field.data or "").strip():
            _normalised(field, reference.normalise_email)
        else:
            field.data = ""

    def validate_phone(self, field):
        _normalised(field, reference.normalise_phone, self.customer.country)

    def show(self, record) -> None:
        self.phone.data = reference.display_phone(record.phone)
