"""Personal accounts in the back office: the account card with its meters, bills, contracts,
customer links and security events (SPEC AC). Read-only: accounts and contracts come from the
billing import, links are the customers' own doing."""
from flask_appbuilder.models.sqla.interface import SQLAInterface

from ..models.accounts import Account, Contract, CustomerAccount, ObjectEvent
from .bills import BillView, status
from .common import format_dt
from .meters import MeterView
from .suppliers import ACCOUNT_SEARCH, CUSTOMER_SEARCH, ReadOnlyView, badge, day, labelled, yes_no

CONTRACT_KINDS = {"supply": "энергоснабжение", "grid_connection": "технологическое присоединение"}
OBJECT_EVENTS = {"armed": ("поставлен на охрану", "success"), "alarm": ("тревога", "danger"),
                 "disarmed": ("снят с охраны", "default")}
ACCOUNT_LABELS = {"account": "Лицевой счёт", "supplier": "Поставщик", "number": "Номер", "address": "Адрес",
                  "holder_name": "Владелец", "phone": "Телефон по договору", "prepaid": "Предоплата (баланс)",
                  "insurance_opt_out": "Отказ от страхования", "closed": "Закрыт",
                  "imported_at": "Загружен из биллинга",
                  "customer": "Клиент"}


class ObjectEventView(ReadOnlyView):
    route_base = "/billing/object-events"
    datamodel = SQLAInterface(ObjectEvent)
    class_permission_name = "ObjectEventView"
    list_title = show_title = "События охраны"
    list_columns = ["occurred_at", "account", "object_name", "event", "details"]
    show_columns = list_columns
    search_columns = ["account", "occurred_at", "object_name", "event"]
    related_search = {"account": ACCOUNT_SEARCH}
    label_columns = {**ACCOUNT_LABELS, "occurred_at": "Время", "object_name": "Объект", "event": "Событие",
                     "details": "Подробности"}
    formatters_columns = {"occurred_at": format_dt, "event": status(OBJECT_EVENTS)}
    base_order = ("occurred_at", "desc")


class ContractView(ReadOnlyView):
    route_base = "/billing/contracts"
    datamodel = SQLAInterface(Contract)
    class_permission_name = "ContractView"
    list_title = show_title = "Договоры"
    list_columns = ["number", "kind", "supplier", "account", "holder_name", "concluded_on"]
    show_columns = list_columns + ["phone", "email", "imported_at"]
    search_columns = ["number", "kind", "supplier", "holder_name", "concluded_on"]
    label_columns = {**ACCOUNT_LABELS, "number": "Номер договора", "kind": "Вид", "email": "Email",
                     "concluded_on": "Заключён"}
    formatters_columns = {"kind": labelled(CONTRACT_KINDS), "concluded_on": day, "imported_at": format_dt}


class CustomerAccountView(ReadOnlyView):
    """Which customer reached which account, and whether they proved they hold its bills (ID-2)."""

    route_base = "/billing/customer-accounts"
    datamodel = SQLAInterface(CustomerAccount)
    class_permission_name = "CustomerAccountView"
    list_title = show_title = "Привязки лицевых счетов"
    list_columns = ["customer", "account", "alias", "verified_at", "ebill", "linked_at"]
    show_columns = list_columns
    search_columns = ["customer", "account", "verified_at", "ebill", "linked_at"]
    related_search = {"customer": CUSTOMER_SEARCH, "account": ACCOUNT_SEARCH}
    label_columns = {**ACCOUNT_LABELS, "alias": "Название у клиента", "verified_at": "Подтверждена",
                     "ebill": "Электронный счёт", "linked_at": "Привязан"}
    formatters_columns = {
        "verified_at": lambda value: format_dt(value) if value else badge("не подтверждена", "warning"),
        "linked_at": format_dt, "ebill": yes_no,
        "customer": lambda customer: f"{customer.phone or '—'} {customer.full_name}" if customer else "—",
    }
    base_order = ("linked_at", "desc")


class AccountView(ReadOnlyView):
    route_base = "/billing/accounts"
    datamodel = SQLAInterface(Account)
    class_permission_name = "AccountView"
    list_title = "Лицевые счета"
    show_title = "Лицевой счёт"
    list_columns = ["number", "supplier", "address", "holder_name", "prepaid", "closed"]
    show_columns = ["number", "supplier", "address", "holder_name", "phone", "prepaid", "insurance_opt_out",
                    "closed", "imported_at"]
    search_columns = ["number", "address", "supplier", "holder_name", "phone", "prepaid", "closed"]
    label_columns = ACCOUNT_LABELS
    formatters_columns = {"prepaid": yes_no, "insurance_opt_out": yes_no, "closed": yes_no,
                          "imported_at": format_dt}
    base_order = ("number", "asc")
    related_views = [MeterView, BillView, CustomerAccountView, ContractView, ObjectEventView]
