"""Payment gateways a customer can be billed through, and what each can do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gateway:
    code: str
    name: str
    supports_credit_notes: bool
    supports_refunds: bool = True


GATEWAYS = {
    gateway.code: gateway
    for gateway in (
        Gateway("manual", "Manual (bank transfer, cheque)", supports_credit_notes=True),
        Gateway(
            "card_refunds_only",
            "Card processor (refunds only, no credit notes)",
            supports_credit_notes=False,
        ),
    )
}
DEFAULT_GATEWAY = "manual"


def gateway_for(code: str) -> Gateway:
    return GATEWAYS.get(code, GATEWAYS[DEFAULT_GATEWAY])
