"""Edit forms of existing rows: opened at a version, and answered 409 with what changed
when someone else saved the row in between (the rule is services.versions')."""

from __future__ import annotations

from typing import Any

from webapp.forms import EditVersionForm
from webapp.services import versions
from webapp.services.money import format_plain
from webapp.services.reference import format_tax_rate

# Form field -> the column it edits, where the names differ (typed money, a tax rate).
FORM_COLUMNS = {"amount": "amount_minor", "rate": "rate_bp"}
CONFLICT_STATUS = 409


def compared_columns(form: EditVersionForm, row: Any) -> list[str]:
    """The row's columns the form shows (and a save would write)."""
    columns = versions.columns_of(row)
    names = []
    for name, field in form._fields.items():
        if field.type in ("CSRFTokenField", "HiddenField"):
            continue
        column = FORM_COLUMNS.get(name, name)
        if column in columns:
            names.append(column)
    return names


def open_at(form: EditVersionForm, row: Any) -> None:
    """On first show, set the version and values the form opens at; a submit keeps its own."""
    if form.is_submitted():
        return
    form.opened_version.data = str(row.version)
    form.seen.data = versions.seen_token(row, compared_columns(form, row))


def opened(form: EditVersionForm) -> versions.Opened | None:
    """What the submitted form was opened at, for the service."""
    return versions.opened(form.opened_version.data, form.seen.data)


def conflict_message(form: EditVersionForm, noun: str, conflict: versions.EditConflict) -> str:
    """The message above the form: each field changed meanwhile and its value now, by its label."""
    labels = {
        FORM_COLUMNS.get(name, name): field.label.text for name, field in form._fields.items()
    }
    changed = "; ".join(
        f"{labels.get(change.field, change.field)}: now {change.now or 'empty'}"
        + (" (shown below)" if change.refreshed else " (you typed another value: yours is kept)")
        for change in conflict.changes
    )
    return (
        f"Someone else changed this {noun} while you were editing: {changed}. "
        "Check and Save changes again."
    )


def _refresh(form: EditVersionForm, conflict: versions.EditConflict) -> None:
    """Fields this person left as they were shown take the other person's value, so a
    second save cannot undo that change unnoticed."""
    inverse = {column: name for name, column in FORM_COLUMNS.items()}
    for change in conflict.changes:
        if not change.refreshed:
            continue
        field = form._fields.get(inverse.get(change.field, change.field))
        if field is None:
            continue
        if change.field == "amount_minor":  # typed as a plain number
            field.data = format_plain(change.value, form.currency.data)
        elif change.field == "rate_bp":
            field.data = format_tax_rate(change.value)
        else:
            field.data = change.value


def reopen(form: EditVersionForm, noun: str, conflict: versions.EditConflict) -> str:
    """After a conflict, reopen the form at the current version (typed values kept, untouched fields
    refreshed); returns the message to show above it."""
    form.opened_version.data = str(conflict.version)
    form.seen.data = conflict.seen
    _refresh(form, conflict)
    return conflict_message(form, noun, conflict)
