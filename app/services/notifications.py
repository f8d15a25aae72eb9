"""Messages to customers. Delivery adapters (SMS, email, push) arrive with the identity issue;
until then the outbox is delivered to the log sink: a line in ``OUTBOX_LOG_PATH`` (``instance/outbox.log``)."""
from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models.notifications import OutboxMessage
from ..models.workflow import utcnow
from .secrets import public_id

TEMPLATES = {
    "verification_accepted": "Заявка {request} на поверку счётчика {meter} принята.",
    "verification_scheduled": "Поверка счётчика {meter} назначена на {visit_date}.",
    "verification_escalated": "Поверка счётчика {meter}: визит назначается в приоритетном порядке.",
    "verification_passed": "Счётчик {meter} прошёл поверку. Следующая поверка: {next_verification}.",
    "verification_failed": "Счётчик {meter} не прошёл поверку: назначим замену.",
    "otp_register": "Код для регистрации в Кабинете: {code}. Никому его не сообщайте.",
    "otp_login": "Код для входа в Кабинет: {code}. Никому его не сообщайте.",
    "otp_recover": "Код для восстановления пароля: {code}. Никому его не сообщайте.",
    "otp_phone_change": "Код для смены номера телефона в Кабинете: {code}.",
    "otp_voice": "Ваш код: {spoken_code}. Повторяю: {spoken_code}.",
}


class _Defaults(dict):
    def __missing__(self, key):
        return "—"


def queue_message(idempotency_key, channel, recipient, template, context):
    """Add a message to the outbox once per key; returns the row (existing or new)."""
    existing = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    body = TEMPLATES.get(template, template).format_map(_Defaults(context))
    message = OutboxMessage(
        idempotency_key=idempotency_key, channel=channel, recipient=recipient or "unknown",
        template=template, body=body, context=context,
    )
    _deliver_to_log(message)  # before the insert, so the row is written once, already sent
    db.session.add(message)
    db.session.flush()
    return message


def _deliver_to_log(message):
    with open(current_app.config["OUTBOX_LOG_PATH"], "a", encoding="utf-8") as sink:
        sink.write(f"{utcnow().isoformat()} {message.channel} {message.recipient} {message.body}\n")
    message.status = "sent"
    message.sent_at = utcnow()


def send(channel, recipient, template, context, *, customer_id=None, queue="default",
         idempotency_key=None, subject=None):
    """Put a message in the outbox for delivery by ``channel``'s adapter; returns the row.

    ``queue="high"`` is for messages a customer is waiting for (one-time codes).
    """
    message = queue_message(idempotency_key or f"{template}:{public_id()}", channel, recipient, template, context)
    message.customer_id = customer_id
    message.queue = queue
    message.subject = subject
    return message
