"""Add and edit tax classes and legal entities."""

from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from webapp.forms import EditVersionForm, Form, normalised
from webapp.services import onboarding, reference, settings


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

    invoice_footer = TextAreaField(
        "Invoice footer",
        validators=[
            Length(
                max=settings.ENTITY_FOOTER_MAX,
                message="A footer can be at most 2,000 characters.",
            )
        ],
        description="Bank details and payment instructions, printed at the foot of every "
        "invoice and credit note, line by line.",
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
        normalised(field, reference.normalise_tax_id, country or None)

    def validate_default_currency(self, field):
        field.data = (field.data or "").upper()
        if field.data not in reference.currency_codes():
            raise ValidationError("Choose a currency from the list.")

    def validate_number_prefix(self, field):
        normalised(field, settings.normalise_number_prefix)

    def entity_fields(self) -> dict:
        """The validated values, ready for services.settings."""
        names = (
            "name",
            "address",
            "country",
            "tax_id",
            "default_currency",
            "number_prefix",
            "invoice_footer",
        )
        return {name: (getattr(self, name).data or "").strip() for name in names}


class OnboardingTemplateForm(Form):
    """Onboarding email (Settings, per legal entity): a subject and a text with placeholders."""

    onboarding_subject = StringField(
        "Subject",
        validators=[DataRequired("Enter the subject of the onboarding email.")],
    )
    onboarding_body = TextAreaField(
        "Text",
        validators=[DataRequired("Enter the text of the onboarding email.")],
        description="Plain text: a blank line starts a new paragraph. Write {{ and }} for a "
        "literal brace.",
    )

    def _checked(self, field, name: str) -> None:
        try:
            onboarding.parse_template(field.data or "", name)
        except onboarding.OnboardingError as refusal:
            raise ValidationError(str(refusal)) from None

    def validate_onboarding_subject(self, field):
        if len(field.data or "") > onboarding.SUBJECT_MAX:
            raise ValidationError(f"A subject can be at most {onboarding.SUBJECT_MAX} characters.")
        self._checked(field, "onboarding_subject")

    def validate_onboarding_body(self, field):
        if len(field.data or "") > onboarding.BODY_MAX:
            raise ValidationError(f"The text can be at most {onboarding.BODY_MAX:,} characters.")
        self._checked(field, "onboarding_body")


class ReminderStepForm(Form):
    """Add step (Settings, a legal entity's reminder schedule): so many days before, on or
    after the due date, with the invoice PDF or the payment link."""

    days = StringField("Days", description="A whole number of days; leave it for On the due date.")
    when = SelectField(
        "When",
        choices=[
            ("before", "before the due date"),
            ("on", "on the due date"),
            ("after", "after the due date"),
        ],
        default="after",
        validate_choice=False,
    )
    attach = SelectField(
        "With",
        choices=[("pdf", "the invoice PDF attached"), ("link", "the payment link")],
        default="link",
        validate_choice=False,
    )
