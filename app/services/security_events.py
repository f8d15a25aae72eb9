"""The account's security log: sign-ins, failures and changes, shown to the customer."""
from sqlalchemy import select

from ..extensions import db
from ..models.customers import SecurityEvent
from ..models.workflow import utcnow


def record(customer_id, kind, ip=None, user_agent=None, **details):
    if customer_id is None:
        return None
    event = SecurityEvent(customer_id=customer_id, kind=kind, ip=ip, user_agent=(user_agent or "")[:256] or None,
                          details={k: v for k, v in details.items() if v is not None}, at=utcnow())
    db.session.add(event)
    return event


def of_customer(customer_id, since=None, until=None, page=0, page_size=50):
    query = select(SecurityEvent).where(SecurityEvent.customer_id == customer_id)
    if since is not None:
        query = query.where(SecurityEvent.at >= since)
    if until is not None:
        query = query.where(SecurityEvent.at < until)
    total = db.session.execute(query.with_only_columns(db.func.count()).select_from(SecurityEvent)).scalar()
    rows = db.session.execute(
        query.order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc()).offset(page * page_size).limit(page_size)
    ).scalars().all()
    return rows, total
