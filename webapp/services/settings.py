"""Tax classes and legal entities: the settings customers are billed under.

Every customer is in a tax class (its rate is the customer's tax rate) and is billed
by a legal entity (the seller on its invoices, whose series numbers them). A new
database has neither until the first customer needs one: then "No tax" and an
entity named after ``SELLER_NAME`` are made, so the panel works out of the box.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import current_app
from sqlalchemy import Integer, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from webapp.models.base import utcnow
from webapp.models.billing import CreditNote, Invoice
from webapp.models.customer import Customer
from webapp.models.history import CustomerEvent
from webapp.models.reminders import default_steps
from webapp.models.settings import LegalEntity, TaxClass
from webapp.services import history, reference, versions
from webapp.services.reference import format_tax_rate
from webapp.services.wording import counted

DEFAULT_CURRENCY = "EUR"
NUMBER_PREFIX = re.compile(r"[A-Z0-9]{0,10}")
TAX_CLASS_NAME_MAX = 100
ENTITY_NAME_MAX = 200
ENTITY_ADDRESS_MAX = 1000
ENTITY_FOOTER_MAX = 2000


def tax_classes(session: Session) -> list[TaxClass]:
    return list(session.scalars(select(TaxClass).order_by(TaxClass.rate_bp, TaxClass.name)))


def legal_entities(session: Session) -> list[LegalEntity]:
    return list(session.scalars(select(LegalEntity).order_by(LegalEntity.name)))


def tax_class_for_rate(session: Session, rate_bp: int) -> TaxClass:
    """The first class with this rate, made if there is none; for demo data, imports and tests."""
    found = session.scalar(
        select(TaxClass).where(TaxClass.rate_bp == rate_bp).order_by(TaxClass.id).limit(1)
    )
    if found is None:
        name = "No tax" if rate_bp == 0 else f"Rate {format_tax_rate(rate_bp)} %"
        found = TaxClass(name=name, rate_bp=rate_bp)
        session.add(found)
        session.flush()
    return found


def default_legal_entity(session: Session) -> LegalEntity:
    """The oldest entity; on a new database, one made from SELLER_NAME/SELLER_ADDRESS."""
    found = session.scalar(select(LegalEntity).order_by(LegalEntity.id).limit(1))
    if found is None:
        found = LegalEntity(
            name=current_app.config["SELLER_NAME"],
            address=current_app.config["SELLER_ADDRESS"],
            default_currency=DEFAULT_CURRENCY,
            number_prefix="",
        )
        found.reminder_steps = default_steps()
        session.add(found)
        session.flush()
    return found


def assign_defaults(session: Session, customer: Customer) -> None:
    """Give a customer without a tax class or legal entity the defaults."""
    if customer.tax_class_id is None:
        customer.tax_class = tax_class_for_rate(session, customer.tax_rate_bp or 0)
    if customer.legal_entity_id is None and customer.legal_entity is None:
        customer.legal_entity = default_legal_entity(session)
    tax_class = customer.tax_class or session.get(TaxClass, customer.tax_class_id)
    customer.tax_rate_bp = tax_class.rate_bp


def set_class_rate(session: Session, tax_class: TaxClass, rate_bp: int) -> int:
    """Set a class's rate and its customers' (a history line each); returns how many changed.
    Issued invoices keep the rate they were issued at."""
    old_percent = tax_class.rate_percent
    tax_class.rate_bp = rate_bp
    moved = Customer.tax_class_id == tax_class.id, Customer.tax_rate_bp != rate_bp
    session.execute(
        insert(CustomerEvent).from_select(
            [
                "customer_id",
                "staff_id",
                "kind",
                "summary",
                "field",
                "old_value",
                "new_value",
                "personal",
                "created_at",
            ],
            select(
                Customer.id,
                literal(history.acting_staff_id(), Integer),
                literal("edited"),
                literal(f"Tax rate changed with tax class {tax_class.name}"),
                literal("tax_rate_bp"),
                literal(f"{old_percent} %"),
                literal(f"{tax_class.rate_percent} %"),
                literal(False),
                literal(utcnow()),
            ).where(*moved),
        )
    )
    result = session.execute(
        update(Customer)
        .where(*moved)
        .values(tax_rate_bp=rate_bp)
        # Not "fetch": that would bring every matched id back into Python. Customers
        # already loaded are refreshed by the caller's commit (expire_on_commit).
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def document_series(series: str, entity_id: int) -> str:
    """The counter that numbers ``series`` (INV, CN) for one legal entity."""
    return f"{series}:{entity_id}"


def document_number(series: str, entity: LegalEntity, number: int) -> str:
    """INV-000042 for an entity without a prefix, ACME-INV-000042 with one."""
    parts = (
        [entity.number_prefix, series, f"{number:06d}"]
        if entity.number_prefix
        else [
            series,
            f"{number:06d}",
        ]
    )
    return "-".join(parts)


# -- managing them on the settings pages ---------------------------------------------


class SettingsError(Exception):
    """A rule refused the change; the message is shown to the user, beside ``field`` if named."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def customer_choices(session: Session) -> tuple[list[TaxClass], list[LegalEntity]]:
    """The tax classes and legal entities for the customer form; commits the defaults if none."""
    classes, entities = tax_classes(session), legal_entities(session)
    if classes and entities:
        return classes, entities
    if not classes:
        tax_class_for_rate(session, 0)
    if not entities:
        default_legal_entity(session)
    session.commit()
    return tax_classes(session), legal_entities(session)


def customers_in_class(session: Session, tax_class_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Customer).where(Customer.tax_class_id == tax_class_id)
    )


def customers_of_entity(session: Session, entity_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Customer).where(Customer.legal_entity_id == entity_id)
    )


def documents_of_entity(session: Session, entity_id: int) -> tuple[int, int]:
    """How many invoices and credit notes the entity has issued."""
    invoices = session.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.legal_entity_id == entity_id)
    )
    credit_notes = session.scalar(
        select(func.count()).select_from(CreditNote).where(CreditNote.legal_entity_id == entity_id)
    )
    return invoices, credit_notes


def _checked_name(
    session: Session, model, name: str, longest: int, thing: str, exclude_id: int | None
) -> str:
    """The name, stripped: required, not too long, and unique ignoring case."""
    name = (name or "").strip()
    if not name:
        raise SettingsError(f"Enter the name of the {thing}.", "name")
    if len(name) > longest:
        raise SettingsError(f"A name can be at most {longest} characters.", "name")
    same = select(model.id).where(func.lower(model.name) == name.lower())
    if exclude_id is not None:
        same = same.where(model.id != exclude_id)
    if session.scalar(same.limit(1)) is not None:
        raise SettingsError(f"Another {thing} is already called {name}.", "name")
    return name


def _checked_rate(rate_bp: int) -> int:
    if not isinstance(rate_bp, int) or not 0 <= rate_bp <= 10000:
        raise SettingsError("The tax rate must be between 0 and 100 %.", "rate")
    return rate_bp


CHANGED_MEANWHILE = (
    "Someone else saved this at the same moment; nothing was saved. Check it and try again."
)


def _commit(session: Session, message: str, field: str | None) -> None:
    """Commit, rolling back to a ``SettingsError`` when a concurrent save (same name, a new user of
    what is being deleted, a versioned row saved meanwhile) makes the database refuse it."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise SettingsError(message, field) from None
    except StaleDataError:
        session.rollback()
        raise SettingsError(CHANGED_MEANWHILE) from None


def _now(session: Session, row):
    """The row read afresh (locked on PostgreSQL), for the edit check and the versioned update."""
    current = session.get(type(row), row.id, populate_existing=True, with_for_update=True)
    if current is None:
        session.rollback()
        raise SettingsError("Someone else deleted this meanwhile; nothing was saved.")
    return current


def create_tax_class(session: Session, name: str, rate_bp: int) -> TaxClass:
    """Add a tax class and commit."""
    name = _checked_name(session, TaxClass, name, TAX_CLASS_NAME_MAX, "tax class", None)
    tax_class = TaxClass(name=name, rate_bp=_checked_rate(rate_bp))
    session.add(tax_class)
    _commit(session, f"Another tax class is already called {name}.", "name")
    return tax_class


def update_tax_class(
    session: Session,
    tax_class: TaxClass,
    name: str,
    rate_bp: int,
    opened: versions.Opened | None = None,
) -> int:
    """Rename a class, set its rate and commit; returns how many customers followed the rate.
    With ``opened``, raises ``versions.EditConflict`` if someone else saved it since."""
    name = _checked_name(session, TaxClass, name, TAX_CLASS_NAME_MAX, "tax class", tax_class.id)
    _checked_rate(rate_bp)
    tax_class = _now(session, tax_class)
    versions.check(session, tax_class, opened, {"name": name, "rate_bp": rate_bp})
    tax_class.name = name
    moved = set_class_rate(session, tax_class, rate_bp) if rate_bp != tax_class.rate_bp else 0
    _commit(session, f"Another tax class is already called {name}.", "name")
    return moved


def tax_class_delete_refusal(session: Session, tax_class: TaxClass) -> str | None:
    """Why the class cannot be deleted (customers are in it), or None if it can."""
    used = customers_in_class(session, tax_class.id)
    if not used:
        return None
    return (
        f"{tax_class.name} is the tax class of {counted(used, 'customer', 'customers')}. "
        "Move them to another tax class (Edit customer) before deleting it."
    )


def delete_tax_class(session: Session, tax_class: TaxClass) -> None:
    """Delete a tax class no customer is in, and commit."""
    refusal = tax_class_delete_refusal(session, tax_class)
    if refusal:
        raise SettingsError(refusal)
    session.delete(tax_class)
    _commit(session, f"{tax_class.name} was just given to a customer; it is kept.", None)


def normalise_number_prefix(value: str) -> str:
    """An entity's number prefix: up to 10 capitals A–Z and digits ("acme" is ACME); "" for none."""
    prefix = (value or "").strip().upper()
    if not NUMBER_PREFIX.fullmatch(prefix):
        raise ValueError("A number prefix is up to 10 letters (A–Z) and digits, e.g. ACME.")
    return prefix


def _entity_values(
    session: Session, fields: Mapping[str, str], exclude_id: int | None
) -> dict[str, str]:
    """The checked values of a legal entity; the first broken rule is raised."""
    name = _checked_name(
        session, LegalEntity, fields.get("name", ""), ENTITY_NAME_MAX, "legal entity", exclude_id
    )
    address = (fields.get("address") or "").strip().replace("\r\n", "\n")
    if len(address) > ENTITY_ADDRESS_MAX:
        raise SettingsError(
            f"An address can be at most {ENTITY_ADDRESS_MAX:,} characters.", "address"
        )
    footer = (fields.get("invoice_footer") or "").strip().replace("\r\n", "\n")
    if len(footer) > ENTITY_FOOTER_MAX:
        raise SettingsError(
            f"A footer can be at most {ENTITY_FOOTER_MAX:,} characters.", "invoice_footer"
        )
    country = (fields.get("country") or "").strip().upper()
    if country and country not in reference.country_codes():
        raise SettingsError("Choose a country from the list.", "country")
    try:
        tax_id = reference.normalise_tax_id(fields.get("tax_id") or "", country or None)
    except ValueError as error:
        raise SettingsError(str(error), "tax_id") from None
    currency = (fields.get("default_currency") or "").strip().upper()
    if currency not in reference.currency_codes():
        raise SettingsError("Choose a currency from the list.", "default_currency")
    try:
        prefix = normalise_number_prefix(fields.get("number_prefix") or "")
    except ValueError as error:
        raise SettingsError(str(error), "number_prefix") from None
    same_prefix = select(LegalEntity).where(LegalEntity.number_prefix == prefix)
    if exclude_id is not None:
        same_prefix = same_prefix.where(LegalEntity.id != exclude_id)
    other = session.scalar(same_prefix.limit(1))
    if other is not None:
        raise SettingsError(
            f"{other.name} already numbers its documents with the prefix {prefix}: "
            "choose another, so numbers stay apart."
            if prefix
            else f"{other.name} already numbers its documents without a prefix: give this "
            "one a prefix (e.g. ACME), so numbers stay apart.",
            "number_prefix",
        )
    return {
        "name": name,
        "address": address,
        "country": country,
        "tax_id": tax_id,
        "default_currency": currency,
        "number_prefix": prefix,
        "invoice_footer": footer,
    }


def create_legal_entity(session: Session, fields: Mapping[str, str]) -> LegalEntity:
    """Add a legal entity from its fields (name, address, tax_id, number_prefix …) and commit."""
    entity = LegalEntity(**_entity_values(session, fields, None))
    entity.reminder_steps = default_steps()
    session.add(entity)
    _commit(session, "Another legal entity has this name or number prefix.", "name")
    return entity


def update_legal_entity(
    session: Session,
    entity: LegalEntity,
    fields: Mapping[str, str],
    opened: versions.Opened | None = None,
) -> LegalEntity:
    """Change a legal entity and commit; a new prefix, and any other change, applies from the next
    document on (issued documents keep the seller and footer they were issued with).
    With ``opened``, raises ``versions.EditConflict`` if someone else saved it since."""
    values = _entity_values(session, fields, entity.id)
    entity = _now(session, entity)
    versions.check(session, entity, opened, values)
    for name, value in values.items():
        setattr(entity, name, value)
    _commit(session, "Another legal entity has this name or number prefix.", "name")
    return entity


def legal_entity_delete_refusal(session: Session, entity: LegalEntity) -> str | None:
    """Why the entity cannot be deleted (it bills customers or has issued documents), or None."""
    used = customers_of_entity(session, entity.id)
    if used:
        return (
            f"{entity.name} bills {counted(used, 'customer', 'customers')}. Move them to "
            "another legal entity (Edit customer) before deleting it."
        )
    invoices, credit_notes = documents_of_entity(session, entity.id)
    if not invoices and not credit_notes:
        return None
    issued = " and ".join(
        text
        for count, text in (
            (invoices, counted(invoices, "invoice", "invoices")),
            (credit_notes, counted(credit_notes, "credit note", "credit notes")),
        )
        if count
    )
    return (
        f"{entity.name} is the seller on {issued}; it is kept so they still show who issued them."
    )


def delete_legal_entity(session: Session, entity: LegalEntity) -> None:
    """Delete a legal entity that bills no customer and has issued nothing, and commit."""
    refusal = legal_entity_delete_refusal(session, entity)
    if refusal:
        raise SettingsError(refusal)
    session.delete(entity)
    _commit(session, f"{entity.name} was just given to a customer; it is kept.", None)
