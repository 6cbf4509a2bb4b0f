"""PDF copies of documents: an A4 layout engine over fpdf2, with the bundled fonts.

``render(sheet)`` lays out a ``Sheet`` (``services.pdf_sheet``; text only: every amount is already
formatted by the caller, with the same function the page uses) and returns the
PDF's bytes. The layout: the seller top left, the title and number top right, the
buyer with the dates beside it, the lines table (its heading repeated on every
page it runs onto), the totals, then any further ``Section`` (a heading, a table
and its totals: a statement's summary, each currency's entries, its open
invoices), notes, and on every page the footer text and "Page N of M".

The text is real text in DejaVu Sans (``webapp/fonts/``), embedded as a subset,
so it can be searched, copied and read back. Characters DejaVu Sans lacks (Chinese,
Japanese, Korean …) are drawn from a fallback font when one is configured or found
on the system (``fallback_font_path``), otherwise left out (fpdf2 logs which).

Speed: parsing a TrueType font costs tens of milliseconds, and a document
needs two. Each font is parsed once per process (``_parsed``); a document gets a
light copy of it with its own subset bookkeeping and a fresh, lazily read font
object for fpdf2 to cut its subset from (the cut changes that object). What that
object is read from is prepared once too (``_font_bytes``): without the tables fpdf2
never uses, and, for the usual document, cut down to the common scripts
(COMMON_RANGES), which fontTools reads and cuts far quicker than the whole font.
Lines are wrapped by measuring each word once. The same document always gives the
same bytes: its dates come from the sheet, not the clock.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont

from webapp.services.pdf_sheet import Column, Party, Section, Sheet, Total

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FAMILY = "DejaVuSans"
FONT_FILES = {"": FONT_DIR / "DejaVuSans.ttf", "B": FONT_DIR / "DejaVuSans-Bold.ttf"}
FALLBACK_FAMILY = "Fallback"

# Where Debian's packages put fonts that cover Chinese, Japanese and Korean; the first
# one present is the fallback unless PDF_FALLBACK_FONT names another (or "none").
SYSTEM_FALLBACK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
)

# Tables fpdf2 never uses (it drops the OpenType layout ones from every subset, and
# applies no kerning without text shaping): left out of the bytes read per document.
_UNUSED_TABLES = ("GSUB", "GPOS", "GDEF", "kern", "FFTM", "hdmx", "MATH", "meta")

# A4 in millimetres.
PAGE_WIDTH = 210.0
MARGIN = 18.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
INK = (25, 25, 25)
MUTED = (100, 100, 100)
RULE = (190, 190, 190)
BODY_PT = 9.5
SMALL_PT = 8.0
TITLE_PT = 20.0
LINE = 4.6  # mm per line of body text
SMALL_LINE = 3.8
CELL_PADDING = 1.6


# -- what a document says, as text ------------------------------------------------


COMMON_RANGES = (
    (0x0020, 0x024F),
    (0x0370, 0x03FF),
    (0x0400, 0x052F),
    (0x1E00, 0x1EFF),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x214F),
    (0x2190, 0x21FF),
    (0x2200, 0x22FF),
)


@cache
def _font_bytes(path: Path, common: bool) -> bytes:
    """A bundled font as documents read it, made once per process: without the tables
    fpdf2 never uses, and with ``common`` cut down to COMMON_RANGES (1,900 of DejaVu
    Sans's 6,300 glyphs), which fontTools reads and cuts far quicker."""
    font = ttLib.TTFont(path, recalcTimestamp=False)
    for tag in _UNUSED_TABLES:
        if tag in font:
            del font[tag]
    if common:
        options = ftsubset.Options(
            notdef_outline=True,
            recommended_glyphs=True,
            glyph_names=True,  # the names fpdf2 picks glyphs by stay as they are
            name_IDs=["*"],
            name_languages=["*"],
            layout_features=[],
        )
        options.drop_tables += list(_UNUSED_TABLES)
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(
            unicodes=[
                code
                for code in font.getBestCmap()
                if any(low <= code <= high for low, high in COMMON_RANGES)
            ]
        )
        subsetter.subset(font)
        # One character map is enough for characters that are all in the BMP; the
        # others (Unicode 2-byte and 4-byte, Mac Roman) would be decoded per document.
        cmap = font["cmap"]
        cmap.tables = [
            table for table in cmap.tables if (table.platformID, table.platEncID) == (3, 1)
        ]
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()


@cache
def _parsed(style: str, common: bool) -> TTFFont:
    """fpdf2's parsed font (metrics, character map), once per process."""
    data = io.BytesIO(_font_bytes(FONT_FILES[style], common))
    return TTFFont(FPDF(), data, f"{FAMILY.lower()}{style}", style)


def _add_bundled_font(pdf: FPDF, style: str, common: bool) -> None:
    """What ``pdf.add_font`` does, from the parsed copy: the metrics and character map
    are shared (read only); the subset and the font object it is cut from are the
    document's own. It sets what fpdf2's (pinned) ``TTFFont`` sets per document; the
    tests read every PDF back, so a change there shows."""
    font = copy.copy(_parsed(style, common))
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(
        io.BytesIO(_font_bytes(FONT_FILES[style], common)),
        recalcTimestamp=False,
        # The subset keeps the whole font's bounding box rather than decoding every
        # glyph it keeps to compute a smaller one.
        recalcBBoxes=False,
        lazy=True,
    )
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font


def covered(texts: Sequence[str], common: bool = False) -> bool:
    """Whether DejaVu Sans (or its common cut) draws every character of ``texts``."""
    characters = _parsed("", common).cmap
    return all(
        ord(character) in characters
        for text in texts
        for character in text
        if character not in "\n\r\t"
    )


def fallback_font_path(setting: str = "") -> Path | None:
    """The font for characters DejaVu Sans lacks: ``setting`` (PDF_FALLBACK_FONT: a path,
    or "none"), else the first of SYSTEM_FALLBACK_FONTS installed, else None."""
    chosen = (setting or "").strip()
    if chosen.lower() == "none":
        return None
    for candidate in [chosen] if chosen else SYSTEM_FALLBACK_FONTS:
        path = Path(candidate)
        if path.is_file():
            return path
    return None


def _install_fonts(pdf: FPDF, sheet: Sheet, fallback_font: str) -> None:
    texts = sheet.texts()
    common = covered(texts, common=True)
    for style in FONT_FILES:
        _add_bundled_font(pdf, style, common)
    if common or covered(texts):
        return
    fallback = fallback_font_path(fallback_font)
    if fallback is not None:
        pdf.add_font(FALLBACK_FAMILY, "", str(fallback))
        pdf.set_fallback_fonts([FALLBACK_FAMILY], exact_match=False)


# -- the layout ----------------------------------------------------------------------


class _SheetPdf(FPDF):
    """An A4 page with the footer text and "Page N of M" at the bottom, and on
    continuation pages a line saying whose document it is."""

    def __init__(self, sheet: Sheet) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.sheet = sheet
        self.footer_lines: list[str] = []

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(FAMILY, "", SMALL_PT)
        self.set_text_color(*MUTED)
        self.cell(
            CONTENT_WIDTH,
            SMALL_LINE,
            f"{self.sheet.title} {self.sheet.number} · {self.sheet.seller.name}",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.ln(4)
        self.set_text_color(*INK)

    def footer(self) -> None:
        self.set_y(-(MARGIN - 4 + SMALL_LINE * (len(self.footer_lines) + 1)))
        self.set_font(FAMILY, "", SMALL_PT)
        self.set_text_color(*MUTED)
        for line in self.footer_lines:
            self.cell(
                CONTENT_WIDTH, SMALL_LINE, line, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
        # The page count is filled in when the file is written, in place of an alias that
        # is wider than a digit or two: right-aligned, the text ends that much further right.
        alias = self.str_alias_nb_pages
        count = self.get_string_width(alias) - self.get_string_width("0" * len(str(self.page_no())))
        self.cell(
            CONTENT_WIDTH + count,
            SMALL_LINE,
            f"Page {self.page_no()} of {alias}",
            align=Align.R,
        )
        self.set_text_color(*INK)


def render(sheet: Sheet, fallback_font: str = "") -> bytes:
    """The PDF of ``sheet``: A4, real text, page breaks with the table heading repeated.
    ``fallback_font``: see ``fallback_font_path``."""
    pdf = _SheetPdf(sheet)
    _install_fonts(pdf, sheet, fallback_font)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_title(f"{sheet.title} {sheet.number}")
    pdf.set_author(sheet.seller.name)
    pdf.set_creator("Tally")
    pdf.set_lang(sheet.language)
    pdf.set_creation_date(sheet.issued)
    pdf.set_font(FAMILY, "", SMALL_PT)
    pdf.footer_lines = _wrap(pdf, sheet.footer_text, CONTENT_WIDTH)
    bottom = MARGIN + SMALL_LINE * (len(pdf.footer_lines) + 1) + 4
    pdf.set_auto_page_break(True, margin=bottom)
    pdf.set_text_color(*INK)
    pdf.add_page()
    _head(pdf, sheet)
    _parties(pdf, sheet)
    if sheet.columns:
        _table(pdf, sheet.columns, sheet.rows)
    _totals(pdf, sheet.totals)
    for section in sheet.sections:
        _section(pdf, section)
    _notes(pdf, sheet)
    return bytes(pdf.output())


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """``text`` broken into lines that fit ``width`` in the current font: at spaces, and
    inside a word only when the word alone is wider than the line. (fpdf2's own
    multi_cell measures each line again at every character it adds; this measures
    each word once.)"""
    measure = pdf.get_string_width
    space = measure(" ")
    lines: list[str] = []
    for paragraph in (text or "").replace("\r\n", "\n").split("\n"):
        line: list[str] = []
        used = 0.0
        # Split at plain spaces only: a no-break space ("KWD\u00a01.234") holds.
        for word in filter(None, paragraph.replace("\t", " ").split(" ")):
            word_width = measure(word)
            if line and used + space + word_width <= width:
                line.append(word)
                used += space + word_width
                continue
            if line:
                lines.append(" ".join(line))
            while word_width > width:
                cut = _fitting_prefix(pdf, word, width)
                lines.append(word[:cut])
                word = word[cut:]
                word_width = measure(word)
            line, used = [word], word_width
        if line:
            lines.append(" ".join(line))
    return lines


def _fitting_prefix(pdf: FPDF, word: str, width: float) -> int:
    """How many characters of ``word`` fit ``width`` (at least one)."""
    used = 0.0
    for index, character in enumerate(word):
        used += pdf.get_string_width(character)
        if used > width:
            return max(index, 1)
    return len(word)


def _lines(
    pdf: FPDF,
    x: float,
    width: float,
    texts: Sequence[str],
    height: float,
    align: Align = Align.L,
) -> None:
    """Each text wrapped to ``width``, one line under the other, from the current y."""
    for text in texts:
        for line in _wrap(pdf, text, width):
            pdf.set_x(x)
            pdf.cell(width, height, line, align=align, new_x=XPos.LEFT, new_y=YPos.NEXT)


def _party(pdf: FPDF, party: Party, x: float, width: float, heading: str = "") -> None:
    """A name in bold with its lines under it, from the current y at ``x``."""
    if heading:
        pdf.set_font(FAMILY, "B", SMALL_PT)
        pdf.set_text_color(*MUTED)
        _lines(pdf, x, width, [heading], SMALL_LINE + 0.6)
        pdf.set_text_color(*INK)
    if party.name:
        pdf.set_font(FAMILY, "B", BODY_PT + 1)
        _lines(pdf, x, width, [party.name], LINE + 0.6)
    pdf.set_font(FAMILY, "", BODY_PT)
    _lines(pdf, x, width, party.lines, LINE)


def _head(pdf: FPDF, sheet: Sheet) -> None:
    """The seller top left; the title and number top right."""
    top = pdf.get_y()
    seller_width = CONTENT_WIDTH * 0.55
    _party(pdf, sheet.seller, MARGIN, seller_width)
    seller_bottom = pdf.get_y()
    x = MARGIN + seller_width + 4
    width = PAGE_WIDTH - MARGIN - x
    pdf.set_y(top)
    pdf.set_font(FAMILY, "B", TITLE_PT)
    _lines(pdf, x, width, [sheet.title], 8.5, Align.R)
    pdf.set_font(FAMILY, "", BODY_PT + 2)
    _lines(pdf, x, width, [sheet.number], 6, Align.R)
    pdf.set_y(max(seller_bottom, pdf.get_y()) + 10)


def _parties(pdf: FPDF, sheet: Sheet) -> None:
    """The buyer on the left; the dates (and currency) on the right."""
    top = pdf.get_y()
    buyer_width = CONTENT_WIDTH * 0.55
    _party(pdf, sheet.buyer, MARGIN, buyer_width, heading=sheet.buyer_heading)
    buyer_bottom = pdf.get_y()
    x = MARGIN + buyer_width + 4
    width = PAGE_WIDTH - MARGIN - x
    label_width = width * 0.5
    pdf.set_y(top + SMALL_LINE + 0.6)
    pdf.set_font(FAMILY, "", BODY_PT)
    for label, value in sheet.dates:
        pdf.set_x(x)
        pdf.set_text_color(*MUTED)
        pdf.cell(label_width, LINE + 0.4, label)
        pdf.set_text_color(*INK)
        pdf.cell(width - label_width, LINE + 0.4, value, align=Align.R, new_y=YPos.NEXT)
    pdf.set_y(max(buyer_bottom, pdf.get_y()) + 8)


def _column_widths(
    pdf: FPDF, columns: Sequence[Column], rows: Sequence[Sequence[str]]
) -> list[float]:
    """Numeric (and fit) columns as wide as their widest cell or heading; text gets the rest."""
    widths: list[float | None] = []
    for index, column in enumerate(columns):
        if not column.sized_to_content:
            widths.append(None)
            continue
        pdf.set_font(FAMILY, "B", SMALL_PT)
        widest = pdf.get_string_width(column.heading)
        pdf.set_font(FAMILY, "", BODY_PT)
        for row in rows:
            widest = max(widest, pdf.get_string_width(row[index]))
        widths.append(widest + 2 * CELL_PADDING + 1)
    fixed = sum(width for width in widths if width is not None)
    flexible = sum(1 for width in widths if width is None)
    spare = max(CONTENT_WIDTH - fixed, 50.0)
    return [spare / flexible if width is None else width for width in widths]


def _padded_cell(
    pdf: FPDF, x: float, y: float, width: float, height: float, text: str, right: bool
) -> None:
    """One line of text in a column, inset by the cell padding on both sides."""
    pdf.set_xy(x + CELL_PADDING, y)
    pdf.cell(width - 2 * CELL_PADDING, height, text, align=Align.R if right else Align.L)


def _table_heading(pdf: FPDF, columns: Sequence[Column], widths: Sequence[float]) -> None:
    pdf.set_font(FAMILY, "B", SMALL_PT)
    pdf.set_text_color(*MUTED)
    top, x = pdf.get_y(), MARGIN
    for column, width in zip(columns, widths, strict=True):
        _padded_cell(pdf, x, top, width, LINE + 2, column.heading, column.numeric)
        x += width
    pdf.set_y(top + LINE + 2)
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.3)
    pdf.line(MARGIN, pdf.get_y(), PAGE_WIDTH - MARGIN, pdf.get_y())
    pdf.set_text_color(*INK)


def _table(pdf: FPDF, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    """The lines: a row that does not fit starts a new page, which repeats the heading."""
    widths = _column_widths(pdf, columns, rows)
    _table_heading(pdf, columns, widths)
    pdf.set_font(FAMILY, "", BODY_PT)
    for row in rows:
        wrapped = [
            [text]
            if column.sized_to_content
            else _wrap(pdf, text, width - 2 * CELL_PADDING) or [""]
            for text, column, width in zip(row, columns, widths, strict=True)
        ]
        height = max(len(lines) for lines in wrapped) * LINE + 2 * CELL_PADDING
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            _table_heading(pdf, columns, widths)
            pdf.set_font(FAMILY, "", BODY_PT)
        top, x = pdf.get_y(), MARGIN
        for lines, column, width in zip(wrapped, columns, widths, strict=True):
            for number, line in enumerate(lines):
                y = top + CELL_PADDING + number * LINE
                _padded_cell(pdf, x, y, width, LINE, line, column.numeric)
            x += width
        pdf.set_y(top + height)
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.2)
        pdf.line(MARGIN, pdf.get_y(), PAGE_WIDTH - MARGIN, pdf.get_y())


def _totals(pdf: FPDF, totals: Sequence[Total]) -> None:
    """Subtotal, tax per rate and the total, right-aligned under the table, kept
    together on one page."""
    if not totals:
        return
    row_height = LINE + 1.4
    if pdf.get_y() + len(totals) * row_height + 6 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(2)
    value_width = 0.0
    for total in totals:
        _total_font(pdf, total)
        value_width = max(value_width, pdf.get_string_width(total.value))
    value_width += 2 * CELL_PADDING + 1
    label_width = CONTENT_WIDTH * 0.5
    x = PAGE_WIDTH - MARGIN - value_width - label_width
    for total in totals:
        if total.strong:
            pdf.set_draw_color(*INK)
            pdf.set_line_width(0.3)
            pdf.line(x, pdf.get_y() + 0.4, PAGE_WIDTH - MARGIN, pdf.get_y() + 0.4)
            pdf.ln(1)
        _total_font(pdf, total)
        top = pdf.get_y()
        _padded_cell(pdf, x, top, label_width, row_height, total.label, True)
        _padded_cell(pdf, x + label_width, top, value_width, row_height, total.value, True)
        pdf.set_y(top + row_height)


def _total_font(pdf: FPDF, total: Total) -> None:
    pdf.set_font(FAMILY, "B" if total.strong else "", BODY_PT + (1 if total.strong else 0))


def _section(pdf: FPDF, section: Section) -> None:
    """A heading, then its table (or its empty text) and totals. The heading starts a new
    page rather than stand alone at the foot of one: it keeps the table's heading and
    first row with it."""
    heading_height = LINE + 2
    first_row = 2 * (LINE + 2) + 2 * CELL_PADDING
    pdf.ln(6)
    if pdf.get_y() + heading_height + first_row > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font(FAMILY, "B", BODY_PT + 2)
    _lines(pdf, MARGIN, CONTENT_WIDTH, [section.heading], heading_height)
    pdf.ln(1)
    if section.rows:
        _table(pdf, section.columns, section.rows)
    elif section.empty_text:
        pdf.set_font(FAMILY, "", BODY_PT)
        _lines(pdf, MARGIN, CONTENT_WIDTH, [section.empty_text], LINE)
    _totals(pdf, section.totals)


def _notes(pdf: FPDF, sheet: Sheet) -> None:
    if not sheet.notes:
        return
    pdf.ln(6)
    pdf.set_font(FAMILY, "", BODY_PT)
    _lines(pdf, MARGIN, CONTENT_WIDTH, sheet.notes, LINE)
