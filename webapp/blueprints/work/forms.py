"""The Inbox's row form: who a ticket is assigned to."""

from __future__ import annotations

from webapp.blueprints.records.forms import StaffSelectField
from webapp.forms import Form


class AssignForm(Form):
    """Assign on an Inbox row: Unassigned or an active staff member (the service checks it)."""

    assignee_id = StaffSelectField("Assigned to")
