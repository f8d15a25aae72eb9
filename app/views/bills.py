"""Bills, payments, invoices, saved cards and autopay in the back office (SPEC BL), read-only:
bills come from the billing import, payments from the provider's callbacks. Card tokens are
never shown in full: only the provider's masked number and the token's last characters."""
from flask_appbuilder.models.sqla.interface import SQLAInterface

from ..models.billing import Autopay, AutopayRun, Bill, BillLine, Invoice, Payment, PaymentItem, SavedCard
from .common import format_dt, pretty_json
from .suppliers import ACCOUNT_SEARCH, CUSTOMER_SEARCH, ReadOnlyView, badge, day, labelled, money, period, yes_no

PAYMENT_STATUSES = {"created": ("создан", "default"), "pending": ("ожидает оплаты", "info"),
                    "succeeded": ("оплачен", "success"), "failed": ("ошибка", "danger"),
                    "cancelled": ("отменён", "default"), "refunded": ("возвращён", "warning")}
PAYMENT_PURPOSES = {"bills": "оплата счетов", "qr": "оплата по QR-коду", "topup": "пополнение баланса",
                    "invoice": "оплата услуги", "autopay": "автоплатёж", "card_check": "проверка карты"}
PAYMENT_SOURCES = {"kabinet": "личный кабинет", "billing": "биллинг (банк, касса)"}
INVOICE_STATUSES = {"open": ("ожидает оплаты", "warning"), "paid": ("оплачен", "success"),
                    "cancelled": ("отменён", "default")}
CARD_STATUSES = {"pending": ("проверяется", "info"), "active": ("действует", "success"),
                 "failed": ("не прошла проверку", "danger"), "deleted": ("удалена", "default")}
AUTOPAY_RUN_STATUSES = {"started": ("выполняется", "info"), "succeeded": ("оплачено", "success"),
                        "failed": ("ошибка", "danger"), "skipped": ("нечего платить", "default")}
MONEY_LABELS = {"debt_at_start": "Долг на начало", "paid_in_period": "Оплачено в периоде", "charged": "Начислено",
                "total_due": "К оплате", "insurance_amount": "Страхование", "amount": "Сумма", "charge": "Начислено",
                "benefit": "Льгота", "recalculation": "Перерасчёт", "total": "Итого"}


def status(labels):
    def render(value):
        text, kind = labels.get(value, (value, "default"))
        return badge(text, kind)
    return render


def masked_token(token):
    """Enough to match a provider's support ticket, never enough to charge the card."""
    return f"…{token[-4:]}" if token else "—"


def card(saved):
    return f"{saved.brand} {saved.masked_number}".strip() if saved else "—"


def money_formatters(*columns):
    return {column: money for column in columns}


class BillLineView(ReadOnlyView):
    route_base = "/billing/bill-lines"
    datamodel = SQLAInterface(BillLine)
    class_permission_name = "BillView"
    list_title = show_title = "Строки счёта"
    list_columns = ["position", "service_name", "zone", "unit", "tariff", "volume", "charge", "benefit",
                    "recalculation", "total"]
    show_columns = ["bill", "service_code"] + list_columns
    search_columns = ["service_code", "service_name"]
    label_columns = {**MONEY_LABELS, "position": "№", "service_name": "Услуга", "service_code": "Код услуги",
                     "zone": "Зона", "unit": "Единица", "tariff": "Тариф", "volume": "Объём", "bill": "Счёт"}
    formatters_columns = money_formatters("charge", "benefit", "recalculation", "total")
    base_order = ("position", "asc")


class BillView(ReadOnlyView):
    route_base = "/billing/bills"
    datamodel = SQLAInterface(Bill)
    class_permission_name = "BillView"
    list_title = "Счета (начисления)"
    show_title = "Счёт"
    list_columns = ["period", "account", "debt_at_start", "paid_in_period", "charged", "total_due",
                    "insurance_amount", "issued_on"]
    show_columns = list_columns + ["due_on", "ebill_sent_at", "imported_at"]
    search_columns = ["account", "period", "issued_on", "total_due"]
    related_search = {"account": ACCOUNT_SEARCH}
    label_columns = {**MONEY_LABELS, "period": "Период", "account": "Лицевой счёт", "issued_on": "Выставлен",
                     "due_on": "Оплатить до", "ebill_sent_at": "Электронный счёт отправлен",
                     "imported_at": "Загружен из биллинга"}
    formatters_columns = {
        **money_formatters("debt_at_start", "paid_in_period", "charged", "total_due", "insurance_amount"),
        "period": period, "issued_on": day, "due_on": day, "ebill_sent_at": format_dt, "imported_at": format_dt}
    base_order = ("period", "desc")
    related_views = [BillLineView]


class PaymentItemView(ReadOnlyView):
    route_base = "/billing/payment-items"
    datamodel = SQLAInterface(PaymentItem)
    class_permission_name = "PaymentView"
    list_title = show_title = "Состав платежа"
    list_columns = ["account", "bill_id", "service_code", "invoice", "amount", "payee"]
    show_columns = ["payment"] + list_columns
    search_columns = ["service_code"]
    label_columns = {**MONEY_LABELS, "account": "Лицевой счёт", "bill_id": "Счёт (id)", "service_code": "Услуга",
                     "invoice": "Счёт на оплату услуги", "payee": "Получатель по QR-коду", "payment": "Платёж"}
    formatters_columns = {"amount": money, "payee": lambda value: pretty_json(value) if value else "—",
                          "invoice": lambda invoice: invoice.number if invoice else "—"}


class PaymentView(ReadOnlyView):
    route_base = "/billing/payments"
    datamodel = SQLAInterface(Payment)
    class_permission_name = "PaymentView"
    list_title = "Платежи"
    show_title = "Платёж"
    list_columns = ["created_at", "public_id", "customer", "purpose", "source", "amount", "status", "confirmed_at"]
    show_columns = list_columns + ["currency", "provider", "provider_payment_id", "idempotency_key", "card_id",
                                   "receipt_email", "receipt_sent_at", "failure_reason", "external_id", "exported_at"]
    search_columns = ["customer", "status", "purpose", "source", "public_id", "provider_payment_id", "external_id",
                      "created_at", "confirmed_at"]
    related_search = {"customer": CUSTOMER_SEARCH}
    label_columns = {**MONEY_LABELS, "created_at": "Создан", "public_id": "Номер", "customer": "Клиент",
                     "purpose": "Назначение", "source": "Источник", "status": "Состояние",
                     "confirmed_at": "Подтверждён", "currency": "Валюта", "provider": "Платёжный провайдер",
                     "provider_payment_id": "Номер у провайдера", "idempotency_key": "Ключ идемпотентности",
                     "card_id": "Карта (id)", "receipt_email": "Чек на email",
                     "receipt_sent_at": "Чек отправлен", "failure_reason": "Причина отказа",
                     "external_id": "Номер в биллинге", "exported_at": "Выгружен в биллинг"}
    formatters_columns = {"amount": money, "status": status(PAYMENT_STATUSES), "purpose": labelled(PAYMENT_PURPOSES),
                          "source": labelled(PAYMENT_SOURCES), "created_at": format_dt, "confirmed_at": format_dt,
                          "receipt_sent_at": format_dt, "exported_at": format_dt}
    base_order = ("created_at", "desc")
    related_views = [PaymentItemView]


class InvoiceView(ReadOnlyView):
    route_base = "/billing/invoices"
    datamodel = SQLAInterface(Invoice)
    class_permission_name = "InvoiceView"
    list_title = "Счета на оплату услуг"
    show_title = "Счёт на оплату услуги"
    list_columns = ["number", "customer", "description", "amount", "status", "created_at", "paid_at"]
    show_columns = list_columns + ["account_id", "process_instance_id"]
    search_columns = ["number", "customer", "status", "description", "created_at", "paid_at"]
    related_search = {"customer": CUSTOMER_SEARCH}
    label_columns = {**MONEY_LABELS, "number": "Номер", "customer": "Клиент", "description": "Услуга",
                     "status": "Состояние", "created_at": "Выставлен", "paid_at": "Оплачен",
                     "account_id": "Лицевой счёт (id)", "process_instance_id": "Экземпляр процесса"}
    formatters_columns = {"amount": money, "status": status(INVOICE_STATUSES), "created_at": format_dt,
                          "paid_at": format_dt}
    base_order = ("created_at", "desc")


class SavedCardView(ReadOnlyView):
    route_base = "/billing/cards"
    datamodel = SQLAInterface(SavedCard)
    class_permission_name = "SavedCardView"
    list_title = "Сохранённые карты"
    show_title = "Сохранённая карта"
    list_columns = ["public_id", "customer_id", "brand", "masked_number", "expires", "status", "created_at"]
    show_columns = list_columns + ["provider", "token", "deleted_at"]
    # No search by token: a full token typed into a filter would land in the URL and the logs.
    search_columns = ["public_id", "customer_id", "masked_number", "status", "provider", "created_at"]
    label_columns = {"public_id": "Номер", "customer_id": "Клиент (id)", "brand": "Платёжная система",
                     "masked_number": "Карта", "expires": "Срок действия", "status": "Состояние",
                     "created_at": "Добавлена", "provider": "Платёжный провайдер", "token": "Токен провайдера",
                     "deleted_at": "Удалена"}
    formatters_columns = {"token": masked_token, "status": status(CARD_STATUSES), "created_at": format_dt,
                          "deleted_at": format_dt}
    base_order = ("created_at", "desc")


class AutopayRunView(ReadOnlyView):
    route_base = "/billing/autopay-runs"
    datamodel = SQLAInterface(AutopayRun)
    class_permission_name = "AutopayView"
    list_title = show_title = "История автоплатежа"
    list_columns = ["period", "status", "payment_id", "error", "run_at"]
    show_columns = ["autopay"] + list_columns
    search_columns = ["period", "status"]
    label_columns = {"period": "Период", "status": "Результат", "payment_id": "Платёж (id)", "error": "Ошибка",
                     "run_at": "Время", "autopay": "Автоплатёж"}
    formatters_columns = {"period": period, "status": status(AUTOPAY_RUN_STATUSES), "run_at": format_dt}
    base_order = ("period", "desc")


class AutopayView(ReadOnlyView):
    route_base = "/billing/autopays"
    datamodel = SQLAInterface(Autopay)
    class_permission_name = "AutopayView"
    list_title = "Автоплатежи"
    show_title = "Автоплатёж"
    list_columns = ["public_id", "customer_id", "account", "card", "amount", "day_of_month", "next_run_on", "active"]
    show_columns = list_columns + ["starts_on", "created_at", "cancelled_at"]
    search_columns = ["account", "customer_id", "active", "next_run_on"]
    related_search = {"account": ACCOUNT_SEARCH}
    label_columns = {"public_id": "Номер", "customer_id": "Клиент (id)", "account": "Лицевой счёт", "card": "Карта",
                     "amount": "Сумма", "day_of_month": "День месяца", "next_run_on": "Следующий платёж",
                     "active": "Действует", "starts_on": "Начало", "created_at": "Подключён",
                     "cancelled_at": "Отключён"}
    formatters_columns = {"amount": lambda value: money(value) if value is not None else "сумма по счёту",
                          "card": card, "active": yes_no, "next_run_on": day, "starts_on": day,
                          "created_at": format_dt, "cancelled_at": format_dt}
    base_order = ("created_at", "desc")
    related_views = [AutopayRunView]
