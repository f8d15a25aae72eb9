"""A customer reaches an account only through their own link to it (``customer_account``).

Every client feature on an account (meters, readings, bills, payments) starts here: an account
the customer has not linked is "not found" (never "forbidden", which would confirm it exists).
Readings and payments also need the link verified (ID-2).
"""
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from ..errors import Forbidden, NotFound
from ..extensions import db
from ..models.accounts import CustomerAccount


# Built once: every feature on an account starts here (see customer_sessions for why).
_LINK = (select(CustomerAccount).options(joinedload(CustomerAccount.account))
         .where(CustomerAccount.customer_id == bindparam("customer_id"),
                CustomerAccount.account_id == bindparam("account_id")))


def link(customer_id, account_id):
    """The customer's link to ``account_id`` (with its account loaded)."""
    found = db.session.execute(_LINK, {"customer_id": customer_id, "account_id": account_id}).scalar_one_or_none()
    if found is None:
        raise NotFound("account_not_found", id=account_id)
    return found


def verified_link(customer_id, account_id):
    """As :func:`link`, refusing (403 ``account_unverified``) until the customer verified it."""
    found = link(customer_id, account_id)
    require_verified(found, found.account.number)
    return found


def require_verified(found, number):
    if found.verified_at is None:
        raise Forbidden("account_unverified", number=number)

