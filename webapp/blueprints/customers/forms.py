"""Add customer / Edit customer, and the status confirmation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict
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
from wtforms.validators import DataRequired, Length, ValidationError

from webapp.extensions import db
from webapp.forms import EditVersionForm, Form, normalised
from webapp.models.customer import Customer, InvoicingFlow
from webapp.services import customer_accounts, reference, settings
from webapp.services.customers import CURRENCY_LOCKED, EDITABLE_FIELDS
from webapp.services.gateways import DEFAULT_GATEWAY, GATEWAYS
from webapp.services.staff import MIN_PASSWORD_LENGTH, password_refusal

INVOICING_FLOW_CHOICES = [
    (InvoicingFlow.AUTOMATIC.value, "Automatic: invoices are issued and emailed at once"),
    (InvoicingFlow.MANUAL.value, "Manual: draft invoices, issued when staff finalize them"),
]


# Every editable customer field but the three that are not plain text.
TEXT_FIELDS = tuple(
    name
    for name in EDITABLE_FIELDS
    if name not in ("tax_class_id", "legal_entity_id", "payment_terms_days", "auto_pay")
)


def _optional_id(value) -> int | None:
    """An id from a select; anything but a plain number is None, so its field says
    "Choose … from the list" instead of a coercion error."""
    if isinstance(value, int):
        return value
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


class CustomerForm(EditVersionForm):
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
    tax_class_id = SelectField(
        "Tax class",
        coerce=_optional_id,
        validate_choice=False,
        description="Sets the customer's tax rate; classes are kept under Settings.",
    )
    legal_entity_id = SelectField(
        "Legal entity",
        coerce=_optional_id,
        validate_choice=False,
        description="The seller on this customer's invoices.",
    )
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
        "Footnotes",
        validators=[Length(max=2000)],
        description="Internal: shown on the Profile, never printed on invoices.",
    )

    # Set by the edit route when money has moved: the currency may no longer change.
    locked_currency: str | None = None

    def __init__(self, *args, customer_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [("", "Choose a country…"), *reference.countries()]
        self.currency.choices = [
            ("", "Same as the country"),
            *[(code, f"{code} — {name}") for code, name in reference.currencies()],
        ]
        # A caller checking many customers (CSV import) reads the choices once.
        classes, entities = customer_choices or settings.customer_choices(db.session)
        self.tax_class_id.choices = [(tax_class.id, tax_class.label) for tax_class in classes]
        self.legal_entity_id.choices = [(entity.id, entity.name) for entity in entities]
        # A new customer starts in the lowest-rate class, billed by the oldest entity.
        if self.tax_class_id.data is None and not self.is_submitted():
            self.tax_class_id.data = classes[0].id
        if self.legal_entity_id.data is None and not self.is_submitted():
            self.legal_entity_id.data = min(entity.id for entity in entities)

    # -- field rules -------------------------------------------------------
    def validate_email(self, field):
        normalised(field, reference.normalise_email)

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
        normalised(field, reference.normalise_phone, self.country.data)

    def validate_mobile(self, field):
        normalised(field, reference.normalise_phone, self.country.data)

    def validate_fax(self, field):
        normalised(field, reference.normalise_phone, self.country.data)

    def validate_website(self, field):
        normalised(field, reference.normalise_website)

    def validate_tax_id(self, field):
        normalised(field, reference.normalise_tax_id, self.country.data)

    def validate_tax_class_id(self, field):
        if field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Choose a tax class from the list.")

    def validate_legal_entity_id(self, field):
        if field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Choose a legal entity from the list.")

    def validate_payment_terms_days(self, field):
        text = str(field.data if field.data is not None else "").strip()
        if not re.fullmatch(r"[0-9]{1,3}", text) or not 0 <= int(text) <= 365:
            raise ValidationError("Payment terms are a whole number of days from 0 to 365.")

    # -- conversion ----------------------------------------------------------
    def customer_fields(self) -> dict:
        """The validated values, ready for services.customers."""
        fields = {name: (getattr(self, name).data or "").strip() for name in TEXT_FIELDS}
        fields["tax_class_id"] = self.tax_class_id.data
        fields["legal_entity_id"] = self.legal_entity_id.data
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
            form.payment_terms_days.data = str(customer.payment_terms_days)
            form.currency_chosen.data = "1"
        return form


def check_customer_input(
    values: Mapping[str, Any],
    customer: Customer | None = None,
    *,
    locked_currency: str | None = None,
    customer_choices=None,
    form: CustomerForm | None = None,
) -> tuple[dict | None, dict[str, str]]:
    """Add customer's and Edit customer's rules, for values that come from outside the panel
    (a CSV import row, an API request): the same form checks them, so there is one set of
    rules. ``values`` maps field names to text (or numbers, booleans); a name left out keeps
    ``customer``'s value (an update) or the form's default (a new customer: the lowest-rate
    tax class, the oldest legal entity, Net 30, automatic invoicing).

    Returns ``(fields, {})`` with the fields ready for services.customers, or
    ``(None, errors)``: field name -> the message the form would show beside it.

    ``form``: a form made by ``customer_input_form`` for the same choices, filled in afresh
    for these values (a CSV import checks each row with one form, not a new one per row)."""
    form_data = MultiDict()
    for field_name in EDITABLE_FIELDS:
        if field_name in values:
            value = values[field_name]
        elif customer is not None:
            value = getattr(customer, field_name)
        else:
            continue
        if field_name == "auto_pay":
            if value in (True, "1", "true", "True", "yes", "y", "on"):
                form_data.add(field_name, "y")
            continue
        if value is None:
            value = ""
        form_data.add(field_name, str(value))
    if customer is None or "currency" in values:
        form_data.add("currency_chosen", "1")
    if form is None:
        form = customer_input_form(customer_choices, form_data)
    else:
        form.process(formdata=form_data)
    classes, entities = customer_choices or settings.customer_choices(db.session)
    if not form_data.get("tax_class_id") and classes:
        form.tax_class_id.data = classes[0].id
    if not form_data.get("legal_entity_id") and entities:
        form.legal_entity_id.data = min(entity.id for entity in entities)
    if not form_data.get("payment_terms_days"):
        form.payment_terms_days.data = "30"
    if not form_data.get("invoicing_flow"):
        form.invoicing_flow.data = InvoicingFlow.AUTOMATIC.value
    if not form_data.get("payment_gateway"):
        form.payment_gateway.data = DEFAULT_GATEWAY
    form.locked_currency = locked_currency
    if not form.validate():
        return None, {name: messages[0] for name, messages in form.errors.items() if messages}
    return form.customer_fields(), {}


def customer_input_form(customer_choices=None, form_data=None) -> CustomerForm:
    """The form ``check_customer_input`` checks values with (pass it back as ``form`` to check
    many rows with one form)."""
    return CustomerForm(
        formdata=form_data if form_data is not None else MultiDict(),
        meta={"csrf": False},
        customer_choices=customer_choices,
    )


class NewCustomerForm(CustomerForm):
    """Add customer: the customer's fields and their access to the customer area."""

    access = RadioField(
        "Customer area",
        choices=list(customer_accounts.ACCESS_CHOICES.items()),
        default=customer_accounts.ACCESS_NONE,
    )
    access_password = PasswordField(
        "Password for the customer",
        description=(
            f"At least {MIN_PASSWORD_LENGTH} characters. The customer must choose their own "
            "at first sign-in."
        ),
    )

    def validate_access(self, field):
        if field.data != customer_accounts.ACCESS_NONE and not (self.email.data or "").strip():
            raise ValidationError(
                "The customer signs in with their email: enter an email address, "
                "or choose No account."
            )

    def validate_access_password(self, field):
        if self.access.data != customer_accounts.ACCESS_PASSWORD:
            field.data = ""
            return
        if not field.data:
            raise ValidationError("Enter a password, or choose another kind of access.")
        refusal = password_refusal(field.data)
        if refusal:
            raise ValidationError(refusal)


class StatusForm(Form):
    """Confirmation of a status change; the target status travels as a hidden field."""

    status = HiddenField()
