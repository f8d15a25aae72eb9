"""Client API: offices and booking a visit (SPEC CT-3, PR-10).

A booking is an ``office_appointment`` service request: it shows in the customer's requests with
its status history, and closing that request (``POST /requests/{id}/close``, or ``DELETE`` here)
cancels the visit and frees the slot. Everything acts on ``g.customer``.
"""
from flask import g, request
from flask_appbuilder.api import expose

from ...services import appointments, offices
from ..errors import language
from . import appointments_messages, requests_messages  # noqa: F401  (register the error codes)
from .appointments_schemas import (
    AppointmentListSchema,
    AppointmentSchema,
    BookedSchema,
    BookSchema,
    CancelSchema,
    OfficeListSchema,
    SlotsQuerySchema,
    SlotsSchema,
)
from .base import ClientApi, customer_required


def _office(office, lang):
    return {"id": office.id, "name": office.name, "address": office.address, "latitude": office.latitude,
            "longitude": office.longitude, "phone": office.phone, "opening_hours": offices.hours_by_weekday(office),
            "slot_minutes": office.slot_minutes,
            "services": [{"code": code, "title": offices.SERVICES.get(code, {}).get(lang, code)}
                         for code in offices.parse_services(office.services)]}


def _appointment(found):
    return {"id": found.id, "office_id": found.office_id, "office_name": found.office.name,
            "office_address": found.office.address, "service": found.service,
            "starts_at": offices.to_local(found.starts_at).isoformat(),
            "ends_at": offices.to_local(found.ends_at).isoformat(), "active": found.active,
            "request_id": found.request_id, "request_number": found.request.number,
            "request_status": found.request.status}


class ClientAppointmentsApi(ClientApi):
    resource_name = "client/appointments"
    route_base = "/api/v1/client/appointments"
    openapi_spec_tag = "Client: office appointments"
    openapi_spec_component_schemas = (BookSchema, CancelSchema, OfficeListSchema, SlotsSchema, AppointmentSchema,
                                      AppointmentListSchema, BookedSchema)

    @expose("/offices", methods=["GET"])
    @customer_required
    def list_offices(self):
        """Offices that take bookings: address, map coordinates, phone, opening hours by
        weekday, slot length and the services a visit can be booked for.
        ---
        get:
          summary: Offices
          security: [{customer: []}]
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/OfficeListSchema'}}}
            401: {description: Not signed in}
        """
        lang = language()
        result = [_office(office, lang) for office in offices.active_offices()]
        return self.response(200, **OfficeListSchema().dump({"result": result}))

    @expose("/slots", methods=["GET"])
    @customer_required
    def slots(self):
        """Free slots of an office for a service on a day (office time): within its opening
        hours, not yet begun, not booked by anyone.
        ---
        get:
          summary: Free slots
          security: [{customer: []}]
          parameters:
          - {in: query, name: office_id, required: true, schema: {type: integer}}
          - {in: query, name: service, required: true, schema: {type: string}}
          - {in: query, name: date, required: true, schema: {type: string, format: date}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/SlotsSchema'}}}
            401: {description: Not signed in}
            404: {description: No such active office (office_not_found)}
            422: {description: 'Missing or bad parameters, service not offered, date out of range'}
        """
        query = SlotsQuerySchema().load(request.args.to_dict())
        office, free = appointments.free_slots(query["office_id"], query["service"], query["date"])
        return self.response(200, **SlotsSchema().dump({
            "office_id": office.id, "service": query["service"], "date": query["date"],
            "slot_minutes": office.slot_minutes, "slots": [slot.isoformat() for slot in free]}))

    @expose("", methods=["POST"])
    @customer_required
    def book(self):
        """Book a slot: files and submits an ``office_appointment`` request holding it. Of two
        customers taking the same slot at once, one gets it and the other 409.
        ---
        post:
          summary: Book a visit
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/BookSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/BookedSchema'}}}
            401: {description: Not signed in}
            404: {description: No such active office (office_not_found)}
            409: {description: The slot was taken (appointment_slot_taken)}
            422: {description: 'Service not offered, slot not on the grid, in the past or too far ahead'}
        """
        body = BookSchema().load(self.json_body())
        req, found = appointments.book(g.customer.id, body["office_id"], body["service"], body["slot"])
        return self.response(201, **BookedSchema().dump({"appointment": _appointment(found), "request": req}))

    @expose("", methods=["GET"])
    @customer_required
    def list_own(self):
        """The customer's bookings, soonest first (cancelled ones too, ``active: false``).
        ---
        get:
          summary: Own bookings
          security: [{customer: []}]
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/AppointmentListSchema'}}}
            401: {description: Not signed in}
        """
        result = [_appointment(found) for found in appointments.list_own(g.customer.id)]
        return self.response(200, **AppointmentListSchema().dump({"result": result}))

    @expose("/<int:appointment_id>", methods=["DELETE"])
    @customer_required
    def cancel(self, appointment_id):
        """Cancel a booking: closes its request (the process stops) and frees the slot.
        ---
        delete:
          summary: Cancel a booking
          security: [{customer: []}]
          parameters:
          - {in: path, name: appointment_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/AppointmentSchema'}}}
            401: {description: Not signed in}
            404: {description: Not one of the customer's bookings (appointment_not_found)}
            409: {description: Already closed (request_closed)}
        """
        body = CancelSchema().load(self.json_body()) if request.get_data() else {"note": None}
        found = appointments.cancel(g.customer.id, appointment_id, body["note"])
        return self.response(200, **AppointmentSchema().dump(_appointment(found)))
