"""WTForms forms. Field rules call the normalisers in services.reference."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from webapp.models.customer import Customer, InvoicingFlow
from webapp.services import reference
from webapp.services.customers import EDITABLE_FIELDS


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired("Enter your email.")])
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
    if name not in ("tax_rate_bp", "payment_terms_days", "auto_pay")
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
    footnotes = TextAreaField(
        "Footnotes", validators=[Length(max=2000)], description="Printed at the bottom of invoices."
    )

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
        if not text.isdigit() or not 0 <= int(text) <= 365:
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
