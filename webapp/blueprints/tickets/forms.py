"""Change a ticket's status."""

from __future__ import annotations

from wtforms import SelectField

from webapp.forms import Form
from webapp.services import tickets


class TicketStatusForm(Form):
    """Change on a ticket's row: the new status (the service checks it)."""

    status = SelectField(
        "Status", choices=list(tickets.STATUS_LABELS.items()), validate_choice=False
    )
