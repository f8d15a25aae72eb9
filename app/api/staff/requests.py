"""Staff REST: service requests (SPEC AD-3, PR-9) — search, the request card, staff chat with
files, downloads, and filing a request in an office.

Who may do what is the ``ServiceRequests`` permission (app/security.py): every working role
reads and writes in the chat (Billing reads only), Operator (and Admin) also file in an office.
"""
from flask import current_app, g, request, send_file
from flask_appbuilder.api import expose, protect

from ...errors import Invalid
from ...services import staff_requests, uploads
from ..base import KabinetApi
from ..client import requests_messages, uploads_messages  # noqa: F401  (the shared refusals' texts)
from . import requests_messages as staff_requests_messages  # noqa: F401  (this API's own codes)
from .requests_schemas import (
    NoteInSchema,
    OfficeFilingSchema,
    StaffListQuerySchema,
    StaffMessageInSchema,
    StaffMessageSchema,
    StaffRequestCardSchema,
    StaffRequestListSchema,
)

_card = StaffRequestCardSchema()
_list = StaffRequestListSchema()
_message = StaffMessageSchema()


def dump_card(request_id):
    card = staff_requests.card(request_id)
    req = card.pop("request")
    return _card.dump({**{name: getattr(req, name) for name in ("id", "number", "type", "status", "customer_id",
                                                                "account_id", "filed_in_office",
                                                                "process_instance_id", "created_at", "updated_at",
                                                                "submitted_at", "closed_at", "rating", "feedback",
                                                                "form_data")},
                       **card})


def _posted_file():
    """The file of a staff message: multipart field ``file``, or base64 in the JSON body."""
    upload = request.files.get("file")
    if upload is not None:
        # one byte over the limit is enough to refuse it, whatever its size
        return upload.stream.read(current_app.config["UPLOAD_MAX_BYTES"] + 1), upload.filename
    return None, None


class StaffRequestsApi(KabinetApi):
    resource_name = "requests"
    route_base = "/api/v1/requests"
    class_permission_name = "ServiceRequests"
    method_permission_name = {"list_requests": "read", "show": "read", "download": "read", "diagram": "read",
                              "post_message": "write", "add_note": "write", "file": "file"}
    openapi_spec_tag = "Service requests (staff)"
    openapi_spec_component_schemas = (NoteInSchema, OfficeFilingSchema, StaffMessageInSchema, StaffMessageSchema,
                                      StaffRequestCardSchema, StaffRequestListSchema)

    @expose("/", methods=["GET"])
    @protect()
    def list_requests(self):
        """Submitted requests, newest first, with filters; each row says whether a staff task
        of its process is overdue.
        ---
        get:
          summary: Search requests
          parameters:
          - {in: query, name: type, schema: {type: string}}
          - {in: query, name: status, schema: {type: string}}
          - {in: query, name: number, schema: {type: string}, description: a part of the number}
          - {in: query, name: phone, schema: {type: string}, description: the customer's or walk-in's phone}
          - {in: query, name: state, schema: {type: string, enum: [open, closed]}}
          - {in: query, name: filed_in_office, schema: {type: boolean}}
          - {in: query, name: page, schema: {type: integer, minimum: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/StaffRequestListSchema'}}}
            401: {description: Not signed in}
            403: {description: The role may not read requests}
            422: {description: Bad filter (request_status_unknown, phone_invalid) or paging}
        """
        query = StaffListQuerySchema().load(request.args.to_dict())
        page, page_size = query.pop("page"), query.pop("page_size")
        rows, total = staff_requests.search(type_key=query["type"], page=page, page_size=page_size,
                                            **{k: v for k, v in query.items() if k != "type"})
        open_tasks = staff_requests.open_staff_tasks(r.process_instance_id for r in rows)
        result = []
        for row in rows:
            staff_tasks = [t for t in open_tasks.get(row.process_instance_id, []) if not t.for_customer]
            row.overdue = any(staff_requests.is_overdue(t) for t in staff_tasks)
            row.open_tasks = len(staff_tasks)
            result.append(row)
        return self.response(200, **_list.dump({"count": total, "page": page, "page_size": page_size,
                                                 "result": result}))

    @expose("/<int:request_id>", methods=["GET"])
    @protect()
    def show(self, request_id):
        """The request card: customer contacts, account, form, files, chat, history, the
        process's position with its open tasks, rating. The customer's messages become read.
        ---
        get:
          summary: A request card
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/StaffRequestCardSchema'}}}
            401: {description: Not signed in}
            403: {description: The role may not read requests}
            404: {description: No such submitted request (request_not_found)}
        """
        return self.response(200, **dump_card(request_id))

    @expose("/<int:request_id>/diagram.svg", methods=["GET"])
    @protect()
    def diagram(self, request_id):
        """The process diagram (SVG) with the current steps highlighted.
        ---
        get:
          summary: Process diagram
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {image/svg+xml: {}}
            404: {description: No such request, or it has no process (request_not_found)}
        """
        req = staff_requests.get(request_id)
        svg = staff_requests.diagram(req)
        if svg is None:
            return self.response_404()
        # Opened on its own, the SVG may style itself and do nothing else.
        policy = "default-src 'none'; style-src 'unsafe-inline'"
        return current_app.response_class(svg, mimetype="image/svg+xml", headers={"Content-Security-Policy": policy})

    @expose("/<int:request_id>/attachments/<int:attachment_id>", methods=["GET"])
    @protect()
    def download(self, request_id, attachment_id):
        """Download a file of the request under its (sanitised) display name.
        ---
        get:
          summary: Download a file
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          - {in: path, name: attachment_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {image/jpeg: {}, image/png: {}, application/pdf: {}}
            401: {description: Not signed in}
            403: {description: The role may not read requests}
            404: {description: No such request or file (request_not_found, attachment_not_found)}
        """
        found = staff_requests.attachment(request_id, attachment_id)
        return send_file(uploads.absolute_path(found.path), mimetype=found.content_type, as_attachment=True,
                         download_name=found.filename, max_age=0)

    @expose("/<int:request_id>/messages", methods=["POST"])
    @protect()
    def post_message(self, request_id):
        """Answer in the request's chat, optionally with a file: multipart (fields ``text`` and
        ``file``) or JSON (``text``, ``file`` as base64, ``filename``). The customer sees both.
        ---
        post:
          summary: Send a staff chat message
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json: {schema: {$ref: '#/components/schemas/StaffMessageInSchema'}}
              multipart/form-data:
                schema:
                  type: object
                  required: [text]
                  properties: {text: {type: string}, file: {type: string, format: binary}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/StaffMessageSchema'}}}
            401: {description: Not signed in}
            403: {description: The role may not write in requests' chats}
            404: {description: No such request (request_not_found)}
            409: {description: Closed (request_closed) or too many files (request_attachments_too_many)}
            422:
              description: >-
                Empty or too long text (request_message_*); the file empty, too large or not
                JPEG/PNG/PDF (upload_*)
        """
        if request.mimetype == "multipart/form-data":
            text = request.form.get("text", "")
            data, filename = _posted_file()
        else:
            body = StaffMessageInSchema().load(self.json_body())
            text, filename = body["text"], body["filename"]
            data = uploads.decode_base64(body["file"]) if body["file"] is not None else None
        if data is not None and not data:
            raise Invalid(fields={"file": ["upload_empty"]})
        message = staff_requests.post_message(request_id, g.user.username, text, data, filename)
        return self.response(201, **_message.dump(message))

    @expose("/<int:request_id>/notes", methods=["POST"])
    @protect()
    def add_note(self, request_id):
        """Add a staff note to the request's status history (the status stays); the customer
        sees it in the history too.
        ---
        post:
          summary: Add a note to the history
          parameters:
          - {in: path, name: request_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/NoteInSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/StaffRequestCardSchema'}}}
            401: {description: Not signed in}
            403: {description: The role may not write in requests}
            404: {description: No such request (request_not_found)}
            409: {description: Closed (request_closed)}
            422: {description: Empty or too long (request_note_*)}
        """
        body = NoteInSchema().load(self.json_body())
        staff_requests.add_note(request_id, g.user.username, body["note"])
        return self.response(201, **dump_card(request_id))

    @expose("/", methods=["POST"])
    @protect()
    def file(self):
        """File a request in an office (PR-9): a customer with this phone is linked, anyone
        else is a walk-in (name and phone kept in the form). It is submitted and its process
        started at once; the public status check answers for its number.
        ---
        post:
          summary: File a request in an office
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/OfficeFilingSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/StaffRequestCardSchema'}}}
            401: {description: Not signed in}
            403: {description: Only Operator and Admin file in an office}
            422:
              description: >-
                Not an office kind (request_type_not_office), a bad phone (phone_*), a walk-in
                without a name (request_walk_in_name_required), or the form fails its schema
                (request_form_invalid)
        """
        body = OfficeFilingSchema().load(self.json_body())
        req = staff_requests.file_in_office(body["type"], body["form_data"], body["phone"], body["name"],
                                            g.user.username)
        return self.response(201, **dump_card(req.id))
