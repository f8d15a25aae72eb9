"""Demo offices for `make run` (SPEC CT-3, PR-10, PR-7): two offices with opening hours;
Мария has an outage subscription on her electricity account and a booked visit. DEMO ONLY."""
from datetime import timedelta

from sqlalchemy import select

from .extensions import db
from .models.accounts import Account
from .models.customers import Customer
from .models.offices import Office
from .models.subscriptions import Subscription
from .services import appointments, offices, periods

OFFICES = (
    {"name": "Центральный офис обслуживания", "address": "г. Москва, ул. Тверская, д. 12, стр. 1",
     "latitude": 55.7644, "longitude": 37.6057, "phone": "+74951234567",
     "opening_hours": "mon-thu 09:00-18:00; fri 09:00-16:45; sat 10:00-15:00", "slot_minutes": 20,
     "services": "consultation,documents,contract,payments,meters"},
    {"name": "Офис обслуживания «Химки»", "address": "Московская обл., г. Химки, ул. Московская, д. 21",
     "latitude": 55.8887, "longitude": 37.4302, "phone": "+74957654321",
     "opening_hours": "mon-fri 08:30-17:30", "slot_minutes": 30, "services": "consultation,payments,meters"},
)


def load_demo_offices():
    added = 0
    for values in OFFICES:
        if db.session.execute(select(Office.id).where(Office.name == values["name"])).first() is None:
            db.session.add(Office(**values, active=True))
            added += 1
    db.session.commit()
    maria = db.session.execute(select(Customer).where(Customer.phone == "+79161234567")).scalar_one_or_none()
    if maria is None:
        return f"demo offices: {added} added (Мария is missing)"
    return f"demo offices: {added} added; " + _maria_subscription(maria) + "; " + _maria_visit(maria)


def _maria_subscription(maria):
    account_id = db.session.execute(select(Account.id).where(Account.number == "7712345678")).scalar_one_or_none()
    if account_id is None:
        return "no outage subscription (her electricity account is missing)"
    target = f"account:{account_id}"
    if db.session.execute(select(Subscription.id).where(Subscription.customer_id == maria.id,
                                                        Subscription.target == target)).first() is None:
        db.session.add(Subscription(customer_id=maria.id, kind="outage", channel="sms", target=target,
                                    account_id=account_id, status="active"))
        db.session.commit()
    return "Мария subscribed to outages on 7712345678 by SMS"


def _maria_visit(maria):
    """A consultation in the central office on the first free slot from the day after tomorrow."""
    if appointments.list_own(maria.id, upcoming_only=True):
        return "Мария's visit already booked"
    office = db.session.execute(select(Office).where(Office.name == OFFICES[0]["name"])).scalar_one()
    day = periods.local_today() + timedelta(days=2)
    for _ in range(offices.BOOKING_DAYS_AHEAD - 2):
        _office, free = appointments.free_slots(office.id, "consultation", day)
        if free:
            req, _found = appointments.book(maria.id, office.id, "consultation", free[len(free) // 2].isoformat())
            return f"Мария booked a visit ({req.number})"
        day += timedelta(days=1)
    return "no free slot for Мария's visit"
