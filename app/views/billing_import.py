"""Обмен с биллингом: upload a file of the billing system, see what it changed, list past runs,
download the export of readings and payments (docs/billing-import.md)."""
import os

from flask import Response, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..services import billing_export, billing_import, periods
from .common import Page, can, csrf_ok, csrf_protected, page_arg

PAGE_SIZE = 30
ERRORS_SHOWN = 50
KIND_LABELS = {
    "accounts": "Лицевые счета", "contracts": "Договоры", "meters": "Приборы учёта",
    "readings": "Показания", "bills": "Начисления (квитанции со строками)", "payments": "Платежи",
    "tariffs": "Тарифы", "events": "События охраны", "suppliers": "Поставщики", "services": "Услуги поставщиков",
}
EXPORT_LABELS = {"readings": "Показания клиентов", "payments": "Платежи через Кабинет"}
STAT_LABELS = {
    "rows": "строк в файле", "created": "создано", "updated": "изменено", "unchanged": "без изменений",
    "kept_customer": "оставлены показания клиентов", "skipped": "пропущено строк с ошибками", "errors": "ошибок",
    "lines_created": "строк квитанций создано", "lines_updated": "строк квитанций изменено",
    "lines_deleted": "строк квитанций удалено", "records": "записей", "marked": "отмечено выгруженными",
    "period": "период", "since": "с момента",
}


def _format_of(filename):
    extension = os.path.splitext(filename or "")[1].lower().lstrip(".")
    return extension if extension in billing_import.FORMATS else None


class BillingImportView(BaseView):
    route_base = "/billing/exchange"
    default_view = "index"
    class_permission_name = "BillingImportView"
    method_permission_name = {"index": "read", "batch": "read", "upload": "write", "download": "write"}

    @expose("/")
    @has_access
    def index(self):
        page = page_arg()
        rows, total = billing_import.recent_batches(PAGE_SIZE, page * PAGE_SIZE)
        columns = {name: [(f.name, f.required) for f in kind.fields] for name, kind in billing_import.KINDS.items()}
        return self.render_template(
            "billing_import/index.html", batches=Page(rows, total, page, PAGE_SIZE), kinds=KIND_LABELS,
            export_kinds=EXPORT_LABELS, columns=columns, stat_labels=STAT_LABELS,
            can_write=can("can_write", self.class_permission_name),
            max_mb=current_app.config.get("MAX_CONTENT_LENGTH", 0) // (1024 * 1024))

    @expose("/batch/<int:batch_id>")
    @has_access
    def batch(self, batch_id):
        from ..extensions import db
        from ..models.accounts import ImportBatch

        found = db.session.get(ImportBatch, batch_id)
        if found is None:
            flash(f"Запуск № {batch_id} не найден.", "danger")
            return redirect(url_for(".index"))
        return self.render_template("billing_import/batch.html", batch=found, errors=found.errors[:ERRORS_SHOWN],
                                    kinds=dict(KIND_LABELS, **EXPORT_LABELS), stat_labels=STAT_LABELS)

    @expose("/upload", methods=["POST"])
    @has_access
    def upload(self):
        # Checked before the form is read: reading an oversized body raises 413 mid-request.
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit and (request.content_length or 0) > limit:
            flash(f"Файл больше {limit // (1024 * 1024)} МБ: разбейте его на части.", "danger")
            return redirect(url_for(".index"))
        if not csrf_ok():
            return redirect(url_for(".index"))
        kind = request.form.get("kind")
        storage = request.files.get("file")
        file_format = request.form.get("format") or _format_of(storage and storage.filename)
        if kind not in billing_import.KINDS:
            flash("Выберите, что в файле.", "danger")
        elif not storage or not storage.filename:
            flash("Выберите файл.", "danger")
        elif file_format not in billing_import.FORMATS:
            flash("Формат файла — CSV или JSON (укажите его, если расширение другое).", "danger")
        else:
            batch = billing_import.import_file(kind, storage.read(), file_format, filename=storage.filename,
                                               started_by=g.user.username, partial=bool(request.form.get("partial")))
            if batch.status == "done":
                flash(f"Файл загружен: {KIND_LABELS[kind].lower()}.", "success")
            else:
                flash("Файл не загружен: в нём есть ошибки, ничего не изменено.", "danger")
            return redirect(url_for(".batch", batch_id=batch.id))
        return redirect(url_for(".index"))

    @expose("/export", methods=["POST"])
    @has_access
    @csrf_protected
    def download(self):
        kind = request.form.get("kind")
        file_format = request.form.get("format", "csv")
        raw_period = (request.form.get("period") or "").strip()
        try:
            period = periods.parse(raw_period) if raw_period else None
        except ValueError:
            flash("Период — в формате ГГГГ-ММ.", "danger")
            return redirect(url_for(".index"))
        if kind not in billing_export.KINDS or file_format not in billing_import.FORMATS:
            flash("Выберите, что выгрузить, и формат.", "danger")
            return redirect(url_for(".index"))
        _batch, content, filename = billing_export.export(kind, file_format, period=period,
                                                          started_by=g.user.username)
        mimetype = "application/json" if file_format == "json" else "text/csv; charset=utf-8"
        return Response(content, mimetype=mimetype,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
