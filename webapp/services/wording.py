"""How counts read in messages: "1 invoice", "3 invoices", "1,204 customers"."""

from __future__ import annotations


def counted(number: int, one: str, many: str) -> str:
    """The number with the singular or the plural noun."""
    return f"{number:,} {one if number == 1 else many}"
