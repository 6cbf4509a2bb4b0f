"""/api/v1/customers/<id>/payment-link: Generate link and Revoke, as on the Billing tab."""

from __future__ import annotations

from webapp.blueprints.api import schemas
from webapp.blueprints.api.blueprint import bp
from webapp.blueprints.api.common import answer, customer_or_404, idempotent, json_body, shaped
from webapp.blueprints.api.openapi import documented
from webapp.blueprints.api.problems import ApiProblem
from webapp.extensions import db
from webapp.services import payment_links
from webapp.services.payment_link_tokens import PaymentLinkError

TAG = "Payment links"


@bp.post("/customers/<int:customer_id>/payment-link")
@documented(
    "Generate a payment link",
    tag=TAG,
    body=schemas.PaymentLinkCreate,
    responses={201: schemas.PaymentLink},
)
@idempotent
def create_payment_link(customer_id: int):
    """Generate link: a new link to the customer's balance page; any previous one stops
    working. Refused (409) for a customer whose personal data was cleared."""
    customer = customer_or_404(customer_id)
    sent = shaped(schemas.PaymentLinkCreate, json_body())
    try:
        link = payment_links.generate(db.session, customer, None, sent.expires)
        url = payment_links.link_url(link)
    except PaymentLinkError as refusal:
        db.session.rollback()
        raise ApiProblem(422, str(refusal), {"expires": str(refusal)}) from None
    return answer(
        schemas.PaymentLink(
            url=url,
            created_at=schemas.utc(link.created_at),
            expires_at=schemas.utc(link.expires_at),
        ),
        201,
    )


@bp.delete("/customers/<int:customer_id>/payment-link")
@documented("Revoke the payment link", tag=TAG, responses={204: None})
def revoke_payment_link(customer_id: int):
    """Revoke: the customer's link stops working at once; 404 when there is none."""
    customer = customer_or_404(customer_id)
    try:
        payment_links.revoke(db.session, customer, None)
    except PaymentLinkError as refusal:
        raise ApiProblem(404, str(refusal)) from None
    return answer(None)
