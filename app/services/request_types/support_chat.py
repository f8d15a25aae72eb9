"""PR-11 support chat as a request kind: ``support_chat`` starts the process ``support_chat``
(an Operator task "answer the support chat", escalated to Admin). Guests have no customer; the
chat itself lives in ``services/support_chat.py``."""
from ...workflows.service_tasks import PermanentFailure, handler
from . import RequestType, base_data, register

TOPICS = {
    "bills": ("Счета и начисления", "Bills and charges"),
    "payments": ("Оплата", "Payments"),
    "meters": ("Приборы учёта и показания", "Meters and readings"),
    "connection": ("Подключение и услуги", "Connection and services"),
    "outage": ("Отключения", "Outages"),
    "account": ("Вход и личный кабинет", "Signing in and the account"),
    "other": ("Другое", "Other"),
}
MESSAGE_MAX = 2000


def _process_data(req, customer):
    from .. import support_chat  # the chat service imports this module: import it late

    support_chat.ensure_chat(req, customer)
    return {**base_data(req, customer), "topic": req.form_data.get("topic") or "other", "guest": customer is None}


@handler("support_chat.close")
def close_from_process(params, context):
    """The task was completed in the inbox (or by closing on the chat screen): the chat is
    closed; a chat already closed, or reopened with a newer instance, is left alone."""
    from .. import support_chat

    try:
        return support_chat.closed_by_process(context.business_key, context.instance_id, params.get("resolution"),
                                              context.job_id)
    except LookupError as exc:
        raise PermanentFailure(str(exc)) from None


register(RequestType(
    key="support_chat",
    process_key="support_chat",
    titles={"ru": "Чат поддержки", "en": "Support chat"},
    schema={
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {
            "topic": {"type": "string", "enum": list(TOPICS), "title": "Тема"},
            "text": {"type": "string", "minLength": 1, "maxLength": MESSAGE_MAX, "title": "Вопрос"},
            "name": {"type": "string", "maxLength": 100, "title": "Имя"},
            "phone": {"type": "string", "maxLength": 16, "title": "Телефон"},
            "email": {"type": "string", "maxLength": 254, "title": "Электронная почта"},
        },
    },
    process_data=_process_data,
    office=False,
    listed=False,
))
