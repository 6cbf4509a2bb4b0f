"""Delete customer: the customer's ID typed to confirm."""

from __future__ import annotations

from wtforms import StringField

from webapp.forms import Form


class DeleteCustomerForm(Form):
    """Delete customer: the customer's ID, typed to confirm (services.deletion checks it)."""

    typed_id = StringField("Type the customer ID to confirm")

    def __init__(self, *args, visible_id: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if visible_id:
            self.typed_id.label.text = f"Type {visible_id} to confirm"
