"""«Заявки» in the back office (SPEC AD-3): the list with filters and open / overdue markers,
and the request card — customer, documents, chat with files, history, where the process stands
and its diagram (SVG drawn on the server) with the current steps highlighted."""
from flask import current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup

from ..api.errors import message_for
from ..errors import DomainError, Invalid
from ..models.requests import DONE_STATUSES, FINAL_STATUSES, STATUSES
from ..services import staff_requests, uploads
from ..services.service_requests import STATUS_LABELS
from . import task_forms
from .common import Page, can, csrf_ok, csrf_protected, flash_domain_error, page_arg

PAGE_SIZE = 30
FILTERS = ("type", "status", "number", "phone", "state", "office")


def _flash_refusal(exc):
    """The refusal and what was wrong with each field (e.g. "Напишите сообщение.")."""
    flash_domain_error(exc)
    for codes in exc.fields.values():
        for code in codes:
            flash_domain_error(DomainError(code, **exc.params))


class ServiceRequestView(BaseView):
    route_base = "/work/requests"
    default_view = "list"
    class_permission_name = "ServiceRequestView"
    method_permission_name = {"list": "read", "show": "read", "download": "read", "message": "write",
                              "note": "write", "new": "file"}

    @expose("/")
    @has_access
    def list(self):
        filters = {name: request.args.get(name, "").strip() for name in FILTERS}
        if filters["status"] not in STATUSES or filters["status"] == "draft":
            filters["status"] = ""
        if filters["state"] not in ("open", "closed"):
            filters["state"] = ""
        page = page_arg()
        try:
            rows, total = staff_requests.search(
                type_key=filters["type"] or None, status=filters["status"] or None, number=filters["number"] or None,
                phone=filters["phone"] or None, state=filters["state"] or None,
                filed_in_office={"1": True, "0": False}.get(filters["office"]), page=page, page_size=PAGE_SIZE)
        except DomainError as exc:  # a mistyped phone
            flash_domain_error(exc)
            rows, total = [], 0
        staff_tasks = {instance_id: [t for t in found if not t.for_customer] for instance_id, found
                       in staff_requests.open_staff_tasks(r.process_instance_id for r in rows).items()}
        overdue = {instance_id for instance_id, found in staff_tasks.items()
                   if any(staff_requests.is_overdue(t) for t in found)}
        return self.render_template(
            "requests/list.html", page=Page(rows, total, page, PAGE_SIZE), filters=filters,
            type_titles={key: kind.titles.get("ru") or key for key, kind in sorted(staff_requests.TYPES.items())},
            statuses=[s for s in STATUSES if s != "draft"],
            labels=STATUS_LABELS, done=DONE_STATUSES, staff_tasks=staff_tasks, overdue=overdue,
            is_overdue=staff_requests.is_overdue, can_file=can("can_file", self.class_permission_name),
        )

    @expose("/<int:request_id>")
    @has_access
    def show(self, request_id):
        try:
            card = staff_requests.card(request_id)
        except DomainError as exc:
            flash_domain_error(exc)
            return redirect(url_for(".list"))
        req = card["request"]
        svg = staff_requests.diagram(req, card["position"])
        return self.render_template(
            "requests/show.html", card=card, req=req, labels=STATUS_LABELS, is_final=req.status in FINAL_STATUSES,
            diagram=Markup(svg) if svg else None,  # escaped piece by piece in services/bpmn_diagram.py
            can_write=can("can_write", self.class_permission_name), can_work=can("can_read", "TaskInbox"),
            can_see_instances=can("can_read", "ProcessInstanceView"),
            can_see_customers=can("can_read", "CustomerView"),
        )

    @expose("/<int:request_id>/attachments/<int:attachment_id>")
    @has_access
    def download(self, request_id, attachment_id):
        try:
            found = staff_requests.attachment(request_id, attachment_id)
        except DomainError as exc:
            flash_domain_error(exc)
            return redirect(url_for(".list"))
        return send_file(uploads.absolute_path(found.path), mimetype=found.content_type, as_attachment=True,
                         download_name=found.filename, max_age=0)

    @expose("/<int:request_id>/messages", methods=["POST"])
    @has_access
    @csrf_protected
    def message(self, request_id):
        upload = request.files.get("file")
        data = filename = None
        if upload is not None and upload.filename:
            data = upload.stream.read(current_app.config["UPLOAD_MAX_BYTES"] + 1)
            filename = upload.filename
        try:
            staff_requests.post_message(request_id, g.user.username, request.form.get("text", ""), data, filename)
        except DomainError as exc:
            _flash_refusal(exc)
        else:
            flash("Сообщение отправлено клиенту.", "success")
        return redirect(url_for(".show", request_id=request_id) + "#chat")

    @expose("/<int:request_id>/notes", methods=["POST"])
    @has_access
    @csrf_protected
    def note(self, request_id):
        try:
            staff_requests.add_note(request_id, g.user.username, request.form.get("note", ""))
        except DomainError as exc:
            _flash_refusal(exc)
        else:
            flash("Заметка добавлена в историю заявки.", "success")
        return redirect(url_for(".show", request_id=request_id) + "#history")

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        """File a request at the office counter (PR-9): pick a kind, then its form from the
        kind's JSON Schema, with the applicant's phone (and name for a walk-in)."""
        kinds = staff_requests.office_types()
        key = request.values.get("type", "")
        if key not in kinds:
            return self.render_template("requests/new.html", kinds=kinds, kind=None)
        schema = kinds[key].schema
        values, errors, general = task_forms.initial_values(schema), {}, []
        contact = {"phone": "", "name": ""}
        if request.method == "POST" and csrf_ok():
            contact = {name: request.form.get(name, "").strip() for name in contact}
            values = task_forms.submitted_values(schema, request.form)
            data, errors = task_forms.convert(schema, request.form)
            if not errors:
                try:
                    req = staff_requests.file_in_office(key, data, contact["phone"], contact["name"], g.user.username)
                except Invalid as exc:
                    errors, general = _filing_errors(schema, exc)
                except DomainError as exc:
                    flash_domain_error(exc)
                else:
                    flash(f"Заявка {req.number} подана; номер для проверки статуса — {req.number}.", "success")
                    return redirect(url_for(".show", request_id=req.id))
        return self.render_template("requests/new.html", kinds=kinds, kind=kinds[key], key=key,
                                    fields=task_forms.fields_of(schema), values=values, errors=errors,
                                    general_errors=general, contact=contact), 422 if errors or general else 200


def _filing_errors(schema, exc):
    """The refusal of a filing as (per input, form-wide) messages: the kind's form fields come
    as ``form_data.<name>``, the applicant's as ``phone`` / ``name``."""
    per_field, general = {}, []
    form_fields = {}
    for path, codes in exc.fields.items():
        words = [message_for(code, exc.params) for code in codes]
        if path.startswith("form_data."):
            form_fields[path.removeprefix("form_data.")] = words
        elif path in ("phone", "name"):
            per_field[path] = words
        else:
            general.extend(words)
    fields, rest = task_forms.field_errors(schema, form_fields)
    per_field.update(fields)
    return per_field, general + rest or [message_for(exc.code, exc.params)]
