"""What staff may do to a customer account from the back office."""
from ..errors import NotFound
from ..extensions import db
from ..models.customers import Customer
from . import customer_sessions, security_events


def end_sessions(customer_id, actor):
    """Sign a customer out everywhere (a lost or stolen phone); returns how many sessions ended."""
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("not_found")
    ended = customer_sessions.revoke_all(customer.id, "staff")
    security_events.record(customer.id, "sessions_ended_by_staff", actor=actor, sessions=ended)
    db.session.commit()
    return ended
