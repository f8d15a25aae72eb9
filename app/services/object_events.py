"""Security-service events at a linked account's guarded objects (AC-4): armed, alarm,
disarmed; newest first, with a period filter. The billing import writes them."""
from sqlalchemy import func, select

from ..extensions import db
from ..models.accounts import ObjectEvent
from . import account_access


def of_account(customer_id, account_id, since=None, until=None, page=0, page_size=50):
    """One page of the account's events in [since, until) and the count of all of them; an
    account the customer has not linked is 404 ``account_not_found``."""
    account_access.link(customer_id, account_id)
    where = [ObjectEvent.account_id == account_id]
    if since is not None:
        where.append(ObjectEvent.occurred_at >= since)
    if until is not None:
        where.append(ObjectEvent.occurred_at < until)
    total = db.session.execute(select(func.count(ObjectEvent.id)).where(*where)).scalar()
    rows = db.session.execute(
        select(ObjectEvent).where(*where).order_by(ObjectEvent.occurred_at.desc(), ObjectEvent.id.desc())
        .offset(page * page_size).limit(page_size)
    ).scalars().all()
    return rows, total
