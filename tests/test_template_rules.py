"""Rules every template keeps, checked on the parsed templates (not by eye)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, nodes

ROOT = Path(__file__).resolve().parent.parent / "webapp"
TEMPLATES = sorted(
    path
    for folder in ("templates", "partials")
    for path in (ROOT / folder).rglob("*")
    if path.suffix in (".html", ".txt")
)


def inline_ifs_without_else(source: str) -> list[int]:
    """Lines of ``{{ x if y }}`` with no else: false, it yields an Undefined object that
    costs several times an empty string to render (46 of them made a list page slower)."""
    tree = Environment().parse(source)
    return sorted(node.lineno for node in tree.find_all(nodes.CondExpr) if node.expr2 is None)


def test_the_rule_finds_an_inline_if_without_else():
    assert inline_ifs_without_else('{{ "a" if x }}\n{{ "b" if y else "" }}') == [1]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_inline_if_has_an_else(path):
    assert inline_ifs_without_else(path.read_text()) == [], 'add else ""'
