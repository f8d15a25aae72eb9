"""The staff task inbox (AD-2): my tasks and my roles' unclaimed tasks with due dates, claim /
hand back, and the completion form rendered on the server from the task's JSON Schema."""
from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..errors import DomainError, Invalid
from ..services import process_monitor, staff_requests
from ..workflows import instances, tasks
from . import task_forms
from .common import Page, can, csrf_protected, current_worker, flash_domain_error, is_overdue, page_arg

PAGE_SIZE = 50


def _safe_next(default):
    target = request.form.get("next") or request.args.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return target
    return default


class TaskInbox(BaseView):
    route_base = "/work/inbox"
    default_view = "list"
    class_permission_name = "TaskInbox"
    method_permission_name = {"list": "read", "task": "read", "complete": "write", "claim": "write",
                              "unclaim": "write", "reassign": "write"}

    @expose("/")
    @has_access
    def list(self):
        worker = current_worker()
        process_key = request.args.get("process_key", "").strip() or None
        overdue = request.args.get("overdue") in ("1", "on", "true")
        sections = []
        for arg, title, kwargs in (
            ("mine_page", "Мои задачи", {"mine": True}),
            ("pool_page", "Не взятые задачи моих ролей" if not worker.is_admin else "Не взятые задачи (все роли)",
             {"unassigned": True}),
        ):
            page = page_arg(arg)
            rows, total = tasks.inbox(worker, process_key=process_key, overdue=overdue, page=page,
                                      page_size=PAGE_SIZE, **kwargs)
            sections.append({"id": "mine" if "mine" in kwargs else "pool", "title": title,
                             "page": Page(rows, total, page, PAGE_SIZE, arg=arg)})
        business = process_monitor.business_keys(t.instance_id for s in sections for t in s["page"].rows)
        # A task of a request's process links to the request card (AD-3).
        request_ids = (staff_requests.request_of_instances(business) if can("can_read", "ServiceRequestView")
                       else {})
        return self.render_template(
            "inbox/list.html", sections=sections, business=business, request_ids=request_ids, worker=worker,
            is_overdue=is_overdue,
            keys=process_monitor.process_keys(), process_key=process_key or "", overdue=overdue,
            can_see_instances=can("can_read", "ProcessInstanceView"),
        )

    @expose("/task/<int:task_id>", methods=["GET"])
    @has_access
    def task(self, task_id):
        task = self._task(task_id)
        if task is None:
            return redirect(url_for(".list"))
        return self._render_form(task, task_forms.initial_values(task.form_schema), {}, [])

    @expose("/task/<int:task_id>", methods=["POST"])
    @has_access
    @csrf_protected
    def complete(self, task_id):
        task = self._task(task_id)
        if task is None:
            return redirect(url_for(".list"))
        schema = task.form_schema or {}
        data, errors = task_forms.convert(schema, request.form)
        try:
            tasks.validate_form(schema, data)
        except Invalid as exc:
            for path, messages in exc.fields.items():
                if path.split(".")[0] not in errors:
                    errors.setdefault(path, []).extend(messages)
        if not errors:
            try:
                tasks.complete(task_id, current_worker(), data)
            except Invalid as exc:
                errors = exc.fields or {"data": [exc.code]}
            except DomainError as exc:
                flash_domain_error(exc)
                return redirect(url_for(".list"))
            else:
                flash(f"Задача «{task.title}» (экземпляр {task.instance_id}) выполнена.", "success")
                return redirect(url_for(".list"))
        per_field, general = task_forms.field_errors(schema, errors)
        flash("Данные формы не прошли проверку: исправьте отмеченные поля. Задача не изменилась.", "danger")
        return self._render_form(task, task_forms.submitted_values(schema, request.form), per_field, general,
                                 status=422)

    @expose("/claim/<int:task_id>", methods=["POST"])
    @has_access
    @csrf_protected
    def claim(self, task_id):
        return self._act(tasks.claim, task_id, "Задача «{title}» взята в работу.")

    @expose("/unclaim/<int:task_id>", methods=["POST"])
    @has_access
    @csrf_protected
    def unclaim(self, task_id):
        return self._act(tasks.unclaim, task_id, "Задача «{title}» возвращена в пул роли.")

    @expose("/reassign/<int:task_id>", methods=["POST"])
    @has_access
    @csrf_protected
    def reassign(self, task_id):
        target = staff_requests.staff_worker(request.form.get("to", ""))
        try:
            task = tasks.reassign(task_id, current_worker(), target)
        except DomainError as exc:
            flash_domain_error(exc)
        else:
            flash(f"Задача «{task.title}» передана пользователю {task.assignee}.", "success")
        return redirect(_safe_next(url_for(".list")))

    def _act(self, action, task_id, done):
        try:
            task = action(task_id, current_worker())
        except DomainError as exc:
            flash_domain_error(exc)
        else:
            flash(done.format(title=task.title), "success")
        return redirect(_safe_next(url_for(".list")))

    def _task(self, task_id):
        try:
            task = tasks.get(task_id, current_worker())
        except DomainError as exc:
            flash_domain_error(exc)
            return None
        if task.status != "open":
            flash(f"Задача «{task.title}» уже не открыта.", "warning")
            return None
        return task

    def _render_form(self, task, values, errors, general, status=200):
        worker = current_worker()
        see_instances = can("can_read", "ProcessInstanceView")
        may_reassign = worker.is_admin or task.assignee == worker.name
        request_id = (staff_requests.request_of_instances([task.instance_id]).get(task.instance_id)
                      if can("can_read", "ServiceRequestView") else None)
        body = self.render_template(
            "inbox/task.html", task=task, fields=task_forms.fields_of(task.form_schema), values=values,
            errors=errors, general_errors=general, worker=worker, overdue=is_overdue(task),
            business_key=process_monitor.business_keys([task.instance_id]).get(task.instance_id),
            can_see_instances=see_instances, request_id=request_id,
            reassign_to=[u for u in staff_requests.staff_with_role(task.candidate_role) if u != task.assignee]
            if may_reassign else [],
            data=instances.data_of(instances.get(task.instance_id)) if see_instances else None,
        )
        return body, status
