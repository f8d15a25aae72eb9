"""Client API: the customer's service requests (SPEC PR) — drafts, submission, status history,
chat, attachments, rating, closing, and a QR code of the number for printing.

Everything acts on ``g.customer``: another customer's request or file is 404.
"""
import io

import qrcode
from flask import current_app, g, request, send_file
from flask_appbuilder.api import expose

from ...errors import Invalid
from ...services import service_requests as requests_service
from ...services import uploads
from ..errors import language
from . import requests_messages, uploads_messages  # noqa: F401  (register the error codes)
from .base import ClientApi, customer_required
from .requests_schemas import (
    AttachmentSchema,
    CloseSchema,
    DraftCreateSchema,
    DraftUpdateSchema,
    ListQuerySchema,
    MessageInSchema,
    MessageSchema,
    RateSchema,
    RequestDetailSchema,
    RequestListSchema,
    RequestSchema,
    RequestTypeListSchema,
    TaskAnswerSchema,
)

_request = RequestSchema()
_detail = RequestDetailSchema()
_list = RequestListSchema()
_message = MessageSchema()
_attachment = AttachmentSchema()


def request_details(req):
    """A request as the client API answers it: with tasks, history, chat and files."""
    return _detail.dump({
        **{name: getattr(req, name) for name in _request.fields},
        "tasks": requests_service.customer_tasks(req),
        "history": requests_service.history(req.id),
        "messages": requests_service.messages(req.id),
        "attachments": requests_service.attachments(req.id),
    })


class ClientRequestsApi(ClientApi):
    resource_name = "client/requests"
    route_base = "/api/v1/client/requests"
    openapi_spec_tag = "Client: service requests"
    openapi_spec_component_schemas = (DraftCreateSchema, DraftUpdateSchema, MessageInSchema, RateSchema, CloseSchema,
                                      RequestSchema, RequestDetailSchema, RequestListSchema, MessageSchema,
                                      AttachmentSchema, RequestTypeListSchema, TaskAnswerSchema)

    @expose("/types", methods=["GET"])
    @customer_required
    def types(self):
        """The kinds of request a customer can file, each with the JSON Schema its form must pass
        at submission (apps build the form from it).
        ---
        get:
          summary: Request types and their forms
          security: [{customer: []}]
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestTypeListSchema'}}}
            401: {description: Not signed in}
        """
        lang = language()
        result = [{"type": key, "title": kind.titles.get(lang) or kind.titles.get("ru") or key, "form_schema": kind.schema}
                  for key, kind in sorted(requests_service.TYPES.items()) if kind.listed]
        return self.response(200, **RequestTypeListSchema().dump({"result": result}))

    @expose("/", methods=["POST"])
    @customer_required
    def create(self):
        """Start a draft request of a type; the form may be filled in parts (PATCH) before submitting.
        ---
        post:
          summary: Create a draft request
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/DraftCreateSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestDetailSchema'}}}
            401: {description: Not signed in}
            422: {description: Unknown type (request_type_unknown) or form not an object (request_form_*)}
        """
        body = DraftCreateSchema().load(self.json_body())
        req = requests_service.create_draft(g.customer.id, body["type"], body["form_data"])
        return self.response(201, **request_details(req))

    @expose("/", methods=["GET"])
    @customer_required
    def list_requests(self):
        """The customer's requests, newest first, optionally only open or only closed ones.
        ---
        get:
          summary: List own requests
          security: [{customer: []}]
          parameters:
          - {in: query, name: state, schema: {type: string, enum: [open, closed]}}
          - {in: query, name: page, schema: {type: integer, minimum: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestListSchema'}}}
            401: {description: Not signed in}
            422: {description: Bad state, page or page_size}
        """
        query = ListQuerySchema().load(request.args.to_dict())
        rows, count = requests_service.list_own(g.customer.id, query["state"], query["page"], query["page_size"])
        return self.response(200, **_list.dump({"count": count, "result": rows}))

    @expose("/<int:request_id>", methods=["GET"])
    @customer_required
    def get_request(self, request_id):
        """One request with its status history, chat and files; staff messages become read.
        ---
        get:
          summary: A request in full
          security: [{customer: []}]
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestDetailSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's request (request_not_found)}
        """
        return self.response(200, **request_details(requests_service.get_own(g.customer.id, request_id)))

    @expose("/<int:request_id>", methods=["PATCH"])
    @customer_required
    def update(self, request_id):
        """Save the draft's form (replaces it); only while the request is a draft.
        ---
        patch:
          summary: Save a draft
          security: [{customer: []}]
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/DraftUpdateSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestDetailSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's request (request_not_found)}
            409: {description: Already submitted (request_not_draft)}
            422: {description: Form not an object or too large (request_form_*)}
        """
        body = DraftUpdateSchema().load(self.json_body())
        return self.response(200, **request_details(requests_service.update_draft(g.customer.id, request_id,
                                                                           body["form_data"])))

    @expose("/<int:request_id>/submit", methods=["POST"])
    @customer_required
    def submit(self, request_id):
        """Check the form against the type's schema and start the request's process.
        ---
        post:
          summary: Submit a draft
          security: [{customer: []}]
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestDetailSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's request, or a meter in the form that is not theirs}
            409: {description: Already submitted (request_not_draft)}
            422: {description: 'The form fails the schema (request_form_invalid, per field in fields)'}
        """
        return self.response(200, **request_details(requests_service.submit(g.customer.id, request_id)))

    @expose("/<int:request_id>/tasks/<int:task_id>", methods=["POST"])
    @customer_required
    def answer_task(self, request_id, task_id):
        """Answer what the process asks (accept an offer, pick a slot, add a document): ``data`` is
        checked against the task's ``form_schema`` and the process moves on at once.
        ---
        post:
          summary: Answer a task of the request's process
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/TaskAnswerSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestDetailSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's request, or no such open task on it}
            409: {description: The task was answered already or the request is closed}
            422: {description: The answer does not match the form (form_invalid, per field)}
        """
        body = TaskAnswerSchema().load(self.json_body())
        req = requests_service.answer_task(g.customer.id, request_id, task_id, body["data"])
        return self.response(200, **request_details(req))

    @expose("/<int:request_id>/messages", methods=["POST"])
    @customer_required
    def post_message(self, request_id):
        """Write in the request's chat, optionally sending a file uploaded to it before.
        ---
        post:
          summary: Send a chat message
          security: [{customer: []}]
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/MessageInSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/MessageSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's request or file (request_not_found, attachment_not_found)}
            409: {description: A draft (request_not_submitted) or closed (request_closed)}
            422: {description: Empty or longer than 4000 characters (request_message_*)}
        """
        body = MessageInSchema().load(self.json_body())
        message = requests_service.customer_message(g.customer.id, request_id, body["text"], body["attachment_id"])
        return self.response(201, **_message.dump(message))

    @expose("/<int:request_id>/attachments", methods=["POST"])
    @customer_required
    def upload(self, request_id):
        """Attach a file (multipart field ``file``): JPEG, PNG or PDF by its content, at most
        UPLOAD_MAX_BYTES. Drafts may have files too.
        ---
        post:
          summary: Attach a file
          security: [{customer: []}]
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              multipart/form-data:
                schema: {type: object, required: [file], properties: {file: {type: string, format: binary}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/AttachmentSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's request (request_not_found)}
            409: {description: Closed (request_closed) or too many files (request_attachments_too_many)}
            413: {description: The body is larger than the server accepts}
            422: {description: 'No file, empty, too large or not JPEG/PNG/PDF (upload_*)'}
        """
        upload = request.files.get("file")
        if upload is None:
            raise Invalid(fields={"file": ["upload_empty"]})
        # one byte over the limit is enough to refuse it, whatever its size
        data = upload.stream.read(current_app.config["UPLOAD_MAX_BYTES"] + 1)
        attachment = requests_service.add_attachment(g.customer.id, request_id, data, upload.filename)
        return self.response(201, **_attachment.dump(attachment))

    @expose("/<int:request_id>/attachments/<int:attachment_id>", methods=["GET"])
    @customer_required
    def download(self, request_id, attachment_id):
        """Download a file of the request under its (sanitised) display name.
        ---
        get:
          summary: Download a file
          security: [{customer: []}]
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          - {in: path, name: attachment_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {image/jpeg: {}, image/png: {}, application/pdf: {}}
            401: {description: Not signed in}
            404: {description: Not the customer's request or file (request_not_found, attachment_not_found)}
        """
        attachment = requests_service.own_attachment(g.customer.id, request_id, attachment_id)
        return send_file(uploads.absolute_path(attachment.path), mimetype=attachment.content_type,
                         as_attachment=True, download_name=attachment.filename, max_age=0)

    @expose("/<int:request_id>/rating", methods=["POST"])
    @customer_required
    def rate(self, request_id):
        """Rate a completed or closed request, once.
        ---
        post:
          summary: Rate a request
          security: [{customer: []}]
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/RateSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's request (request_not_found)}
            409: {description: Not completed or closed (request_not_rateable); rated before (request_already_rated)}
            422: {description: Rating not 1..5 (rating_invalid) or feedback too long (feedback_too_long)}
        """
        body = RateSchema().load(self.json_body())
        req = requests_service.rate(g.customer.id, request_id, body["rating"], body["feedback"])
        return self.response(200, **_request.dump(req))

    @expose("/<int:request_id>/close", methods=["POST"])
    @customer_required
    def close(self, request_id):
        """Close the request at any stage; its running process is cancelled.
        ---
        post:
          summary: Close a request
          security: [{customer: []}]
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          requestBody:
            content: {application/json: {schema: {$ref: '#/components/schemas/CloseSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestDetailSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's request (request_not_found)}
            409: {description: Already closed or cancelled (request_closed)}
        """
        body = CloseSchema().load(request.get_json(silent=True) or {})
        return self.response(200, **request_details(requests_service.close(g.customer.id, request_id, body["note"])))

    @expose("/<int:request_id>/qr.png", methods=["GET"])
    @customer_required
    def qr(self, request_id):
        """A QR code of the request's number, to print; scanning it gives the number the public
        status check takes.
        ---
        get:
          summary: QR code of the number
          security: [{customer: []}]
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {image/png: {}}
            401: {description: Not signed in}
            404: {description: Not the customer's request (request_not_found)}
        """
        req = requests_service.own(g.customer.id, request_id)
        image = qrcode.make(req.number, box_size=8, border=2)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        buffer.seek(0)
        return send_file(buffer, mimetype="image/png", download_name=f"{req.number}.png", max_age=0)
