"""Jinja filters and globals shared by every template."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from flask import Flask
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from webapp.blueprints.customers.answers import customer_tab_url
from webapp.models.customer import CustomerStatus
from webapp.services.billing import INVOICE_ACTIONS, available_actions
from webapp.services.contacts import preferences_label
from webapp.services.customers import STATUS_LABELS
from webapp.services.email_verification import email_state
from webapp.services.gateways import gateway_for
from webapp.services.guard import edit_refusal
from webapp.services.mailer import can_resend
from webapp.services.money import (
    balance_phrase,
    balance_wording,
    due_phrase,
    format_money,
    outstanding,
)
from webapp.services.reference import (
    countries,
    country_name,
    currencies,
    display_phone,
    format_tax_rate,
)


@cache
def _options(kind: str) -> str:
    """Every country (named) or currency (by code) as <option>s, built once per process:
    the list's filters would otherwise escape some 400 options on every request."""
    pairs = countries() if kind == "country" else [(code, code) for code, _ in currencies()]
    return "".join(
        f'<option value="{escape(code)}">{escape(label)}</option>' for code, label in pairs
    )


def filter_options(kind: str, selected: str = "") -> Markup:
    """The cached options of ``kind`` ("country" or "currency") with ``selected`` chosen."""
    html = _options(kind)
    if selected:
        chosen = f'<option value="{escape(selected)}">'
        html = html.replace(chosen, chosen[:-1] + " selected>", 1)
    return Markup(html)


@dataclass(frozen=True)
class SummaryError:
    """One line of a form's error summary: the field's label and message, and the id of
    the element its link leads to (None when the page does not show the field)."""

    anchor: str | None
    label: str
    message: str


def _leaf_fields(form, prefix: str = ""):
    """(field, label) for every field a person fills in, also those of a list of rows (the
    lines of a draft invoice: "Line 2, Quantity")."""
    for field in form:
        if field.type == "FieldList":
            for number, entry in enumerate(field.entries, start=1):
                row = f"{prefix}{field.label.text} {number}"
                if entry.type == "FormField":
                    yield from _leaf_fields(entry.form, f"{row}, ")
                else:
                    yield entry, row
        elif field.type == "FormField":
            yield from _leaf_fields(field.form, prefix)
        else:
            yield field, f"{prefix}{field.label.text}"


def summary_errors(form, page_html: str) -> list[SummaryError]:
    """The fields of ``form`` with an error, in the order ``page_html`` (the form's
    rendered fields) shows them, which is not always the order the form declares them.
    Hidden fields are left out: their refusal is the form's own message (form_error)."""
    found = []
    for field, label in _leaf_fields(form):
        if not field.errors or getattr(field.widget, "input_type", None) == "hidden":
            continue
        anchor = field.id
        if field.type == "RadioField":
            # A radio group has no element of its own to focus: its first option.
            anchor = next((option.id for option in field), None)
        position = page_html.find(f'id="{anchor}"') if anchor else -1
        if position < 0:
            anchor, position = None, len(page_html)
        message = " ".join(str(error) for error in field.errors)
        found.append((position, SummaryError(anchor, label, message)))
    found.sort(key=lambda pair: pair[0])
    return [error for _position, error in found]


def company_beside(company: str, name: str) -> str:
    """The company to show beside a customer's name, or "" when it only says the name
    again (a business whose name is its company's)."""
    return company if company and company.lower().split() != name.lower().split() else ""


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["phone"] = display_phone
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["tax_rate"] = format_tax_rate
    app.jinja_env.filters["balance_wording"] = balance_wording
    app.jinja_env.filters["balance_phrase"] = balance_phrase
    app.jinja_env.filters["due_phrase"] = due_phrase
    app.jinja_env.globals["open_balances"] = lambda rows, currency: outstanding(
        [(row.balance_minor, row.currency) for row in rows], currency
    )
    app.jinja_env.filters["country_name"] = country_name
    app.jinja_env.filters["company_beside"] = company_beside
    app.jinja_env.filters["status_label"] = lambda status: STATUS_LABELS.get(status, status)
    app.jinja_env.filters["date"] = lambda value: value.strftime("%Y-%m-%d") if value else ""
    app.jinja_env.filters["datetime"] = lambda value: (
        value.strftime("%Y-%m-%d %H:%M") + " UTC" if value else ""
    )

    # Whether Edit, Add and the like are offered (services.personal_data decides); a
    # global, so macros imported without context (partials/records.html) see it too.
    app.jinja_env.globals["editable"] = lambda customer: edit_refusal(customer) is None
    app.jinja_env.globals["email_state"] = email_state
    app.jinja_env.globals["filter_options"] = filter_options
    # A global for the same reason: the error_summary macro of partials/fields.html.
    app.jinja_env.globals["summary_errors"] = summary_errors

    @app.context_processor
    def globals_for_templates():
        return {
            "CustomerStatus": CustomerStatus,
            "gateway_name": lambda code: gateway_for(code).name,
            "invoice_actions": available_actions,
            "can_resend": can_resend,
            "contact_preferences": preferences_label,
            "invoice_action_labels": INVOICE_ACTIONS,
            "csrf_headers": lambda: json.dumps({"X-CSRFToken": generate_csrf()}),
            "customer_tab_url": customer_tab_url,
        }
