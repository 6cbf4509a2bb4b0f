"""The period of a statement: from and to, as the query string (?from=…&to=…) and the
Email statement form carry them."""

from __future__ import annotations

from wtforms.validators import InputRequired

from webapp.forms import Form, PlainDateField


class StatementPeriodForm(Form):
    """From and To, both days included; the service checks how they fit together."""

    start = PlainDateField(
        "From", name="from", validators=[InputRequired("Enter the first day of the statement.")]
    )
    end = PlainDateField(
        "To", name="to", validators=[InputRequired("Enter the last day of the statement.")]
    )

    # The service names its refusals by the query's names.
    FIELDS_BY_NAME = {"from": "start", "to": "end"}

    def field_named(self, name: str | None):
        """The field a service refusal belongs beside (``from`` or ``to``); To when unnamed."""
        return getattr(self, self.FIELDS_BY_NAME.get(name or "", "end"))
