"""Client API: meters of the customer's accounts, readings and their history (MT-1, MT-2).

Everything acts on ``g.customer``: a meter or an account the customer has not linked is 404.
"""
from flask import g, request, send_file
from flask_appbuilder.api import expose

from ...errors import Invalid
from ...services import meters, periods, readings, uploads
from . import accounts_messages, meters_messages, uploads_messages  # noqa: F401  (register the error codes)
from .base import ClientApi, customer_required
from .meters_schemas import (
    HistoryQuerySchema,
    HistorySchema,
    MeterListSchema,
    MeterRenameSchema,
    MeterSchema,
    ReadingSubmitSchema,
    SubmissionSchema,
)

_meter = MeterSchema()
_submission = SubmissionSchema()
_history = HistorySchema()
_list = MeterListSchema()
_submit_body = ReadingSubmitSchema()


class ClientMetersApi(ClientApi):
    resource_name = "client/meters"
    route_base = "/api/v1/client"
    openapi_spec_tag = "Client: meters and readings"
    openapi_spec_component_schemas = (MeterSchema, MeterListSchema, MeterRenameSchema, ReadingSubmitSchema,
                                      SubmissionSchema, HistorySchema)

    @expose("/accounts/<int:account_id>/meters", methods=["GET"])
    @customer_required
    def list_meters(self, account_id):
        """The active meters of one of the customer's accounts, with the reading window.
        ---
        get:
          summary: Meters of an account
          security: [{customer: []}]
          parameters:
          - {in: path, name: account_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/MeterListSchema'}}}
            401: {description: Not signed in}
            404: {description: Not one of the customer's accounts (account_not_found)}
        """
        today = periods.local_today()
        link, found = meters.account_meters(g.customer.id, account_id)
        span = readings.next_window(link.account.supplier, today)
        return self.response(200, **_list.dump({
            "account_id": account_id, "count": len(found), "result": meters.describe(found, today),
            "reading_window": {"period": span.period, "opens": span.opens, "closes": span.closes,
                               "open": span.contains(today)},
        }))

    @expose("/meters/<int:meter_id>", methods=["PATCH"])
    @customer_required
    def rename(self, meter_id):
        """Give the meter the customer's own name (or remove it with an empty name or null).
        ---
        patch:
          summary: Rename a meter
          security: [{customer: []}]
          parameters:
          - {in: path, name: meter_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/MeterRenameSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/MeterSchema'}}}
            401: {description: Not signed in}
            404: {description: Not a meter of the customer's accounts (meter_not_found)}
            422: {description: Longer than 64 characters (meter_name_too_long) or not a string}
        """
        body = MeterRenameSchema().load(self.json_body())
        meter = meters.rename(g.customer.id, meter_id, body["name"])
        return self.response(200, **_meter.dump(meters.describe([meter], periods.local_today())[0]))

    @expose("/meters/<int:meter_id>/readings", methods=["POST"])
    @customer_required
    def submit(self, meter_id):
        """Submit the current period's readings, one value per tariff zone; inside the window,
        submitting again corrects them. The answer shows the consumption per zone.
        ---
        post:
          summary: Submit or correct readings
          security: [{customer: []}]
          parameters:
          - {in: path, name: meter_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ReadingSubmitSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/SubmissionSchema'}}}
            200:
              description: The period's readings corrected
              content: {application/json: {schema: {$ref: '#/components/schemas/SubmissionSchema'}}}
            401: {description: Not signed in}
            403: {description: The account's link is not verified (account_unverified)}
            404: {description: Not a meter of the customer's accounts (meter_not_found)}
            409: {description: 'Outside the window (reading_window_closed: the next window in the message),
              abnormal consumption not confirmed (reading_abnormal), meter removed (meter_inactive)'}
            422: {description: 'Zones missing, unknown or repeated, negative, too large or too many decimals
              (codes per values.N); lower than the previous reading (reading_below_previous); a photo
              that is not base64, not JPEG/PNG or too large (upload_*)'}
        """
        body = _submit_body.load(self.json_body())
        photo = None if body["photo"] is None else uploads.decode_base64(body["photo"], field="photo")
        done = readings.submit(g.customer.id, meter_id, body["values"], confirm_abnormal=body["confirm_abnormal"],
                               photo=photo)
        return self.response(201 if done.created else 200, **_submission.dump(done))

    @expose("/meters/<int:meter_id>/readings", methods=["GET"])
    @customer_required
    def history(self, meter_id):
        """The meter's readings by period, newest first (``limit=3``: the last three).
        ---
        get:
          summary: Reading history
          security: [{customer: []}]
          parameters:
          - {in: path, name: meter_id, required: true, schema: {type: integer}}
          - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 100}}
          - {in: query, name: page, schema: {type: integer, minimum: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/HistorySchema'}}}
            401: {description: Not signed in}
            404: {description: Not a meter of the customer's accounts (meter_not_found)}
            422: {description: Bad limit, page or page_size}
        """
        query = HistoryQuerySchema().load(request.args.to_dict())
        page, page_size = (0, query["limit"]) if "limit" in query else (query["page"], query["page_size"])
        _meter_row, count, grouped = readings.history(g.customer.id, meter_id, page, page_size)
        result = [{"period": period, "readings": rows, "photo": any(row.photo_path for row in rows)}
                  for period, rows in grouped]
        return self.response(200, **_history.dump({"count": count, "result": result}))

    @expose("/meters/<int:meter_id>/readings/<period>/photo", methods=["GET"])
    @customer_required
    def photo(self, meter_id, period):
        """The photo sent with the meter's readings of a period.
        ---
        get:
          summary: Photo of a period's readings
          security: [{customer: []}]
          parameters:
          - {in: path, name: meter_id, required: true, schema: {type: integer}}
          - {in: path, name: period, required: true, schema: {type: string, example: '2026-11'}}
          responses:
            200:
              content: {image/jpeg: {}, image/png: {}}
            401: {description: Not signed in}
            404: {description: Not the customer's meter (meter_not_found) or no photo (photo_not_found)}
            422: {description: Not a period YYYY-MM (reading_period_invalid)}
        """
        try:
            month = periods.parse(period)
        except ValueError:
            raise Invalid(fields={"period": ["reading_period_invalid"]}) from None
        path = readings.photo(g.customer.id, meter_id, month)
        return send_file(uploads.absolute_path(path), mimetype=uploads.content_type_of(path), max_age=0)
