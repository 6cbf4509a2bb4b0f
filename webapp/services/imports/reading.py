"""Reading an uploaded CSV file: checked once on upload (UTF-8, a header row, a comma or a
semicolon), then streamed row by row by the dry run and the import, never held whole."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Bigger than any header row and a few sample rows; what the sniffer reads.
SNIFF_BYTES = 64 * 1024
SAMPLE_ROWS = 3
# A cell longer than this is not a customer field (csv's own limit is 128 KiB).
csv.field_size_limit(1024 * 1024)


class ImportFileError(Exception):
    """The uploaded file cannot be imported; the message is shown beside the file field."""


@dataclass(frozen=True)
class Sniffed:
    delimiter: str
    headers: list[str]
    samples: list[list[str]]


def _decode(head: bytes, complete: bool) -> str:
    """The file's start as text; a multi-byte character cut at SNIFF_BYTES is not an error."""
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if complete or error.start < len(head) - 4:
            raise ImportFileError(
                "This file is not UTF-8 text. Save it as “CSV UTF-8 (comma delimited)” "
                "in your spreadsheet and upload it again."
            ) from None
        return head[: error.start].decode("utf-8-sig")


def choose_delimiter(text: str) -> str:
    """',' or ';' (Excel writes ';' where the decimal mark is a comma): the one the sniffer
    finds in the first lines, else the one the header row holds more of."""
    try:
        return csv.Sniffer().sniff(text, delimiters=",;").delimiter
    except csv.Error:
        header = text.splitlines()[0] if text else ""
        return ";" if header.count(";") > header.count(",") else ","


def sniff(data: bytes) -> Sniffed:
    """Check an upload and read its header row and first rows; ``ImportFileError`` says why
    it cannot be imported (empty, not UTF-8, not a CSV, no header row)."""
    if not data.strip():
        raise ImportFileError("The file is empty: choose a CSV file with a header row.")
    if b"\x00" in data[:SNIFF_BYTES]:
        raise ImportFileError(
            "This is not a CSV file (it holds binary data). Export the sheet as CSV and "
            "upload that."
        )
    head = data[:SNIFF_BYTES]
    text = _decode(head, complete=len(data) <= SNIFF_BYTES)
    if len(data) > SNIFF_BYTES:
        text = text[: text.rfind("\n") + 1] or text  # whole lines only
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            "This file is not UTF-8 text. Save it as “CSV UTF-8 (comma delimited)” in your "
            "spreadsheet and upload it again."
        ) from None
    delimiter = choose_delimiter(text)
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as error:
        raise ImportFileError(f"This file cannot be read as CSV: {error}.") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise ImportFileError("The file is empty: choose a CSV file with a header row.")
    headers = [cell.strip() for cell in rows[0]]
    if len(headers) < 2 or not any(headers):
        raise ImportFileError(
            "No header row was found: the first line must name the columns (Name, Email, "
            "Country …), separated by commas or semicolons."
        )
    if sum(1 for cell in headers if cell) < len(headers) // 2 + 1 or _looks_like_data(headers):
        raise ImportFileError(
            "The first line does not look like a header row: it must name the columns "
            "(Name, Email, Country …), not hold a customer."
        )
    if len(rows) < 2:
        raise ImportFileError("The file has a header row but no customers under it.")
    return Sniffed(delimiter, headers, [row for row in rows[1 : SAMPLE_ROWS + 1]])


def _looks_like_data(headers: list[str]) -> bool:
    """A first line holding an email address or a number is a customer, not column names."""
    return any("@" in cell or cell.replace(".", "").replace(",", "").isdigit() for cell in headers)


def data_rows(path: Path, delimiter: str, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells) for each data row after the first
    ``skip``; blank lines are not rows. Streams the file."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)  # the header row
        seen = 0
        for cells in reader:
            if not any(cells):
                continue
            seen += 1
            if seen <= skip:
                continue
            yield seen + 1, cells


def count_rows(path: Path, delimiter: str) -> int:
    """How many data rows the file holds (read through once, streamed)."""
    return sum(1 for _ in data_rows(path, delimiter))
