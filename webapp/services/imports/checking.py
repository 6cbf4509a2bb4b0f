"""One row of a file as a customer's fields: cells read through the mapping, then checked by
Add / Edit customer's own rules (``check_customer_input``), so an import accepts exactly
what the form accepts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace

from webapp.blueprints.customers.forms import check_customer_input, customer_input_form
from webapp.models.customer import CUSTOMER_ID_PREFIX, Customer, CustomerStatus
from webapp.services import reference
from webapp.services.contacts import full_name
from webapp.services.customers import CustomerError, normalise_external_id
from webapp.services.exports.csv_writing import FORMULA_STARTS

_TRUE = {"yes", "y", "true", "1", "on", "x"}
_FALSE = {"no", "n", "false", "0", "off", ""}
_STATUSES = {status.value: status.value for status in CustomerStatus} | {
    status.label.casefold(): status.value for status in CustomerStatus
}


@dataclass
class Checked:
    """A row ready to write (``fields`` for services.customers, ``status``), or its errors."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    fields: dict | None = None
    status: str | None = None


def cells_to_values(cells: list[str], mapping: list[str]) -> dict[str, str]:
    """The mapped cells by field, trimmed; Tally's export's guard against spreadsheet formulas
    (a leading apostrophe before =, +, -, @) is taken off again."""
    values = {}
    for index, name in enumerate(mapping):
        if not name:
            continue
        value = cells[index].strip() if index < len(cells) else ""
        if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
            value = value[1:]
        values[name] = value
    return values


def parse_customer_id(text: str) -> int | None:
    """'C-000042' or '42' -> 42; anything else None."""
    text = text.strip().upper()
    if text.startswith(CUSTOMER_ID_PREFIX):
        text = text[len(CUSTOMER_ID_PREFIX) :]
    return int(text) if text.isdigit() and len(text) < 10 else None


def _country_names() -> dict[str, str]:
    names = {}
    for code, name in reference.countries():
        names[name.casefold()] = code
    return names


class RowChecker:
    """Checks rows against the form's rules; the tax classes and legal entities are read once
    (``customer_choices``), not per row."""

    def __init__(self, customer_choices) -> None:
        # Plain copies: the job commits and lets go of its rows after every chunk.
        classes = [
            SimpleNamespace(id=item.id, label=item.label, rate_bp=item.rate_bp)
            for item in customer_choices[0]
        ]
        entities = [SimpleNamespace(id=item.id, name=item.name) for item in customer_choices[1]]
        self.choices = (classes, entities)
        self.form = customer_input_form(self.choices)
        # The first class with a rate (lowest id) is the one a rate picks.
        self.class_for_rate: dict[int, int] = {}
        for tax_class in sorted(classes, key=lambda item: item.id):
            self.class_for_rate.setdefault(tax_class.rate_bp, tax_class.id)
        self.country_names = _country_names()

    def check(
        self, values: Mapping[str, str], customer: Customer | None, locked_currency: str | None
    ) -> Checked:
        """The row's fields for a new customer (``customer`` None) or for ``customer``."""
        row = Checked(dict(values))
        given = {
            name: value
            for name, value in values.items()
            if name not in ("customer_id", "tax_rate", "status", "external_id")
        }
        errors = row.errors
        if "name" in values and not values["name"] or "name" not in values and customer is None:
            # Exports from billing systems often leave the name empty for a company or a
            # person: the company, else the contact's name, is the customer's name.
            fallback = values.get("company") or full_name(
                values.get("first_name", ""), values.get("last_name", "")
            )
            if fallback:
                given["name"] = fallback
        if given.get("country") and len(given["country"]) != 2:
            given["country"] = self.country_names.get(given["country"].casefold(), "?")
        elif "country" in given:
            given["country"] = given["country"].upper()
        for name in ("invoicing_flow", "payment_gateway"):
            if name in given:
                given[name] = given[name].lower()
        if "auto_pay" in given:
            flag = given["auto_pay"].casefold()
            if flag in _TRUE:
                given["auto_pay"] = True
            elif flag in _FALSE:
                given["auto_pay"] = False
            else:
                errors["auto_pay"] = "Auto pay is yes or no."
        if values.get("tax_rate") and "tax_class_id" not in given:
            try:
                rate_bp = reference.parse_tax_rate(values["tax_rate"])
            except ValueError as refusal:
                errors["tax_rate"] = str(refusal)
            else:
                class_id = self.class_for_rate.get(rate_bp)
                if class_id is None:
                    errors["tax_rate"] = (
                        f"No tax class has the rate {reference.format_tax_rate(rate_bp)} %: "
                        "add one under Settings, or leave the column out."
                    )
                else:
                    given["tax_class_id"] = class_id
        if values.get("status"):
            row.status = _STATUSES.get(values["status"].casefold())
            if row.status is None:
                errors["status"] = "Status is Active, Suspended or Archived."
        elif customer is None:
            row.status = CustomerStatus.ACTIVE.value
        fields, form_errors = check_customer_input(
            given,
            customer,
            locked_currency=locked_currency,
            customer_choices=self.choices,
            form=self.form,
        )
        for name, message in form_errors.items():
            errors.setdefault(name, message)
        if "external_id" in values:
            try:
                external_id = normalise_external_id(values["external_id"])
            except CustomerError as refusal:
                errors["external_id"] = str(refusal)
            else:
                if fields is not None:
                    fields["external_id"] = external_id
        if not errors:
            row.fields = fields
        return row
