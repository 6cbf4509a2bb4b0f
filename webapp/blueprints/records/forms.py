"""The form of each kind of record kept on a customer (blueprints.records)."""

from __future__ import annotations

from flask_login import current_user
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from webapp.extensions import db
from webapp.forms import EditVersionForm, PlainDateField, normalised
from webapp.models.base import utcnow
from webapp.models.customer import Customer
from webapp.services import (
    activities,
    addresses,
    aliases,
    reference,
    sales,
    staff,
    subscriptions,
    tickets,
)
from webapp.services.money import AmountError, format_plain, parse_amount


class RecordForm(EditVersionForm):
    """A customer record's form: built with the customer (defaults) and, to edit, the record."""

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
            normalised(field, reference.normalise_email)
        else:
            field.data = ""

    def validate_phone(self, field):
        normalised(field, reference.normalise_phone, self.customer.country)

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


class _AmountRecordForm(RecordForm):
    """A record form with ``amount`` (positive money) and ``currency``, placed by the subclass;
    the currency starts as the customer's and the service gets ``amount_minor``."""

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
    """+ New sale / Edit sale; status Open or Cancelled (Invoiced comes only from invoicing)."""

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


def _staff_id(value):
    """A staff select's value: None for "Unassigned", the id, or the text as sent (which
    the service refuses beside the field)."""
    if value in (None, "", "None"):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


class StaffSelectField(SelectField):
    """Assigned to: Unassigned or an active staff member (plus whoever it is assigned to
    now, if since deactivated). The service checks the choice."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("coerce", _staff_id)
        kwargs.setdefault("validate_choice", False)
        super().__init__(*args, **kwargs)

    @property
    def sent(self) -> bool:
        """Whether the submitted form had this field (a form or script without it keeps
        the assignment as it is: the creator for a new activity, nobody for a new ticket)."""
        return bool(self.raw_data)

    def offer(self, current=None) -> None:
        """Fill the choices (needs the database, so called from the form's constructor)."""
        choices = [("", "Unassigned")]
        members = staff.active_staff(db.session)
        choices += [(member.id, member.name) for member in members]
        if current is not None and all(member.id != current.id for member in members):
            choices.append((current.id, f"{current.name} (deactivated)"))
        self.choices = choices


class UtcDateTimeField(DateTimeLocalField):
    """A UTC date and time as ``<input type="datetime-local">`` sends it; else a clear message."""

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
    assigned_to_id = StaffSelectField("Assigned to", description="It shows on their Agenda.")
    done = BooleanField("Done")

    def __init__(self, *args, record=None, **kwargs):
        super().__init__(*args, record=record, **kwargs)
        self.assigned_to_id.offer(record.assigned_to if record is not None else None)
        if record is None and not self.is_submitted():
            self.assigned_to_id.data = current_user.id if current_user.is_authenticated else None

    def record_fields(self) -> dict:
        fields = super().record_fields()
        if not self.assigned_to_id.sent:
            del fields["assigned_to_id"]
        return fields

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
    assignee_id = StaffSelectField("Assigned to", description="Who handles it (the Inbox).")

    def __init__(self, *args, record=None, **kwargs):
        super().__init__(*args, record=record, **kwargs)
        self.assignee_id.offer(record.assignee if record is not None else None)
        if record is None:
            del self.status

    def record_fields(self) -> dict:
        fields = super().record_fields()
        if not self.assignee_id.sent:
            del fields["assignee_id"]
        return fields

    def validate_status(self, field):
        if field.data not in tickets.STATUS_LABELS:
            raise ValidationError(tickets.CHOOSE_STATUS)


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
