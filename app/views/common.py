"""What the back-office screens share: CSRF on POST forms, flash messages for domain errors,
the acting worker, paging, and the Jinja filters (dates in the staff's time zone, JSON)."""
import functools
import json
import math
from datetime import timezone
from urllib.parse import urlencode, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, flash, g, redirect, request, url_for
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import BooleanField
from wtforms.validators import ValidationError

from ..api.errors import message_for
from ..models.workflow import utcnow
from ..workflows import tasks

STATUS_LABELS = {
    "running": ("выполняется", "primary"),
    "waiting": ("ожидает", "info"),
    "completed": ("завершён", "success"),
    "error": ("ошибка", "danger"),
    "cancelled": ("отменён", "default"),
    "suspended": ("приостановлен", "warning"),
}

EVENT_LABELS = {
    "started": "запуск",
    "task_completed": "задача выполнена",
    "task_claimed": "задача взята в работу",
    "task_unclaimed": "задача возвращена в пул",
    "message": "сообщение",
    "timer": "таймер",
    "service_task": "сервисная задача",
    "error": "ошибка",
    "retry": "повтор",
    "cancelled": "отмена",
    "suspended": "приостановка",
    "resumed": "возобновление",
    "completed": "завершение",
    "migrated": "миграция версии",
}


def current_worker():
    roles = [role.name for role in g.user.roles]
    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    return tasks.Worker(g.user.username, roles, is_admin=admin_role in roles)


def flash_domain_error(exc):
    flash(message_for(exc.code, exc.params), "danger")


def can(permission, view_name):
    return current_app.appbuilder.sm.has_access(permission, view_name)


STALE_FORM = "Форма устарела или отправлена не с этой страницы: откройте страницу заново и повторите."


def csrf_ok():
    """True when the posted form carries this session's CSRF token (or CSRF is off); else
    flashes :data:`STALE_FORM`. For handlers that take GET and POST; POST-only ones use
    :func:`csrf_protected`."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    try:
        validate_csrf(request.form.get("csrf_token"))
        return True
    except ValidationError:
        flash(STALE_FORM, "danger")
        return False


def csrf_protected(view):
    """POST handlers of the screens: refuse a form without this session's CSRF token.

    Flask-AppBuilder leaves CSRFProtect to the application and the app does not install it
    globally (the JWT API must not need the token), so each state-changing form checks it here.
    """
    @functools.wraps(view)
    def wrapper(self, *args, **kwargs):
        if not csrf_ok():
            return redirect(_back(self))
        return view(self, *args, **kwargs)

    return wrapper


def _back(view):
    """The page the refused form was on (same site only), else the view's own list."""
    referrer = urlparse(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for(f"{type(view).__name__}.{view.default_view}")


def page_arg(name="page"):
    try:
        return max(int(request.args.get(name, 0)), 0)
    except ValueError:
        return 0


class Page:
    """One page of a list: rows, total and the numbers the pager macro needs."""

    def __init__(self, rows, total, page, page_size, arg="page"):
        self.rows, self.total, self.page, self.page_size, self.arg = rows, total, page, page_size, arg
        self.pages = max(math.ceil(total / page_size), 1)

    def url(self, page):
        args = request.args.to_dict()
        args[self.arg] = page
        return request.path + "?" + urlencode(args)


def _display_zone():
    name = current_app.config.get("DISPLAY_TIMEZONE") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def format_dt(value, with_seconds=False):
    """Naive UTC from the database → the staff's local time, e.g. ``01.12.2026 09:00``."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    local = value.astimezone(_display_zone())
    return local.strftime("%d.%m.%Y %H:%M:%S" if with_seconds else "%d.%m.%Y %H:%M")


def pretty_json(value):
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def is_overdue(task):
    return bool(task.status == "open" and task.due_at and task.due_at < utcnow())


def init_view_helpers(app):
    app.jinja_env.globals.setdefault("csrf_token", generate_csrf)
    app.jinja_env.globals["STATUS_LABELS"] = STATUS_LABELS
    app.jinja_env.globals["EVENT_LABELS"] = EVENT_LABELS
    app.jinja_env.filters["dt"] = format_dt
    app.jinja_env.filters["pretty_json"] = pretty_json


def switch_fields(view_labels, view_descriptions, name="active"):
    """Form fields for a yes/no column that can be switched off: Flask-AppBuilder makes a NOT NULL
    column's checkbox required (InputRequired), so an unticked box could never be saved. Use as
    ``add_form_extra_fields = edit_form_extra_fields = switch_fields(label_columns, description_columns)``."""
    return {name: BooleanField(view_labels[name], default=True, description=view_descriptions.get(name))}
