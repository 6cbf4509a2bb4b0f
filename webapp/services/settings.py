"""Tax classes and legal entities: the settings customers are billed under.

Every customer is in a tax class (its rate is the customer's tax rate) and is billed
by a legal entity (the seller on its invoices, whose series numbers them). A new
database has neither until the first customer needs one: then "No tax" and an
entity named after ``SELLER_NAME`` are made, so the panel works out of the box.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.models.customer import Customer
from webapp.models.settings import LegalEntity, TaxClass
from webapp.services.reference import format_tax_rate

DEFAULT_CURRENCY = "EUR"


def tax_classes(session: Session) -> list[TaxClass]:
    return list(session.scalars(select(TaxClass).order_by(TaxClass.rate_bp, TaxClass.name)))


def legal_entities(session: Session) -> list[LegalEntity]:
    return list(session.scalars(select(LegalEntity).order_by(LegalEntity.name)))


def tax_class_for_rate(session: Session, rate_bp: int) -> TaxClass:
    """The first class with this rate, made if there is none ("No tax", "Rate 19.00 %").
    For customers created without a form: demo data, imports, tests."""
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
    """Change a class's rate and every customer's mirrored rate with it; returns how
    many customers changed. Issued invoices keep the rate they were issued at."""
    tax_class.rate_bp = rate_bp
    result = session.execute(
        update(Customer)
        .where(Customer.tax_class_id == tax_class.id, Customer.tax_rate_bp != rate_bp)
        .values(tax_rate_bp=rate_bp)
        .execution_options(synchronize_session="fetch")
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
