"""Booking a visit to an office (SPEC PR-10).

A booking is a service request of kind ``office_appointment`` whose submission inserts the
:class:`Appointment` holding the slot. The slot is unique among active bookings by a database
index, so of two customers racing for it one gets the request and the other 409
``appointment_slot_taken``. Closing the request (the customer cancels) frees the slot.
"""
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.offices import Appointment
from ..models.workflow import utcnow
from . import offices, periods, service_requests

KIND = "office_appointment"
# The reminder goes this long before the visit (or at once when the visit is sooner).
REMINDER_BEFORE = timedelta(hours=24)


def _check_service(office, service):
    if service not in offices.parse_services(office.services):
        raise Invalid(fields={"service": ["appointment_service_not_offered"]}, service=service)


def _check_day(day, field="date"):
    today = periods.local_today()
    if not today <= day <= today + timedelta(days=offices.BOOKING_DAYS_AHEAD):
        raise Invalid(fields={field: ["appointment_date_out_of_range"]}, days=offices.BOOKING_DAYS_AHEAD)


def _booked(office_id, starts):
    if not starts:
        return set()
    return set(db.session.execute(
        select(Appointment.starts_at).where(Appointment.office_id == office_id, Appointment.active.is_(True),
                                            Appointment.starts_at.between(starts[0], starts[-1]))
    ).scalars())


def free_slots(office_id, service, day):
    """Slot starts (aware, TIME_ZONE) of ``day`` at the office for ``service``: within opening
    hours, not yet begun, not booked."""
    office = offices.active_office(office_id)
    _check_service(office, service)
    _check_day(day)
    now = utcnow()
    grid = [(slot, offices.to_utc(slot)) for slot in offices.slot_grid(office, day)]
    grid = [(slot, utc) for slot, utc in grid if utc > now]
    taken = _booked(office.id, [utc for _slot, utc in grid])
    return office, [slot for slot, utc in grid if utc not in taken]


def parse_slot(text):
    """``"2026-12-01T10:30"`` (office time) or with an offset → aware datetime, else 422."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise Invalid(fields={"slot": ["appointment_slot_invalid"]}) from None
    return value if value.tzinfo else value.replace(tzinfo=offices.zone())


def hold(req, customer_id, office_id, service, slot_text):
    """Insert the booking of ``req`` (inside its submission): the slot must be on the office's
    grid, in the future and free. Returns the office, the appointment and its local start."""
    office = offices.active_office(office_id)
    _check_service(office, service)
    start = parse_slot(slot_text).astimezone(offices.zone())
    starts_at = offices.to_utc(start)
    if starts_at <= utcnow():
        raise Invalid(fields={"slot": ["appointment_slot_past"]})
    _check_day(start.date(), field="slot")
    if start not in offices.slot_grid(office, start.date()):
        raise Invalid(fields={"slot": ["appointment_slot_invalid"]})
    appointment = Appointment(office_id=office.id, starts_at=starts_at,
                              ends_at=starts_at + timedelta(minutes=office.slot_minutes), service=service,
                              request_id=req.id, customer_id=customer_id, active=True)
    db.session.add(appointment)
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict("appointment_slot_taken", slot=start.strftime("%d.%m.%Y %H:%M")) from None
    return office, appointment, start


def release(req):
    """The request was closed: its slot is free again (``on_close`` of the kind)."""
    appointment = db.session.execute(
        select(Appointment).where(Appointment.request_id == req.id, Appointment.active.is_(True))
    ).scalar_one_or_none()
    if appointment is not None:
        appointment.active, appointment.cancelled_at = False, utcnow()


def reminder_in(starts_at):
    """ISO duration from now to the reminder (REMINDER_BEFORE the visit), at least a second."""
    seconds = int((starts_at - REMINDER_BEFORE - utcnow()).total_seconds())
    return f"PT{max(seconds, 1)}S"


def book(customer_id, office_id, service, slot):
    """Create and submit the customer's ``office_appointment`` request. A refused booking (slot
    taken, in the past, not on the grid) leaves no draft behind."""
    req = service_requests.submit_new(customer_id, KIND, {"office_id": office_id, "service": service, "slot": slot})
    return req, own_by_request(customer_id, req.id)


def own_by_request(customer_id, request_id):
    found = db.session.execute(
        select(Appointment).where(Appointment.request_id == request_id, Appointment.customer_id == customer_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("appointment_not_found", id=request_id)
    return found


def list_own(customer_id, upcoming_only=False):
    """The customer's bookings, soonest first; ``upcoming_only``: active ones not yet begun."""
    query = select(Appointment).where(Appointment.customer_id == customer_id)
    if upcoming_only:
        query = query.where(Appointment.active.is_(True), Appointment.starts_at > utcnow())
    return db.session.execute(query.order_by(Appointment.starts_at)).scalars().all()


def cancel(customer_id, appointment_id, note=None):
    """The customer cancels a booking: its request is closed, which frees the slot."""
    appointment = db.session.execute(
        select(Appointment).where(Appointment.id == appointment_id, Appointment.customer_id == customer_id)
    ).scalar_one_or_none()
    if appointment is None:
        raise NotFound("appointment_not_found", id=appointment_id)
    service_requests.close(customer_id, appointment.request_id, note)
    db.session.refresh(appointment)
    return appointment
