"""Money rules in webapp/services/money.py: parsing what staff type, formatting, tax."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.services.money import (
    AmountError,
    balance_wording,
    exponent,
    format_money,
    format_plain,
    parse_amount,
    tax_for,
    to_decimal,
)

MINUS = "\u2212"


@pytest.mark.parametrize(
    ("currency", "places"), [("EUR", 2), ("USD", 2), ("GBP", 2), ("JPY", 0), ("KWD", 3)]
)
def test_exponents_come_from_babel(currency, places):
    assert exponent(currency) == places


# -- parse_amount: accepted ------------------------------------------------------------

ACCEPTED = [
    # text, currency, minor units
    ("12.5", "EUR", 1250),
    ("12.50", "EUR", 1250),
    ("12", "EUR", 1200),
    ("-3", "EUR", -300),
    ("1,234.56", "EUR", 123456),
    ("-1,234.56", "EUR", -123456),
    ("1,234,567.89", "EUR", 123456789),
    ("0.01", "EUR", 1),
    (".5", "EUR", 50),
    ("+7", "EUR", 700),
    ("  42.00 ", "EUR", 4200),
    ("1 000", "EUR", 100000),
    (f"{MINUS}3", "EUR", -300),  # a typographic minus pasted from a document
    ("100000000", "EUR", 10_000_000_000),  # the largest accepted amount
    ("1500", "JPY", 1500),
    ("-1500", "JPY", -1500),
    ("1,500", "JPY", 1500),
    ("1", "JPY", 1),
    ("1.234", "KWD", 1234),
    ("1.5", "KWD", 1500),
    ("-0.001", "KWD", -1),
    ("1,000.125", "KWD", 1000125),
]


@pytest.mark.parametrize(("text", "currency", "minor"), ACCEPTED)
def test_parse_amount_accepts(text, currency, minor):
    assert parse_amount(text, currency) == minor


# -- parse_amount: refused, with the message shown beside the field ---------------------

NOT_A_NUMBER = "Enter the amount as a number, e.g. 12.50."
BAD_GROUPING = "Write the amount like 1234.56 or 1,234.56."
TOO_BIG_EUR = "That is more than €100,000,000.00; check the amount."

REFUSED = [
    # text, currency, message
    ("0", "EUR", "The amount cannot be zero."),
    ("0.00", "EUR", "The amount cannot be zero."),
    ("-0", "EUR", "The amount cannot be zero."),
    ("0", "JPY", "The amount cannot be zero."),
    ("", "EUR", "Enter an amount."),
    ("   ", "EUR", "Enter an amount."),
    (None, "EUR", "Enter an amount."),
    ("abc", "EUR", NOT_A_NUMBER),
    ("12abc", "EUR", NOT_A_NUMBER),
    ("NaN", "EUR", NOT_A_NUMBER),
    ("nan", "EUR", NOT_A_NUMBER),
    ("-NaN", "EUR", NOT_A_NUMBER),
    ("sNaN", "EUR", NOT_A_NUMBER),
    ("Infinity", "EUR", NOT_A_NUMBER),
    ("-Infinity", "EUR", NOT_A_NUMBER),
    ("inf", "EUR", NOT_A_NUMBER),
    ("1e5", "EUR", NOT_A_NUMBER),
    ("1E-2", "EUR", NOT_A_NUMBER),
    ("0x10", "EUR", NOT_A_NUMBER),
    ("1.2.3", "EUR", NOT_A_NUMBER),
    ("--3", "EUR", NOT_A_NUMBER),
    ("3-", "EUR", NOT_A_NUMBER),
    ("€12", "EUR", NOT_A_NUMBER),
    ("12,50", "EUR", BAD_GROUPING),  # a decimal comma is ambiguous: refuse, do not guess
    ("1,23.4", "EUR", BAD_GROUPING),
    ("1234,567", "EUR", BAD_GROUPING),
    (",123", "EUR", BAD_GROUPING),
    ("1.234", "EUR", "EUR has 2 decimals at most."),
    ("0.001", "EUR", "EUR has 2 decimals at most."),
    ("-12.345", "EUR", "EUR has 2 decimals at most."),
    ("1.5", "JPY", "JPY has no decimals: enter a whole amount."),
    ("1.50", "JPY", "JPY has no decimals: enter a whole amount."),
    ("1.2345", "KWD", "KWD has 3 decimals at most."),
    ("100000000.01", "EUR", TOO_BIG_EUR),
    ("100000001", "EUR", TOO_BIG_EUR),
    ("-100000001", "EUR", TOO_BIG_EUR),
    ("99999999999999999999999999", "EUR", TOO_BIG_EUR),
    ("100000001", "JPY", "That is more than ¥100,000,000; check the amount."),
    ("12", "ZZZ", "Choose a currency from the list."),
    ("12", "eur", "Choose a currency from the list."),
    ("12", "", "Choose a currency from the list."),
    ("12", "EURO", "Choose a currency from the list."),
]


@pytest.mark.parametrize(("text", "currency", "message"), REFUSED)
def test_parse_amount_refuses(text, currency, message):
    with pytest.raises(AmountError) as refused:
        parse_amount(text, currency)
    assert str(refused.value) == message


def test_parse_amount_refuses_negative_where_only_positive_makes_sense():
    with pytest.raises(AmountError, match="Enter a positive amount."):
        parse_amount("-3", "EUR", allow_negative=False)
    assert parse_amount("3", "EUR", allow_negative=False) == 300


def test_amount_error_is_a_value_error():
    """Form code that catches ValueError still sees the message."""
    assert issubclass(AmountError, ValueError)


# -- formatting -----------------------------------------------------------------------

FORMATTED = [
    (-15000, "EUR", f"{MINUS}€150.00"),
    (15000, "EUR", "€150.00"),
    (0, "EUR", "€0.00"),
    (1, "EUR", "€0.01"),
    (123456789, "EUR", "€1,234,567.89"),
    (1500, "JPY", "¥1,500"),
    (-1500, "JPY", f"{MINUS}¥1,500"),
    (-123456, "USD", f"{MINUS}$1,234.56"),
]


@pytest.mark.parametrize(("minor", "currency", "text"), FORMATTED)
def test_format_money(minor, currency, text):
    assert format_money(minor, currency) == text


def test_format_money_uses_a_real_minus_sign_once():
    text = format_money(-15000, "EUR")
    assert text.startswith(MINUS)
    assert "-" not in text
    assert text.count(MINUS) == 1


@pytest.mark.parametrize(("minor", "digits"), [(1234, "1.234"), (-1234, "1.234"), (5, "0.005")])
def test_format_money_kwd_has_three_decimals(minor, digits):
    text = format_money(minor, "KWD")
    assert "KWD" in text
    assert text.endswith(digits)
    assert text.startswith(MINUS) == (minor < 0)


def test_format_money_kwd_separates_the_code_from_the_number():
    """The docstring promises "KWD 1.234"; Babel (which does not apply CLDR's
    currencySpacing) yields "KWD1.234", which reads as one token."""
    text = format_money(1234, "KWD")
    assert text in ("KWD 1.234", "KWD\u00a01.234"), text


@pytest.mark.parametrize(
    ("minor", "currency", "plain"),
    [
        (123450, "EUR", "1234.50"),
        (-300, "EUR", "-3.00"),
        (1500, "JPY", "1500"),
        (1, "KWD", "0.001"),
    ],
)
def test_format_plain_round_trips_through_parse_amount(minor, currency, plain):
    assert format_plain(minor, currency) == plain
    assert parse_amount(plain, currency) == minor


def test_to_decimal_is_exact():
    assert str(to_decimal(1, "EUR")) == "0.01"
    assert str(to_decimal(1500, "JPY")) == "1500"
    assert str(to_decimal(-1234, "KWD")) == "-1.234"


# -- tax ------------------------------------------------------------------------------

TAX = [
    # net minor, rate in hundredths of a percent, tax minor
    (10000, 1900, 1900),  # 19 % of €100.00
    (10000, 0, 0),
    (999, 0, 0),
    (12345, 2000, 2469),  # 2469.0
    (1001, 1950, 195),  # 195.195 rounds down
    (10, 2500, 3),  # 2.5 rounds half up
    (1, 5000, 1),  # 0.5 rounds half up
    (3, 5000, 2),  # 1.5 rounds half up
    (1, 4999, 0),  # 0.4999 rounds down
    (5, 1000, 1),  # 0.5 rounds half up
    (1500, 1000, 150),  # JPY: whole yen
    (10_000_000_000, 2700, 2_700_000_000),  # the largest amount at 27 %: exact, no float
]


@pytest.mark.parametrize(("net", "rate", "tax"), TAX)
def test_tax_for_rounds_half_up(net, rate, tax):
    result = tax_for(net, rate)
    assert result == tax
    assert isinstance(result, int)


# -- wording --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "wording"),
    [(-1, "owes"), (-15000, "owes"), (0, "paid in full"), (1, "in credit"), (15000, "in credit")],
)
def test_balance_wording(minor, wording):
    assert balance_wording(minor) == wording


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_the_quick_money_format_is_babels_for_every_currency(amount):
    """format_money skips Babel for speed; it must never read differently from it."""
    from webapp.services.money import _babel_money
    from webapp.services.reference import currency_codes

    for code in sorted(currency_codes()):
        assert format_money(amount, code) == _babel_money(amount, code), code
