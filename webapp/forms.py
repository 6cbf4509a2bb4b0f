"""WTForms forms. Field rules call the normalisers in services.reference."""

from __future__ import annotations

import re
import uuid

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    StopValidation,
    ValidationError,
)

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.customer import Customer, InvoicingFlow
from webapp.services import (
    activities,
    addresses,
    aliases,
    reference,
    sales,
    settings,
    subscriptions,
    tickets,
)
from webapp.services.customers import CURRENCY_LOCKED, EDITABLE_FIELDS
from webapp.services.gateways import DEFAULT_GATEWAY, GATEWAYS
from webapp.services.money import AmountError, format_plain, parse_amount
from webapp.services.staff import MIN_PASSWORD_LENGTH, ROLE_LABELS


def _storable(form, field) -> None:
    """Stop a field's other rules (a normaliser could choke on it, a service would write
    it) when what was sent holds a character the database cannot store."""
    if any(
        isinstance(value, str) and reference.has_unstorable_character(value)
        for value in field.raw_data or ()
    ):
        raise StopValidation(reference.UNSTORABLE_IN_FIELD)


class Form(FlaskForm):
    """The base of every form. A NUL character in any field is refused beside that
    field before its own rules run, on SQLite as on PostgreSQL (whose text cannot hold
    it): 422, nothing written. The CSRF token is checked by Flask-WTF itself."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self:
            if field.type != "CSRFTokenField":
                field.validators = [_storable, *field.validators]


class SignInForm(Form):
    email = EmailField("Email", validators=[InputRequired("Enter your email."), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    next = HiddenField()


class PasswordChangeForm(Form):
    """Change password: the current one, and the new one twice. services.staff checks
    the current password and the password rules; its message goes beside the field."""

    current_password = PasswordField(
        "Current password", validators=[InputRequired("Enter your current password.")]
    )
    new_password = PasswordField(
        "New password",
        validators=[InputRequired("Enter a new password.")],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    confirm_password = PasswordField(
        "New password again",
        validators=[
            InputRequired("Enter the new password again."),
            EqualTo("new_password", "The two new passwords are not the same."),
        ],
    )


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


def _optional_id(value) -> int | None:
    """An id from a select; anything but a plain number is None, so its field says
    "Choose … from the list" instead of a coercion error."""
    if isinstance(value, int):
        return value
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


class EditVersionForm(Form):
    """An edit form of an existing row carries the version it was opened at and what it
    showed then (services.versions), so a save can tell whether someone else saved the
    row in between. Both are empty on an Add form."""

    opened_version = HiddenField()
    seen = HiddenField()

    # Not values of the row: left out of what a form hands to its service.
    VERSION_FIELDS = ("opened_version", "seen")


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
        classes, entities = settings.customer_choices(db.session)
        self.tax_class_id.choices = [(tax_class.id, tax_class.label) for tax_class in classes]
        self.legal_entity_id.choices = [(entity.id, entity.name) for entity in entities]
        # A new customer starts in the lowest-rate class, billed by the oldest entity.
        if self.tax_class_id.data is None and not self.is_submitted():
            self.tax_class_id.data = classes[0].id
        if self.legal_entity_id.data is None and not self.is_submitted():
            self.legal_entity_id.data = min(entity.id for entity in entities)

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


class StatusForm(Form):
    """Confirmation of a status change; the target status travels as a hidden field."""

    status = HiddenField()


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


class ConfirmForm(Form):
    """A server-side confirmation for an action with no other fields."""


class NoteForm(Form):
    """New note: plain text, shown escaped wherever it appears."""

    # The length limit is the service's, on the text with line breaks normalised.
    body = TextAreaField("New note", validators=[DataRequired("Write the note first.")])


class TagForm(Form):
    """Add tag on the customer page; the name rules are services.tags'."""

    tag = StringField("New tag")


class RecordForm(EditVersionForm):
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
            if name == "csrf_token" or name in self.VERSION_FIELDS:
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


def _stripped(value):
    """A filter: lengths are checked on what is stored, without surrounding spaces."""
    return value.strip() if isinstance(value, str) else value


class AliasForm(RecordForm):
    """+ Add external ID / Edit external ID: a label and the other system's ID."""

    label = StringField(
        "Label",
        validators=[
            DataRequired(aliases.LABEL_REQUIRED),
            Length(max=aliases.LABEL_MAX, message=aliases.LABEL_TOO_LONG),
        ],
        description="The system the ID comes from, e.g. Stripe or Salesforce.",
        filters=[_stripped],
    )
    value = StringField(
        "ID",
        validators=[
            DataRequired(aliases.VALUE_REQUIRED),
            Length(max=aliases.VALUE_MAX, message=aliases.VALUE_TOO_LONG),
        ],
        description="No two customers can have the same ID.",
        filters=[_stripped],
    )


class PlainDateField(DateField):
    """A date typed as 2025-03-14 (``<input type="date">`` sends it so); anything else
    gets a message saying what to type rather than WTForms' own."""

    def process_formdata(self, valuelist):
        if valuelist and not " ".join(valuelist).strip():
            self.data = None  # left empty: InputRequired says so
            return
        try:
            super().process_formdata([" ".join(valuelist).strip()] if valuelist else valuelist)
        except ValueError:
            raise ValueError("Enter a real date, like 2025-03-14.") from None


class _AmountRecordForm(RecordForm):
    """A record form with ``amount`` (typed money, positive) and ``currency`` fields,
    declared by the subclass where they belong in its order; the currency starts as
    the customer's and the service gets ``amount_minor``."""

    def __init__(self, *args, customer: Customer, record=None, **kwargs):
        super().__init__(*args, customer=customer, record=record, **kwargs)
        self.currency.choices = [
            (code, f"{code} — {name}") for code, name in reference.currencies()
        ]
        if record is None and not self.is_submitted():
            self.currency.data = customer.currency
        self.amount_minor = 0

    def show(self, record) -> None:
        self.amount.data = format_plain(record.amount_minor, record.currency)

    def validate_currency(self, field):
        if field.data not in reference.currency_codes():
            raise ValidationError("Choose a currency from the list.")

    def validate_amount(self, field):
        if self.currency.data not in reference.currency_codes():
            return  # the currency's own message says what to fix
        try:
            self.amount_minor = parse_amount(field.data, self.currency.data, allow_negative=False)
        except AmountError as error:
            raise ValidationError(str(error)) from None

    def record_fields(self) -> dict:
        fields = super().record_fields()
        fields["amount_minor"] = self.amount_minor
        del fields["amount"]
        return fields


class SaleForm(_AmountRecordForm):
    """+ New sale / Edit sale. The amount is typed money in the chosen currency; the
    status is Open or Cancelled (Invoiced only comes from invoicing the sale)."""

    sold_on = PlainDateField(
        "Date",
        validators=[InputRequired("Enter the date of the sale.")],
        default=lambda: utcnow().date(),
    )
    description = StringField(
        "Description",
        validators=[DataRequired("Enter a description: it becomes the invoice line.")],
        description="What was sold; the invoice line reads the same.",
    )
    amount = StringField(
        "Amount",
        validators=[InputRequired("Enter an amount.")],
        description="Before tax, e.g. 1250.00.",
    )
    currency = SelectField("Currency", validate_choice=False)
    status = RadioField(
        "Status",
        choices=list(sales.FORM_STATUSES.items()),
        default="open",
        validate_choice=False,  # the service says what to choose instead
    )


class SubscriptionForm(_AmountRecordForm):
    """Add subscription: plan, amount per interval, currency, interval, start date."""

    plan_name = StringField(
        "Plan", validators=[DataRequired("Enter the plan's name."), Length(max=200)]
    )
    amount = StringField(
        "Amount",
        validators=[InputRequired("Enter an amount.")],
        description="Per interval, e.g. 49.00.",
    )
    currency = SelectField("Currency", validate_choice=False)
    interval = RadioField(
        "Interval",
        choices=list(subscriptions.INTERVAL_LABELS.items()),
        default="monthly",
        validate_choice=False,  # the service says what to choose instead
    )
    starts_on = PlainDateField(
        "Start date",
        validators=[InputRequired("Enter the start date.")],
        default=lambda: utcnow().date(),
    )


class UtcDateTimeField(DateTimeLocalField):
    """A date and time typed in UTC (``<input type="datetime-local">``, sent as
    2025-03-14T15:30); anything else gets a message saying what to type."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "format",
            ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
        )
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(activities.BAD_WHEN) from None


class ActivityForm(RecordForm):
    """+ New activity / Edit activity. Lengths and the rest are the service's rules."""

    title = StringField("Title", validators=[DataRequired("Enter a title.")])
    kind = RadioField(
        "Kind",
        choices=list(activities.KIND_LABELS.items()),
        default="meeting",
        validate_choice=False,  # validate_kind says what to do instead
    )
    due_at = UtcDateTimeField(
        "When (UTC)",
        validators=[InputRequired("Enter the date and time it is planned for.")],
        description="Date and time in UTC, like every time in Tally.",
    )
    notes = TextAreaField("Notes", description="Plain text.")
    done = BooleanField("Done")

    def validate_kind(self, field):
        if field.data not in activities.KIND_LABELS:
            raise ValidationError(activities.CHOOSE_KIND)


class TicketForm(RecordForm):
    """+ New ticket / Edit ticket. A new ticket has no status field: it starts as New."""

    subject = StringField("Subject", validators=[DataRequired("Enter a subject.")])
    description = TextAreaField(
        "Description", description="What the customer asked, noted or reported. Plain text."
    )
    status = SelectField(
        "Status",
        choices=list(tickets.STATUS_LABELS.items()),
        validate_choice=False,  # validate_status says what to do instead
    )

    def __init__(self, *args, record=None, **kwargs):
        super().__init__(*args, record=record, **kwargs)
        if record is None:
            del self.status

    def validate_status(self, field):
        if field.data not in tickets.STATUS_LABELS:
            raise ValidationError(tickets.CHOOSE_STATUS)


class TicketStatusForm(Form):
    """Change on a ticket's row: the new status (the service checks it)."""

    status = SelectField(
        "Status", choices=list(tickets.STATUS_LABELS.items()), validate_choice=False
    )


class AddressForm(RecordForm):
    """+ New address / Edit address."""

    label = StringField(
        "Label", validators=[Length(max=100)], description='e.g. "Head office", "Warehouse".'
    )
    line1 = StringField(
        "Address line 1", validators=[DataRequired(addresses.LINE1_NEEDED), Length(max=200)]
    )
    line2 = StringField("Address line 2", validators=[Length(max=200)])
    city = StringField("City", validators=[Length(max=100)])
    region = StringField("State / region", validators=[Length(max=100)])
    postal_code = StringField("Postal code", validators=[Length(max=20)])
    country = SelectField(
        "Country", validators=[DataRequired("Choose a country.")], validate_choice=False
    )
    is_billing = BooleanField(
        "Billing address",
        description="Printed on invoices and shown on the profile; a customer has one.",
    )

    def __init__(self, *args, customer: Customer, record=None, **kwargs):
        super().__init__(*args, customer=customer, record=record, **kwargs)
        self.country.choices = [("", "Choose a country…"), *reference.countries()]
        if record is None and not self.is_submitted():
            self.country.data = customer.country

    def validate_country(self, field):
        if field.data not in reference.country_codes():
            raise ValidationError(addresses.COUNTRY_UNKNOWN)


class TaxClassForm(EditVersionForm):
    """Add tax class / Edit tax class (Settings)."""

    name = StringField(
        "Name",
        validators=[
            DataRequired("Enter the name of the tax class."),
            Length(
                max=settings.TAX_CLASS_NAME_MAX, message="A name can be at most 100 characters."
            ),
        ],
        description="What staff pick in the customer form, e.g. Standard or Reduced.",
    )
    rate = StringField("Rate (%)", description="From 0 to 100, at most two decimals: 19 or 7.25.")

    def validate_rate(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Enter the rate, e.g. 19 or 7.25 (0 for no tax).")
        try:
            self.rate_bp = reference.parse_tax_rate(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    @classmethod
    def for_tax_class(cls, tax_class) -> TaxClassForm:
        form = cls(obj=tax_class)
        if not form.is_submitted():
            form.rate.data = tax_class.rate_percent
        return form


class LegalEntityForm(EditVersionForm):
    """Add legal entity / Edit legal entity (Settings): the seller on invoices."""

    name = StringField(
        "Name",
        validators=[
            DataRequired("Enter the name of the legal entity."),
            Length(max=settings.ENTITY_NAME_MAX, message="A name can be at most 200 characters."),
        ],
        description="The seller's name on invoices and credit notes.",
    )
    address = TextAreaField(
        "Address",
        validators=[
            Length(
                max=settings.ENTITY_ADDRESS_MAX,
                message="An address can be at most 1,000 characters.",
            )
        ],
        description="Printed under the name, line by line.",
    )
    country = SelectField("Country", validate_choice=False)
    tax_id = StringField(
        "Tax ID / VAT number",
        validators=[Length(max=50)],
        description="Checked against the country's format where one is known.",
    )
    default_currency = SelectField("Default currency", validate_choice=False, default="EUR")
    number_prefix = StringField(
        "Number prefix",
        description="Optional, up to 10 letters and digits: ACME numbers invoices "
        "ACME-INV-000001. Each entity has its own series.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [("", "Choose a country…"), *reference.countries()]
        self.default_currency.choices = [
            (code, f"{code} — {name}") for code, name in reference.currencies()
        ]

    def validate_country(self, field):
        field.data = (field.data or "").upper()
        if field.data and field.data not in reference.country_codes():
            raise ValidationError("Choose a country from the list.")

    def validate_tax_id(self, field):
        country = self.country.data if self.country.data in reference.country_codes() else ""
        _normalised(field, reference.normalise_tax_id, country or None)

    def validate_default_currency(self, field):
        field.data = (field.data or "").upper()
        if field.data not in reference.currency_codes():
            raise ValidationError("Choose a currency from the list.")

    def validate_number_prefix(self, field):
        _normalised(field, settings.normalise_number_prefix)

    def entity_fields(self) -> dict:
        """The validated values, ready for services.settings."""
        names = ("name", "address", "country", "tax_id", "default_currency", "number_prefix")
        return {name: (getattr(self, name).data or "").strip() for name in names}


class StaffForm(Form):
    """Add staff (the Staff page): services.staff checks the rest (length of the
    password, a duplicate email) and its message goes beside the field."""

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
        _normalised(field, reference.normalise_email)


class StaffRoleForm(Form):
    """Change on a staff member's row: the new role (the service checks it)."""

    role = SelectField("Role", choices=list(ROLE_LABELS.items()), validate_choice=False)


class DeleteCustomerForm(Form):
    """Delete customer: the customer's ID, typed to confirm (services.deletion checks it)."""

    typed_id = StringField("Type the customer ID to confirm")

    def __init__(self, *args, visible_id: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if visible_id:
            self.typed_id.label.text = f"Type {visible_id} to confirm"
