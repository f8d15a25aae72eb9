"""Process instances (AD-5): search by key, status, business key and current activity; one
instance's status, data, activities, tasks, incidents and history; cancel / suspend / resume /
retry through the gateway."""
from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..errors import DomainError
from ..services import process_monitor
from ..workflows import instances
from .common import STATUS_LABELS, Page, can, csrf_protected, flash_domain_error, is_overdue, page_arg

PAGE_SIZE = 25
ACTIVE = ("running", "waiting", "error")

ACTIONS = {
    "cancel": (instances.cancel, "Экземпляр {id} отменён."),
    "suspend": (instances.suspend, "Экземпляр {id} приостановлен."),
    "resume": (instances.resume, "Экземпляр {id} возобновлён."),
    "retry": (instances.retry, "Экземпляр {id}: ошибки отправлены на повтор."),
}


def activities_of(instance):
    return [a for a in (instance.current_activities or "").split("|") if a]


def available_actions(instance, open_incidents):
    status = instance.status
    actions = []
    if status in ACTIVE or status == "suspended":
        actions.append("cancel")
    if status in ACTIVE:
        actions.append("suspend")
    if status == "suspended":
        actions.append("resume")
    if status in ACTIVE and (status == "error" or open_incidents):
        actions.append("retry")
    return actions


class ProcessInstanceView(BaseView):
    route_base = "/processes/instances"
    default_view = "list"
    class_permission_name = "ProcessInstanceView"
    method_permission_name = {"list": "read", "show": "read", "act": "write"}

    @expose("/")
    @has_access
    def list(self):
        args = request.args
        filters = {
            "key": args.get("key", "").strip(),
            "status": args.get("status", "").strip(),
            "business_key": args.get("business_key", "").strip(),
            "activity": args.get("activity", "").strip(),
        }
        if filters["status"] and filters["status"] not in STATUS_LABELS:
            flash("Неизвестное состояние: фильтр по состоянию не применён.", "warning")
            filters["status"] = ""
        page = page_arg()
        rows, total = instances.search(filters["key"] or None, filters["status"] or None,
                                       filters["business_key"] or None, filters["activity"] or None,
                                       page, PAGE_SIZE)
        return self.render_template(
            "instances/list.html", page=Page(rows, total, page, PAGE_SIZE), filters=filters,
            keys=process_monitor.process_keys(), activities_of=activities_of,
        )

    @expose("/show/<int:instance_id>")
    @has_access
    def show(self, instance_id):
        try:
            instance = instances.get(instance_id)
        except DomainError as exc:
            flash_domain_error(exc)
            return redirect(url_for(".list"))
        incidents = instances.incidents(instance_id)
        open_incidents = [i for i in incidents if i.resolved_at is None]
        return self.render_template(
            "instances/show.html", instance=instance, data=instances.data_of(instance),
            activities=activities_of(instance), open_tasks=instances.open_tasks(instance_id),
            incidents=incidents, open_incidents=open_incidents, events=instances.history(instance_id),
            actions=available_actions(instance, open_incidents) if can("can_write", self.class_permission_name)
            else [],
            is_overdue=is_overdue, can_see_definitions=can("can_read", "ProcessDefinitionView"),
            can_work=can("can_read", "TaskInbox"),
        )

    @expose("/<int:instance_id>/<action>", methods=["POST"])
    @has_access
    @csrf_protected
    def act(self, instance_id, action):
        if action not in ACTIONS:
            flash("Неизвестное действие.", "danger")
        else:
            call, done = ACTIONS[action]
            try:
                instance = call(instance_id, g.user.username)
            except DomainError as exc:
                flash_domain_error(exc)
            else:
                flash(done.format(id=instance_id) + f" Состояние: {STATUS_LABELS.get(instance.status, (instance.status,))[0]}.", "success")
        target = request.form.get("next") or ""
        if not target.startswith("/") or target.startswith("//"):
            target = url_for(".show", instance_id=instance_id)
        return redirect(target)
