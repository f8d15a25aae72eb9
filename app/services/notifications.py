"""Messages to customers: every message is an outbox row first, delivered by a job after the
transaction that wrote it commits (``app/services/outbox.py``, adapters in ``delivery/``,
docs/notifications.md). The embedded default delivers to a line in ``OUTBOX_LOG_PATH``."""
import os

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models.notifications import OutboxMessage
from . import outbox
from .outbox import wait_for_delivery  # noqa: F401  (tests and the demo wait for the outbox here)
from .secrets import public_id

TEMPLATES = {
    "autopay_failed": "Автоплатёж {amount} руб. по лицевому счёту {account} за {period} не прошёл: {reason}. "
                      "Автоплатёж остаётся включённым; проверьте карту {card} в Кабинете или оплатите вручную.",
    "request_status": "Заявка {number}: {status}.{note}",
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
    "otp_close_account": "Код для закрытия учётной записи в Кабинете: {code}. Никому его не сообщайте.",
    "email_confirm": (
        "Здравствуйте, {name}!\n\n"
        "Чтобы подтвердить адрес электронной почты в Кабинете, перейдите по ссылке:\n"
        "{base_url}/confirm-email/{token}\n\n"
        "Ссылка действует {hours} ч. и только для этого адреса. "
        "Если вы не указывали этот адрес в Кабинете, просто удалите письмо."
    ),
    "email_change_notice": (
        "Здравствуйте, {name}!\n\n"
        "В Кабинете запрошена смена адреса электронной почты на {new_email}. "
        "Письма будут приходить на этот адрес, пока новый не подтверждён.\n\n"
        "Если это были не вы, смените пароль в Кабинете и обратитесь в контактный центр."
    ),
    "phone_changed": "Номер телефона в Кабинете изменён на {new_phone}. Если это были не вы, "
                     "обратитесь в контактный центр.",
    # Registration by contract (ID-3) and by bill (ID-2); the contact centre's emails (AC-2, ID-2).
    "registration_password": "Пароль для входа в Кабинет по договору {contract}: {password}. Логин — номер "
                             "телефона. Никому не сообщайте пароль.",
    "registration_phone_registered": "Этот номер уже зарегистрирован в Кабинете: войдите или восстановите пароль.",
    "contact_centre_supply_concluded": (
        "Клиент сообщил о заключении договора энергоснабжения по договору технологического "
        "присоединения {contract} ({supplier}).\n\nКлиент: {customer}, телефон {phone}"
    ),
    "reading_window_opens": "Пора передать показания счётчиков по лицевому счёту {account} ({supplier}): "
                            "приём с {opens} по {closes}.",
    "reading_window_closes": "Завтра, {closes}, последний день приёма показаний по лицевому счёту {account} "
                             "({supplier}). Передайте их в Кабинете.",
    "meter_verification_due": "Срок поверки счётчика {meter} (лицевой счёт {account}) — {due}. "
                              "Заказать поверку можно в Кабинете.",
    "payment_receipt": (
        "Здравствуйте, {name}!\n\n"
        "Платёж {payment} на сумму {amount} руб. принят {paid_at}.\n\n"
        "{items}\n\n"
        "Спасибо, что пользуетесь Кабинетом."
    ),
    "bill_pdf": (
        "Здравствуйте, {name}!\n\n"
        "Квитанция по лицевому счёту {account} ({supplier}) за {period} во вложении.\n"
        "К оплате: {total} руб. Оплатить можно в Кабинете."
    ),
    "power_calculation": (
        "Здравствуйте, {name}!\n\n"
        "Расчёт мощности для технологического присоединения во вложении.\n"
        "Расчётная нагрузка: {demand} кВт, рекомендуемая мощность присоединения: {recommended} кВт."
    ),
    "ebill": (
        "Здравствуйте, {name}!\n\n"
        "Новая квитанция по лицевому счёту {account} ({supplier}) за {period} во вложении.\n"
        "К оплате: {total} руб. Оплатить можно в Кабинете.\n\n"
        "Вы получаете это письмо, потому что включили электронные квитанции по этому счёту; "
        "отключить их можно в Кабинете."
    ),
    "grid_connection_delayed": "Заявка {request}: срок этапа «{step}» нарушен. Заявка передана руководителю "
                               "на контроль, мы сообщим о ходе работ.",
    # Appeals (PR-6): the number by email as soon as the appeal is filed.
    "appeal_received": (
        "Здравствуйте, {name}!\n\n"
        "Ваше обращение «{topic}» принято, его номер — {number}.\n"
        "Ответ появится в Кабинете, в разделе «Заявки»; статус можно проверить и без входа по номеру."
    ),
    # Office appointments (PR-10): the reminder before the visit.
    "appointment_reminder": "Напоминаем: {visit_at} вас ждут в офисе «{office}», {address} (запись {request}). "
                            "Не сможете прийти — отмените запись в Кабинете.",
}


class _Defaults(dict):
    def __missing__(self, key):
        return "—"


def attachment_file(data, filename, content_type):
    """Write ``data`` to a new file in ``OUTBOX_FILES_DIR`` for an email's ``attachments=``; the
    outbox removes it once the message is final. Every web and worker machine must see the
    directory (a shared volume) when workers run elsewhere."""
    directory = current_app.config["OUTBOX_FILES_DIR"]
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{public_id()}{os.path.splitext(filename)[1]}")
    with open(path, "xb") as handle:
        handle.write(data)
    return {"filename": filename, "content_type": content_type, "path": path}


def send_pdf_email(address, template, context, pdf, filename, *, customer_id, subject):
    """Email ``pdf`` attached and commit; the file is removed again if that fails."""
    attachment = attachment_file(pdf, filename, "application/pdf")
    try:
        send("email", address, template, context, customer_id=customer_id, subject=subject,
             attachments=[attachment])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        outbox.remove_attachments([attachment])
        raise


def queue_message(idempotency_key, channel, recipient, template, context, *, customer_id=None,
                  queue="default", subject=None, attachments=None):
    """Add a message to the outbox once per key; returns the row (existing or new, status
    ``queued``). It is delivered by a job on ``queue`` once the surrounding transaction commits,
    and never if it rolls back. ``attachments`` (emails only): dicts from :func:`attachment_file`."""
    if queue not in outbox.QUEUES:
        raise ValueError(f"queue must be one of {outbox.QUEUES}, not {queue!r}")
    existing = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    body = TEMPLATES.get(template, template).format_map(_Defaults(context or {}))
    message = OutboxMessage(
        idempotency_key=idempotency_key, channel=channel, recipient=recipient or "unknown",
        template=template, body=body, context=context, customer_id=customer_id, queue=queue,
        subject=subject, status="queued", attempts=0, attachments=attachments or None,
    )
    db.session.add(message)
    db.session.flush()
    outbox.schedule(message)
    return message


def send(channel, recipient, template, context, *, customer_id=None, queue="default",
         idempotency_key=None, subject=None, attachments=None):
    """Put a message in the outbox for delivery by ``channel``'s adapter; returns the row.

    ``queue="high"`` is for messages a customer is waiting for (one-time codes), ``bulk`` for
    mass mailings; ``subject`` is the email's subject line.
    """
    return queue_message(idempotency_key or f"{template}:{public_id()}", channel, recipient, template, context,
                         customer_id=customer_id, queue=queue, subject=subject, attachments=attachments)
