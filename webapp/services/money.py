"""Money: integer minor units plus an ISO 4217 code. Never floats.

Exponents come from Babel's CLDR data (JPY 0 decimals, EUR 2, KWD 3), so
"12.50" EUR is 1250 and "1500" JPY is 1500.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache

from babel.numbers import format_currency, get_currency_precision

from webapp.services.reference import currency_codes

# The largest single amount accepted, in major units: a typo guard, not a business limit.
MAX_MAJOR_UNITS = 100_000_000


class AmountError(ValueError):
    """The amount cannot be used; the message is shown beside the field."""


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """Decimal places of a currency's minor unit."""
    return get_currency_precision(currency)


def parse_amount(text: str | None, currency: str, allow_negative: bool = True) -> int:
    """Parse what a person typed ("12.5", "1,234.56", "-3") into signed minor units."""
    if currency not in currency_codes():
        raise AmountError("Choose a currency from the list.")
    raw = (text or "").strip().replace(" ", "").replace("\u2212", "-")
    if not raw:
        raise AmountError("Enter an amount.")
    if len(raw) > 40:
        raise AmountError("That amount is too long; check it.")
    # Thousands separators only in their proper places: 1,234.56 but not 1,23.4
    if "," in raw and not re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", raw):
        raise AmountError("Write the amount like 1234.56 or 1,234.56.")
    raw = raw.replace(",", "")
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", raw):
        raise AmountError("Enter the amount as a number, e.g. 12.50.")
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern above admits only numbers
        raise AmountError("Enter the amount as a number, e.g. 12.50.") from None
    places = exponent(currency)
    if abs(value) > MAX_MAJOR_UNITS:  # before quantize, which fails past 28 digits
        raise AmountError(
            f"That is more than {format_money(MAX_MAJOR_UNITS * 10**places, currency)}; "
            "check the amount."
        )
    if value != value.quantize(Decimal(1).scaleb(-places)):
        if places == 0:
            raise AmountError(f"{currency} has no decimals: enter a whole amount.")
        raise AmountError(f"{currency} has {places} decimals at most.")
    if value == 0:
        raise AmountError("The amount cannot be zero.")
    if value < 0 and not allow_negative:
        raise AmountError("Enter a positive amount.")
    if abs(value) > MAX_MAJOR_UNITS:
        raise AmountError(
            f"That is more than {format_money(MAX_MAJOR_UNITS * 10**places, currency)}; "
            "check the amount."
        )
    return int(value.scaleb(places))


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-exponent(currency))


def _babel_money(amount_minor: int, currency: str) -> str:
    text = format_currency(to_decimal(amount_minor, currency), currency, locale="en")
    # A currency shown by its code reads "KWD 1.234", not "KWD1.234" (no-break space).
    text = re.sub(r"^(-?)([A-Z]{3})(?=\d)", "\\1\\2\u00a0", text)
    return text.replace("-", "\u2212", 1) if amount_minor < 0 else text


_SAMPLES = (0, 1, -1, 7, -99, 100_050, -123_456_789, 98_765_432_100)


@cache
def _prefix_of(currency: str) -> str | None:
    """The symbol Babel puts before an amount of ``currency`` ("€", "CA$", "KWD\u00a0"),
    when plain grouping after it gives Babel's own text; None sends it to Babel."""
    text = _babel_money(1, currency)
    digits = re.search(r"\d", text)
    if digits is None:
        return None
    prefix = text[: digits.start()]
    for amount in _SAMPLES:
        if _fast_money(amount, currency, prefix) != _babel_money(amount, currency):
            return None
    return prefix


def _fast_money(amount_minor: int, currency: str, prefix: str) -> str:
    places = exponent(currency)
    number = f"{to_decimal(abs(amount_minor), currency):,.{places}f}"
    return ("\u2212" if amount_minor < 0 else "") + prefix + number


def format_money(amount_minor: int, currency: str) -> str:
    """−€150.00, ¥1,500, KWD 1.234: Babel's format with a real minus sign. A list page
    formats 50 of these: each currency's symbol is found once, checked against Babel on
    sample amounts, and used directly; a currency that formats otherwise goes to Babel."""
    prefix = _prefix_of(currency)
    if prefix is None:
        return _babel_money(amount_minor, currency)
    return _fast_money(amount_minor, currency, prefix)


def format_plain(amount_minor: int, currency: str) -> str:
    """The number alone, as typed in a form field: 1234.50."""
    return f"{to_decimal(amount_minor, currency):f}"


def balance_wording(amount_minor: int) -> str:
    """How a balance reads to staff: charges are negative, so negative means owing."""
    if amount_minor < 0:
        return "owes"
    if amount_minor > 0:
        return "in credit"
    return "paid in full"


def outstanding(
    balances: Iterable[tuple[int, str]], billing_currency: str
) -> list[tuple[int, str]]:
    """The currencies whose balance is not zero, (amount_minor, currency), the billing
    currency first: what a balance says at a glance. Empty: paid in full in every one."""
    found = [(amount, currency) for amount, currency in balances if amount]
    return sorted(found, key=lambda pair: (pair[1] != billing_currency, pair[1]))


def balance_phrase(amount_minor: int, currency: str) -> str:
    """One currency of a balance as staff read it: "Owes $1,469.06", "€125.00 in credit"."""
    if amount_minor < 0:
        return f"Owes {format_money(-amount_minor, currency)}"
    if amount_minor > 0:
        return f"{format_money(amount_minor, currency)} in credit"
    return f"{format_money(0, currency)} paid in full"


def due_phrase(amount_minor: int, currency: str) -> str:
    """A balance as a statement tells the customer: "Amount due €150.00", "In credit
    €25.00", "Paid in full"."""
    if amount_minor < 0:
        return f"Amount due {format_money(-amount_minor, currency)}"
    if amount_minor > 0:
        return f"In credit {format_money(amount_minor, currency)}"
    return "Paid in full"


def tax_for(net_minor: int, rate_bp: int) -> int:
    """Tax on a net amount at a rate in hundredths of a percent, rounded half up."""
    tax = (Decimal(net_minor) * Decimal(rate_bp) / Decimal(10_000)).quantize(
        Decimal(1), rounding="ROUND_HALF_UP"
    )
    return int(tax)
