"""Reference data and field normalisers backed by well-kept libraries.

Countries come from pycountry, currencies from pycountry with Babel for the
country's tender, VAT numbers from python-stdnum, phone numbers from
phonenumbers, and email syntax from email-validator. Each normaliser returns
the value to store or raises ``ValueError`` with a message for the form.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from babel.numbers import get_territory_currencies
from email_validator import EmailNotValidError, validate_email
from stdnum import get_cc_module
from stdnum.exceptions import ValidationError as StdnumValidationError


@cache
def countries() -> list[tuple[str, str]]:
    """(ISO 3166-1 alpha-2, name) for every country, sorted by name."""
    return sorted(
        ((c.alpha_2, getattr(c, "common_name", c.name)) for c in pycountry.countries),
        key=lambda pair: pair[1],
    )


@cache
def currencies() -> list[tuple[str, str]]:
    """(ISO 4217 code, name) for every current currency, sorted by code."""
    return sorted((c.alpha_3, c.name) for c in pycountry.currencies)


@cache
def country_codes() -> frozenset[str]:
    return frozenset(code for code, _ in countries())


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(code for code, _ in currencies())


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code) if code else None
    return getattr(country, "common_name", None) or getattr(country, "name", code or "")


@cache
def currency_for_country(country: str) -> str | None:
    """The currency a country tenders today, per the CLDR data shipped with Babel."""
    if not country or country.upper() not in country_codes():
        return None
    for code in get_territory_currencies(country.upper(), tender=True):
        if code in currency_codes():
            return code
    return None


@lru_cache(maxsize=4096)
def normalise_email(value: str) -> str:
    """Check syntax only (no DNS); return it lower-cased, so one mailbox typed twice matches.
    Remembered for the last few thousand addresses: a CSV import matches each row by its
    address and then checks it with the form."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return result.normalized.lower()


def normalise_phone(value: str, country: str | None) -> str:
    """Parse a phone number (national numbers use ``country``) and return E.164."""
    value = value.strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        raise ValueError(
            "Enter a phone number, with its country code (e.g. +44 20 7946 0958) "
            "or as dialled in the customer's country."
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("This is not a valid phone number for its country.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """E.164 as people write it: +44 20 7946 0958."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalise_tax_id(value: str, country: str | None) -> str:
    """Validate a VAT/tax number where stdnum knows the country's format; return it compacted.
    A typed country prefix (DE123…) is kept, so it reads as it will on an invoice."""
    compact = re.sub(r"[\s.\-/]", "", value).upper()
    if not compact:
        return ""
    module = get_cc_module(country.lower(), "vat") if country else None
    if module is None:
        if not re.fullmatch(r"[A-Z0-9]{2,40}", compact):
            raise ValueError("A tax ID may contain only letters and digits.")
        return compact
    try:
        number = module.validate(compact)
    except StdnumValidationError:
        name = country_name(country.upper())
        raise ValueError(f"This is not a valid VAT number for {name}.") from None
    prefix = compact[: len(compact) - len(number)] if compact.endswith(number) else ""
    return f"{prefix}{number}" if prefix.isalpha() else number


def normalise_website(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\d)", value)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise ValueError("Only http:// and https:// web addresses are allowed.")
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("Only http:// and https:// web addresses are allowed.")
    if not parts.hostname or "." not in parts.hostname or " " in value:
        raise ValueError("Enter a web address such as https://example.com.")
    if len(value) > 300:
        raise ValueError("A web address can be at most 300 characters.")
    return value


def parse_tax_rate(value: str | None) -> int:
    """'19', '19.5', '7.25' -> hundredths of a percent (1900, 1950, 725)."""
    text = (value or "").strip().rstrip("%").strip().replace(",", ".")
    if not text:
        return 0
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise ValueError("Enter the tax rate as a number, e.g. 19 or 7.25.") from None
    if not rate.is_finite():
        raise ValueError("Enter the tax rate as a number, e.g. 19 or 7.25.")
    if rate < 0 or rate > 100:
        raise ValueError("The tax rate must be between 0 and 100 %.")
    if rate != rate.quantize(Decimal("0.01")):
        raise ValueError("The tax rate can have at most two decimals.")
    return int(rate * 100)


def format_tax_rate(rate_bp: int) -> str:
    """Hundredths of a percent as written: 1900 -> '19.00'."""
    return f"{rate_bp // 100}.{rate_bp % 100:02d}"


def fold_text(value: str) -> str:
    """Lower-case and strip accents so 'Müller' is found by 'muller' and 'MÜLLER'."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# PostgreSQL's text cannot hold NUL (U+0000): psycopg refuses it, so a NUL would be a
# 500 there and stored as sent on SQLite. Every other character a request can carry
# is storable (werkzeug decodes bad UTF-8 to U+FFFD, so no lone surrogate arrives).
UNSTORABLE_CHARACTERS = frozenset("\x00")
UNSTORABLE_IN_FIELD = "Remove the invisible control character (NUL) from this field."
UNSTORABLE_IN_ADDRESS = (
    "The address or search holds an invisible control character (NUL), which Tally "
    "cannot search for or store. Remove it and try again."
)


def has_unstorable_character(value: str | None) -> bool:
    """Whether ``value`` holds a character the database cannot store (NUL)."""
    return bool(value) and not UNSTORABLE_CHARACTERS.isdisjoint(value)
