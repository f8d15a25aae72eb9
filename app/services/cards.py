"""Saved cards (BL-5): a card is the payment provider's token, never its number.

Adding a card is a 10-rouble "card_check" payment on the provider's hosted page with
``save_card``; its callback (``payment_callbacks`` calls :func:`on_payment_outcome`) makes the
card active with the token, masked number, brand and expiry the provider reported, and the
10 roubles go back at once through ``provider.refund``. A declined check leaves the card "failed".
"""
from datetime import timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from ..errors import Conflict, NotFound
from ..extensions import db
from ..models.billing import Autopay, Payment, SavedCard
from ..models.workflow import utcnow
from . import payment_providers, payments
from .secrets import public_id

CHECK_AMOUNT = Decimal("10.00")
# A check whose hosted page expired can no longer succeed: it stops counting towards the limit.
CHECK_PENDING_FOR = timedelta(hours=1)


def _counted(customer_id):
    """Active cards plus checks still under way (so the limit cannot be passed by starting many)."""
    return db.session.execute(
        select(func.count()).select_from(SavedCard).where(
            SavedCard.customer_id == customer_id,
            or_(SavedCard.status == "active",
                and_(SavedCard.status == "pending", SavedCard.created_at > utcnow() - CHECK_PENDING_FOR)))
    ).scalar_one()


def start_check(customer, return_url=None):
    """Start adding a card: a pending card and its 10-rouble check payment on the provider's page.

    Returns ``(card, confirmation_url)``. 409 ``card_limit`` when the customer has as many cards
    as ``SAVED_CARD_LIMIT`` allows."""
    limit = current_app.config["SAVED_CARD_LIMIT"]
    if _counted(customer.id) >= limit:
        raise Conflict("card_limit", limit=limit)
    provider = payment_providers.get()
    card = SavedCard(public_id=public_id(), customer_id=customer.id, provider=provider.name, status="pending")
    payment = Payment(public_id=public_id(), customer_id=customer.id, purpose="card_check", amount=CHECK_AMOUNT,
                      provider=provider.name, status="created")
    db.session.add_all([card, payment])
    db.session.flush()
    payment.card_id = card.id
    return card, payments.start(provider, payment, return_url, save_card=True)


def on_payment_outcome(payment, event):
    """The callback hook: finish the card check ``payment`` was, if it was one (others are ignored).

    Called after the payment's status was set from ``event``: succeeded → the card becomes active
    with the provider's token and the check amount is refunded; failed → the card is "failed".
    The caller commits."""
    if payment.purpose != "card_check" or payment.card_id is None:
        return
    card = db.session.get(SavedCard, payment.card_id)
    if card is None or card.status != "pending":
        return
    details = (event or {}).get("card") or {}
    if payment.status != "succeeded" or not details.get("token"):
        card.status = "failed"
        return
    card.token = details["token"]
    card.masked_number = details.get("masked_number") or ""
    card.brand = details.get("brand") or ""
    card.expires = details.get("expires") or ""
    card.status = "active"
    payment_providers.by_name(payment.provider).refund(payment)
    payment.status = "refunded"


def own(customer_id, card_public_id):
    """The customer's card (any status but deleted); 404 ``card_not_found`` for anyone else's."""
    card = db.session.execute(
        select(SavedCard).where(SavedCard.public_id == card_public_id, SavedCard.customer_id == customer_id,
                                SavedCard.status != "deleted")
    ).scalar_one_or_none()
    if card is None:
        raise NotFound("card_not_found")
    return card


def active_cards(customer_id):
    return db.session.execute(
        select(SavedCard).where(SavedCard.customer_id == customer_id, SavedCard.status == "active")
        .order_by(SavedCard.created_at, SavedCard.id)
    ).scalars().all()


def delete(customer_id, card_public_id):
    """Delete the card: its token is forgotten and every autopay using it is cancelled.

    Returns the public ids of the cancelled autopays."""
    card = own(customer_id, card_public_id)
    cancelled = db.session.execute(
        update(Autopay).where(Autopay.card_id == card.id, Autopay.active.is_(True))
        .values(active=False, cancelled_at=utcnow()).returning(Autopay.public_id)
    ).scalars().all()
    card.status, card.token, card.deleted_at = "deleted", None, utcnow()
    db.session.commit()
    return sorted(cancelled)
