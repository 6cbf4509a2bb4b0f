"""Following a page's Next / Previous / First links (keyset paging), as a person clicks."""

from __future__ import annotations

import re
from html import unescape

_LINK = re.compile(r'<a href="([^"]*)"[^>]*\brel="(next|prev|first)"')


def link(html: str, rel: str, path: str = "") -> str | None:
    """The href of the ``rel`` link ("next", "prev", "first"), or None when there is none;
    an href that is only a query string ("?after=…") is joined to ``path``."""
    for href, found in _LINK.findall(html):
        if found == rel:
            href = unescape(href)
            return path + href if href.startswith("?") else href
    return None


def follow(client, html: str, rel: str, path: str = "", **kwargs) -> str:
    """The page behind the ``rel`` link; fails when the page has no such link."""
    href = link(html, rel, path)
    assert href is not None, f"no {rel} link"
    response = client.get(href, **kwargs)
    assert response.status_code == 200, href
    return response.get_data(as_text=True)
