"""What every record kept on a customer (contacts, addresses, activities …) shares."""

from __future__ import annotations


class RecordError(Exception):
    """A rule refused the change. ``field`` names the form field the message belongs
    beside; without one it is shown above the form."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
