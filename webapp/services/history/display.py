"""How stored values read in history lines: dates, codes as words, countries, money,
tax classes, legal entities, payment gateways."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from webapp.models.settings import LegalEntity, TaxClass
from webapp.models.staff import Staff
from webapp.services.gateways import gateway_for
from webapp.services.money import format_money
from webapp.services.reference import country_name


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") + " UTC"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _word(value: Any) -> str:
    """A stored code as people read it: in_progress is "In progress"."""
    return _plain(value).replace("_", " ").capitalize()


# How a value is shown: (the session, the record, the value) -> text.
Shown = Callable[[Session, Any, Any], str]


def _as_word(_session: Session, _obj: Any, value: Any) -> str:
    return _word(value)


def _as_country(_session: Session, _obj: Any, value: Any) -> str:
    return country_name(value) if value else ""


def _as_money(_session: Session, obj: Any, value: Any) -> str:
    return format_money(value, obj.currency) if value is not None else ""


def _as_tax_class(session: Session, _obj: Any, value: Any) -> str:
    tax_class = session.get(TaxClass, value) if value is not None else None
    return tax_class.label if tax_class else _plain(value)


def _as_legal_entity(session: Session, _obj: Any, value: Any) -> str:
    entity = session.get(LegalEntity, value) if value is not None else None
    return entity.name if entity else _plain(value)


def _as_gateway(_session: Session, _obj: Any, value: Any) -> str:
    return gateway_for(value).name if value else ""


def _as_on_off(_session: Session, _obj: Any, value: Any) -> str:
    return "On" if value else "Off"


def _as_staff(session: Session, _obj: Any, value: Any) -> str:
    """A staff member by name ("" for nobody: an unassigned ticket)."""
    staff = session.get(Staff, value) if value is not None else None
    return staff.name if staff else _plain(value)
