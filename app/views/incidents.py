"""Open incidents of all instances (AD-5): failed background steps and scripts, with retry."""
from flask import flash, g, redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..errors import DomainError
from ..services import process_monitor
from ..workflows import instances
from .common import Page, can, csrf_protected, flash_domain_error, page_arg

PAGE_SIZE = 50


class IncidentView(BaseView):
    route_base = "/incidents"
    default_view = "list"
    class_permission_name = "IncidentView"
    method_permission_name = {"list": "read", "retry": "write"}

    @expose("/")
    @has_access
    def list(self):
        page = page_arg()
        rows, total = process_monitor.open_incidents(page, PAGE_SIZE)
        return self.render_template(
            "incidents/list.html", page=Page(rows, total, page, PAGE_SIZE),
            can_retry=can("can_write", self.class_permission_name),
            can_see_instances=can("can_read", "ProcessInstanceView"),
        )

    @expose("/retry/<int:instance_id>", methods=["POST"])
    @has_access
    @csrf_protected
    def retry(self, instance_id):
        try:
            instance = instances.retry(instance_id, g.user.username)
        except DomainError as exc:
            flash_domain_error(exc)
        else:
            flash(f"Экземпляр {instance.id}: открытые инциденты закрыты, шаги отправлены на повтор.", "success")
        return redirect(url_for(".list"))
