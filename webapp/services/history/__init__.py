"""A customer's history: every change, who made it and when, from what to what.

Changes made through the ORM are written down by one ``before_flush`` listener, in the
same flush as the change itself, so a new service cannot forget to record them: the
customer being created, each edited field, status changes, ledger entries, invoices
and their status, credit notes, subscriptions, and the records around a customer
(contacts, addresses, external IDs, notes, activities, tickets, sales). What is written
with Core statements calls ``record()`` itself: tags, emails sent, payment-link
actions, tax-class rate changes and clearing personal data.

A summary never holds personal data. A personal value (a name, an email address, a
note) is kept only in ``old_value``/``new_value`` with ``personal`` set, so Clear
personal data blanks exactly those and the rest of the history stays readable.

Who made a change: for a row added with a staff column of its own (an entry, an
invoice, a note …) the member of staff it names, the one the service was told acted;
for everything else the signed-in member of staff; nobody ("System") in a job or on
the command line.

The package, by what each part does: ``recorder`` (``record``: add a line),
``registry`` (which records are watched and how their fields are named and read),
``display`` (how stored values read), ``listener`` (the ``before_flush`` listener,
``install``) and ``queries`` (the History tab and the Billing tab's link log).
"""

from __future__ import annotations

from webapp.services.history.listener import added_line, copied_from_record, install
from webapp.services.history.queries import (
    GROUPS,
    clear_personal_values,
    events_of,
    events_page,
    who,
)
from webapp.services.history.recorder import acting_as, acting_staff_id, record
from webapp.services.history.registry import (
    CUSTOMER_FIELDS,
    CUSTOMER_SHOWN,
    PERSONAL_CUSTOMER_FIELDS,
    WATCHED,
    Watched,
    shown_value,
)

__all__ = [
    "CUSTOMER_FIELDS",
    "CUSTOMER_SHOWN",
    "GROUPS",
    "PERSONAL_CUSTOMER_FIELDS",
    "WATCHED",
    "Watched",
    "acting_as",
    "added_line",
    "acting_staff_id",
    "clear_personal_values",
    "copied_from_record",
    "events_of",
    "events_page",
    "install",
    "record",
    "shown_value",
    "who",
]
