"""How tall the frame that shows a recorded email must be to show all of it.

The email page shows an email's HTML body in a sandboxed frame that may run no script,
and the panel cannot read a sandboxed frame's content, so nothing in the browser can
size the frame to what it holds. The height is worked out here instead, from the HTML
the frame shows: its text broken into lines word by word at the frame's width, with
the font sizes, line heights, margins and paddings that the emails' inline styles (or a
browser's defaults) give. It errs on the tall side: a character is counted as wide as
in the widest common fonts, and margins are added up, never collapsed. The result is
the whole email in view, and at most a little empty space under it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser

# The windows the email page works the frame's height out for, by their narrowest
# width: a small phone (340 px, the frame's height attribute), a common one (390 px),
# and 700 px, from which the emails' 560 px column fits and stops reflowing. The frame
# is the window's width less the page's paddings and its own borders (FRAME_INSET).
WINDOW_WIDTHS = (340, 390, 700)
FRAME_INSET = 64

DEFAULT_FONT_PX = 16.0
# Average advance of a character in running text, in em: 0.42 in Times (or DejaVu
# Serif), 0.46 in Arial (or Liberation Sans), 0.52 in DejaVu Sans (Arial's stand-in
# where neither is installed); counted a little wider than the widest of them. Bold
# runs a tenth wider, and a wide (CJK) character takes a whole em.
CHAR_EM = 0.54
BOLD = 1.1
NORMAL_LINE_HEIGHT = 1.25  # "line-height: normal" is 1.15 to 1.2 in common fonts
BODY_MARGIN_PX = 8.0  # a browser's, when the <body> has no margin of its own
FRAME_BORDERS_PX = 2.0
SAFETY_PX = 16.0

BLOCKS = {
    "address", "article", "blockquote", "body", "center", "div", "dl", "dd", "dt",
    "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p",
    "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
VOID = {"br", "hr", "img", "meta", "link", "input", "col", "wbr"}
HEADING_EM = {"h1": 2.0, "h2": 1.5, "h3": 1.17, "h4": 1.0, "h5": 0.83, "h6": 0.67}
# A browser's default vertical margins, in em of the element's own font size.
DEFAULT_MARGIN_EM = {
    "p": 1.0, "blockquote": 1.0, "dl": 1.0, "ol": 1.0, "ul": 1.0, "pre": 1.0,
    "h1": 0.67, "h2": 0.83, "h3": 1.0, "h4": 1.33, "h5": 1.67, "h6": 2.33, "hr": 0.5,
}  # fmt: skip
BOLD_TAGS = {"b", "strong", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
DEFAULT_TABLE_SPACING_PX = 2.0

_LENGTH = re.compile(r"^(-?[\d.]+)(px|em|rem|%)?$")


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    children: list[_Node | str] = field(default_factory=list)

    def style(self) -> dict[str, str]:
        declarations = {}
        for part in self.attrs.get("style", "").split(";"):
            name, _, value = part.partition(":")
            if value.strip():
                declarations[name.strip().lower()] = value.strip().lower()
        return declarations


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("body", {})
        self.open = [self.root]
        self.in_head = False

    def handle_starttag(self, tag, attrs):
        if tag in ("html", "head", "title", "meta"):  # the document's frame, not its body
            self.in_head = self.in_head or tag in ("head", "title")
            return
        if tag == "body":  # the document's own <body>: its style is the root's
            self.root.attrs.update({name: value or "" for name, value in attrs})
            return
        node = _Node(tag, {name: value or "" for name, value in attrs})
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_endtag(self, tag):
        if tag in ("head", "title"):
            self.in_head = False
            return
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data):
        if not self.in_head:
            self.open[-1].children.append(data)


@dataclass(frozen=True)
class _Font:
    size: float  # px
    line_factor: float | None  # a unitless line-height, inherited as a factor
    line_px: float | None  # a line-height in a unit, inherited as a length
    bold: bool
    preserve_breaks: bool  # white-space: pre, pre-wrap or pre-line
    break_words: bool  # word-break: break-all or overflow-wrap: anywhere / break-word

    @property
    def line_height(self) -> float:
        """Never less than "normal": a browser's smallest line counts as more."""
        given = self.line_px if self.line_px is not None else (self.line_factor or 0) * self.size
        return max(given, self.size * NORMAL_LINE_HEIGHT)


PLAIN = _Font(DEFAULT_FONT_PX, NORMAL_LINE_HEIGHT, None, False, False, False)


def _length(value: str, font_px: float, percent_of: float | None = None) -> float | None:
    found = _LENGTH.match(value.strip())
    if not found:
        return None
    number, unit = float(found.group(1)), found.group(2) or "px"
    if unit == "px":
        return number
    if unit == "em":
        return number * font_px
    if unit == "rem":
        return number * DEFAULT_FONT_PX
    return number * percent_of / 100 if percent_of is not None else None


def _box(value: str | None, font_px: float) -> tuple[float, float, float, float]:
    """Top, right, bottom, left of a margin or padding shorthand (auto counts as 0)."""
    if not value:
        return (0.0, 0.0, 0.0, 0.0)
    sides = [_length(part, font_px) or 0.0 for part in value.split()[:4]]
    top, right, bottom, left = {
        1: lambda s: (s[0], s[0], s[0], s[0]),
        2: lambda s: (s[0], s[1], s[0], s[1]),
        3: lambda s: (s[0], s[1], s[2], s[1]),
        4: lambda s: tuple(s),
    }[len(sides)](sides)
    return (max(top, 0.0), max(right, 0.0), max(bottom, 0.0), max(left, 0.0))


def _font_of(node: _Node, parent: _Font) -> _Font:
    style = node.style()
    size = parent.size * HEADING_EM.get(node.tag, 1.0)
    if "font-size" in style:
        size = _length(style["font-size"], parent.size, parent.size) or size
    line_factor, line_px = parent.line_factor, parent.line_px
    value = style.get("line-height", "")
    if re.fullmatch(r"[\d.]+", value):
        line_factor, line_px = float(value), None
    elif value == "normal":
        line_factor, line_px = NORMAL_LINE_HEIGHT, None
    elif value and _length(value, size, size) is not None:
        line_factor, line_px = None, _length(value, size, size)
    weight = style.get("font-weight", "")
    bold = parent.bold or node.tag in BOLD_TAGS or weight in ("bold", "bolder", "600", "700")
    white_space = style.get("white-space", "")
    preserve = parent.preserve_breaks or node.tag == "pre" or white_space.startswith("pre")
    breaks = parent.break_words or style.get("word-break") == "break-all"
    breaks = breaks or style.get("overflow-wrap", "") in ("anywhere", "break-word")
    return _Font(size, line_factor, line_px, bold, preserve, breaks)


def _char_width(char: str, font: _Font) -> float:
    em = 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else CHAR_EM
    return em * font.size * (BOLD if font.bold else 1.0)


def _lines(runs: list[tuple[str | None, _Font]], width: float) -> float:
    """The height of inline text (runs of text, each in its font) broken into lines at
    ``width``: greedy, word by word, as a browser breaks them."""
    height = 0.0
    line_width, line_height, words_on_line = 0.0, 0.0, 0

    def end_line() -> None:
        nonlocal height, line_width, line_height, words_on_line
        height += line_height
        line_width, line_height, words_on_line = 0.0, 0.0, 0

    for text, font in runs:
        if text is None:  # a <br>, or a line break kept by white-space
            line_height = max(line_height, font.line_height)
            end_line()
            continue
        space = CHAR_EM * font.size
        for word in text.split():
            word_width = sum(_char_width(char, font) for char in word)
            if words_on_line and line_width + space + word_width > width:
                end_line()
            if font.break_words and word_width > width:
                height += font.line_height * (math.ceil(word_width / width) - 1)
                word_width = word_width % width
            line_width += (space if words_on_line else 0.0) + word_width
            line_height = max(line_height, font.line_height)
            words_on_line += 1
    if words_on_line:
        end_line()
    return height


def _inline_runs(node: _Node, font: _Font, runs: list[tuple[str | None, _Font]]) -> None:
    for child in node.children:
        if isinstance(child, str):
            if font.preserve_breaks and "\n" in child:
                for index, part in enumerate(child.split("\n")):
                    if index:
                        runs.append((None, font))
                    runs.append((part, font))
            else:
                runs.append((child, font))
        elif child.tag == "br":
            runs.append((None, font))
        elif child.tag == "img":
            size = _length(child.attrs.get("height", ""), font.size) or 0.0
            picture = _Font(font.size, None, max(size, font.line_height), False, False, False)
            runs.append(("\u00a0", picture))
        else:
            _inline_runs(child, _font_of(child, font), runs)


def _is_block(node: _Node | str) -> bool:
    if isinstance(node, str):
        return False
    display = node.style().get("display", "")
    return node.tag in BLOCKS or display in ("block", "inline-block", "flex", "table")


def _rows(table: _Node) -> list[tuple[_Node, list[_Node]]]:
    """Each row of ``table`` (directly in it or in its sections) with its cells."""
    rows: list[_Node] = []
    for child in table.children:
        if isinstance(child, _Node):
            if child.tag == "tr":
                rows.append(child)
            elif child.tag in ("thead", "tbody", "tfoot"):
                rows += [row for row in child.children if isinstance(row, _Node)]
    return [(row, [cell for cell in row.children if isinstance(cell, _Node)]) for row in rows]


def _unwrapped_width(node: _Node, font: _Font) -> float:
    """How wide ``node``'s text is on one line (the longest line of it); a cell holding
    blocks (a table in a table) counts as wider than any window."""
    if any(_is_block(child) for child in node.children):
        return math.inf
    runs: list[tuple[str | None, _Font]] = []
    _inline_runs(node, font, runs)
    widest = current = 0.0
    for text, run_font in runs:
        if text is None:
            widest, current = max(widest, current), 0.0
            continue
        for word in text.split():
            current += sum(_char_width(char, run_font) for char in word) + CHAR_EM * run_font.size
    return max(widest, current)


def _column_widths(wanted: list[float], width: float) -> list[float]:
    """Each column's width in a table ``width`` wide, given the width each would take
    on one line: all of it when everything fits; else narrow columns keep theirs and
    the wide ones share what is left equally (a browser gives the widest text more than
    that share, so its lines are counted on the high side)."""
    if sum(wanted) <= width:
        return wanted
    widths = list(wanted)
    wide = set(range(len(wanted)))
    left = width
    while wide:
        share = left / len(wide)
        narrow = {index for index in wide if wanted[index] <= share}
        if not narrow:
            for index in wide:
                widths[index] = share
            break
        for index in narrow:
            left -= wanted[index]
        wide -= narrow
    return widths


def _table_height(node: _Node, font: _Font, width: float) -> float:
    padding = float(node.attrs.get("cellpadding") or 1)
    spacing = float(node.attrs.get("cellspacing") or DEFAULT_TABLE_SPACING_PX)
    rows = [(_font_of(row, font), cells) for row, cells in _rows(node)]
    columns = max((len(cells) for _, cells in rows), default=0)
    wanted = [0.0] * columns
    for row_font, cells in rows:
        for index, cell in enumerate(cells):
            box = _box(cell.style().get("padding"), row_font.size)
            unwrapped = _unwrapped_width(cell, _font_of(cell, row_font))
            wanted[index] = max(wanted[index], unwrapped + 2 * padding + box[1] + box[3])
    widths = _column_widths(wanted, width - spacing * (columns + 1))
    height = spacing
    for row_font, cells in rows:
        tallest = 0.0
        for index, cell in enumerate(cells):
            content = _block_height(cell, _font_of(cell, row_font), widths[index] - 2 * padding)
            tallest = max(tallest, content + 2 * padding)
        height += tallest + spacing + 2.0  # a row's borders
    return height


def _block_height(node: _Node, font: _Font, width: float, own_box: bool = True) -> float:
    """The height of a block-level element laid out at ``width`` (its margin box)."""
    style = node.style() if own_box else {}
    margin = _box(style.get("margin"), font.size)
    if "margin" not in style and node.tag in DEFAULT_MARGIN_EM:
        em = DEFAULT_MARGIN_EM[node.tag] * font.size
        margin = (em, margin[1], em, margin[3])
    padding = _box(style.get("padding"), font.size)
    inner = width - margin[1] - margin[3] - padding[1] - padding[3]
    if "max-width" in style:
        inner = min(inner, _length(style["max-width"], font.size, width) or inner)
    inner = max(inner, font.size)  # never narrower than one character
    if node.tag == "hr":
        content = 2.0
    elif node.tag == "table":
        content = _table_height(node, font, inner)
    else:
        content = 0.0
        runs: list[tuple[str | None, _Font]] = []
        for child in node.children:
            if _is_block(child):
                content += _lines(runs, inner)
                runs = []
                content += _block_height(child, _font_of(child, font), inner)
            elif isinstance(child, str):
                _inline_runs(_Node("span", {}, [child]), font, runs)
            elif child.tag == "br":
                runs.append((None, font))
            else:
                _inline_runs(_Node("span", {}, [child]), font, runs)
        content += _lines(runs, inner)
    return margin[0] + padding[0] + content + padding[2] + margin[2]


def estimated_height(html: str, frame_width: float) -> int:
    """Pixels of frame height (its borders included) that show all of ``html`` when
    the frame is ``frame_width`` pixels wide inside."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    body = builder.root
    margin = 0.0 if "margin" in body.style() else BODY_MARGIN_PX
    content = _block_height(body, _font_of(body, PLAIN), frame_width - 2 * margin)
    return math.ceil(content + 2 * margin + FRAME_BORDERS_PX + SAFETY_PX)


def frame_heights(html: str) -> dict[int, int]:
    """The frame's height for ``html`` in each window of WINDOW_WIDTHS (from that width
    up): the page gives the first as the frame's height attribute, which every browser
    keeps, and the others as data-height-<width> attributes, which app.css reads with
    attr() where the browser can (elsewhere the first, taller height stays)."""
    return {window: estimated_height(html, window - FRAME_INSET) for window in WINDOW_WIDTHS}
