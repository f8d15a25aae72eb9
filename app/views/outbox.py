"""Outbound messages (SPEC NT-3): the outbox with its delivery status, read-only, and a retry
for failed messages. Bodies are shown with one-time codes masked; codes are never re-sent."""
from flask import flash, g, redirect
from flask_appbuilder import ModelView, expose
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.interface import SQLAInterface

from ..models.notifications import OutboxMessage
from ..services import outbox
from .common import csrf_protected, format_dt

STATUS_LABELS = {
    "queued": "в очереди",
    "sending": "отправляется",
    "retry": "ждёт повтора",
    "sent": "отправлено",
    "failed": "не отправлено",
}
CHANNEL_LABELS = {"sms": "SMS", "voice": "звонок", "email": "email", "push": "push", "log": "журнал"}
QUEUE_LABELS = {"high": "срочная", "default": "обычная", "bulk": "массовая"}


def _dt(value):
    return format_dt(value, with_seconds=True)


class OutboxView(ModelView):
    route_base = "/outbox"
    datamodel = SQLAInterface(OutboxMessage)
    class_permission_name = "OutboxView"
    method_permission_name = {"list": "read", "show": "read", "retry_failed": "write"}
    # Read-only: no add / edit / delete / download routes at all.
    include_route_methods = {"list", "show", "action", "action_post"}
    list_template = "outbox/list.html"
    list_title = "Исходящие сообщения"
    show_title = "Исходящее сообщение"
    base_order = ("id", "desc")
    page_size = 50

    list_columns = ["id", "created_at", "channel", "recipient", "template", "queue", "status", "attempts",
                    "next_attempt_at", "sent_at", "provider"]
    show_columns = ["id", "status", "channel", "queue", "recipient", "customer_id", "template", "subject",
                    "masked_body", "attempts", "next_attempt_at", "last_error", "provider", "provider_message_id",
                    "idempotency_key", "created_at", "updated_at", "sent_at"]
    search_columns = ["status", "channel", "queue", "recipient", "template", "provider", "customer_id",
                      "created_at", "sent_at"]
    label_columns = {
        "id": "№", "created_at": "Создано", "updated_at": "Изменено", "sent_at": "Отправлено",
        "channel": "Канал", "recipient": "Получатель", "template": "Шаблон", "queue": "Очередь",
        "status": "Состояние", "attempts": "Попыток", "next_attempt_at": "Следующая попытка / срок",
        "provider": "Провайдер", "provider_message_id": "Номер у провайдера", "subject": "Тема",
        "masked_body": "Текст", "last_error": "Последняя ошибка", "idempotency_key": "Ключ",
        "customer_id": "Клиент",
    }
    formatters_columns = {
        "status": lambda value: STATUS_LABELS.get(value, value),
        "channel": lambda value: CHANNEL_LABELS.get(value, value),
        "queue": lambda value: QUEUE_LABELS.get(value, value),
        "created_at": _dt, "updated_at": _dt, "sent_at": _dt, "next_attempt_at": _dt,
    }

    @action("retry_failed", "Отправить ещё раз", "Отправить выбранные неотправленные сообщения ещё раз?",
            "fa-repeat", multiple=True, single=True)
    def retry_failed(self, items):
        items = items if isinstance(items, list) else [items]
        retried, refused = outbox.retry_failed([item.id for item in items if item is not None], g.user.username)
        if retried:
            flash(f"Снова в очереди: {len(retried)} (№ {', '.join(map(str, retried))}).", "success")
        secret = sorted(i for i, reason in refused.items() if reason == "secret")
        if secret:
            flash(f"Одноразовые коды и ссылки не отправляются повторно (№ {', '.join(map(str, secret))}): "
                  "клиент запросит новый код.", "warning")
        other = sorted(i for i, reason in refused.items() if reason == "not_failed")
        if other:
            flash(f"Повторить можно только неотправленные сообщения; пропущены № {', '.join(map(str, other))}.",
                  "warning")
        if not items:
            flash("Не выбрано ни одного сообщения.", "warning")
        return redirect(self.get_redirect())

    # FAB leaves CSRF to the application: the action forms check this session's token here.
    @expose("/action/<string:name>/<pk>", methods=["POST"])
    @csrf_protected
    def action(self, name, pk):
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    @csrf_protected
    def action_post(self):
        return super().action_post()
