"""Process definitions (AD-4 without the modeler): keys and versions, sources, forms, upload."""
import json
import os

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..api.errors import message_for
from ..errors import DomainError
from ..services import process_monitor
from ..workflows import deployment
from .common import can, csrf_protected

MAX_FILE_BYTES = 2_000_000  # the staff API's limit on one document


class UploadError(Exception):
    """A file the form cannot pass to the gateway (missing, too large, not UTF-8, bad JSON)."""


def _read_text(storage, label):
    raw = storage.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise UploadError(f"Файл «{storage.filename}» ({label}) больше 2 МБ.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError(f"Файл «{storage.filename}» ({label}) не в кодировке UTF-8.") from None


def _chosen(name):
    return [f for f in request.files.getlist(name) if f and f.filename]


def read_upload():
    """``(bpmn, [dmn], {file name: schema}, key)`` from the upload form."""
    bpmn_files = _chosen("bpmn")
    if not bpmn_files:
        raise UploadError("Выберите файл BPMN.")
    bpmn = _read_text(bpmn_files[0], "BPMN")
    dmn = [_read_text(f, "DMN") for f in _chosen("dmn")]
    forms = {}
    for storage in _chosen("forms"):
        name = os.path.basename(storage.filename.replace("\\", "/"))
        text = _read_text(storage, "форма")
        try:
            schema = json.loads(text)
        except ValueError as exc:
            raise UploadError(f"Форма «{name}» — некорректный JSON: {exc}.") from None
        if not isinstance(schema, dict):
            raise UploadError(f"Форма «{name}» должна быть JSON-объектом (JSON Schema).")
        forms[name] = schema
    key = (request.form.get("key") or "").strip() or None
    return bpmn, dmn, forms, key


class ProcessDefinitionView(BaseView):
    route_base = "/processes/definitions"
    default_view = "list"
    class_permission_name = "ProcessDefinitionView"
    method_permission_name = {"list": "read", "show": "read", "upload_form": "write", "upload": "write"}

    @expose("/")
    @has_access
    def list(self):
        return self.render_template("definitions/list.html", rows=process_monitor.definitions_overview(),
                                    can_upload=can("can_write", self.class_permission_name))

    @expose("/show/<key>")
    @has_access
    def show(self, key):
        versions = process_monitor.definition_versions(key)
        if not versions:
            flash(message_for("definition_not_found", {"key": key}), "danger")
            return redirect(url_for(".list"))
        wanted = request.args.get("version", type=int)
        chosen = next((v["definition"] for v in versions if v["definition"].version == wanted), None)
        if wanted is not None and chosen is None:
            abort(404)
        chosen = chosen or versions[0]["definition"]
        return self.render_template(
            "definitions/show.html", key=key, versions=versions, definition=chosen,
            latest=versions[0]["definition"], can_upload=can("can_write", self.class_permission_name),
            can_see_instances=can("can_read", "ProcessInstanceView"),
        )

    @expose("/upload", methods=["GET"])
    @has_access
    def upload_form(self):
        return self.render_template("definitions/upload.html", error=None, key=request.args.get("key", ""))

    @expose("/upload", methods=["POST"])
    @has_access
    @csrf_protected
    def upload(self):
        key = request.form.get("key", "")
        try:
            bpmn, dmn, forms, key_arg = read_upload()
            definition, created = deployment.deploy(bpmn, dmn, forms, key=key_arg, deployed_by=g.user.username)
        except UploadError as exc:
            return self._failed({"message": str(exc)}, key, 422)
        except DomainError as exc:
            return self._failed({"message": message_for(exc.code, exc.params), "code": exc.code,
                                 "element": exc.params.get("element"), "fault": exc.params.get("fault")},
                                key, exc.status)
        if created:
            flash(f"Развёрнута версия {definition.version} процесса «{definition.key}».", "success")
        else:
            flash(f"Без изменений: содержимое совпадает с версией {definition.version} процесса «{definition.key}», "
                  "новая версия не создана.", "info")
        return redirect(url_for(".show", key=definition.key, version=definition.version))

    def _failed(self, error, key, status):
        return self.render_template("definitions/upload.html", error=error, key=key), status
