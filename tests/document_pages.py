"""Reading an invoice or credit note page: its seller and buyer blocks, its text."""

from __future__ import annotations

import re
from html import unescape


def _section(html: str, opening: str) -> str:
    found = re.search(rf"{opening}(.*?)</section>", html, re.S)
    assert found, f"no {opening} on the page"
    return found.group(1)


def seller_block(html: str) -> str:
    """The seller's block of a document page (HTML)."""
    return _section(html, r'<section class="seller"[^>]*>')


def buyer_block(html: str) -> str:
    """The buyer's block ("Bill to" / "Credited to") of a document page (HTML)."""
    return _section(html, r'<section aria-labelledby="buyer-heading">')


def text_of(html: str) -> str:
    """What a reader sees of the document: tags dropped, entities read, spaces collapsed."""
    found = re.search(r'<article class="document">(.*?)</article>', html, re.S)
    assert found, "no document on the page"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())
