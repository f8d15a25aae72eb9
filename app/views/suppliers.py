"""Suppliers in the back office: their services, tariffs, reading windows and bank details.

These are the only billing screens with forms: the rest comes from the billing import and is
read-only here. Bank details go into every bill's ST00012 payment QR code, so the forms check
their shape (BIC 9 digits, accounts 20, INN 10 or 12) before a typo reaches a customer's bank app.

The module also holds what the other billing screens share (read-only base view, labels,
money and period formatters, the "related number" search filter).
"""
from decimal import Decimal

from flask_appbuilder import ModelView
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from markupsafe import Markup
from wtforms import SelectField, StringField
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from ..models.accounts import Account, Supplier, SupplierService, Tariff
from ..models.customers import Customer
from .common import format_dt, switch_fields

# --- shared by the billing screens -----------------------------------------------------------
SUPPLIER_KINDS = {"electricity": "электроэнергия", "water": "водоснабжение", "heat": "теплоснабжение",
                  "housing": "ЖКУ", "security": "охрана", "gas": "газ"}
METER_KINDS = {"cold_water": "холодная вода", "hot_water": "горячая вода", "electricity": "электроэнергия",
               "heat": "тепло", "gas": "газ"}
YES_NO = {True: "да", False: "нет", None: "—"}


def yes_no(value):
    return YES_NO.get(value, value)


def money(value):
    """Decimal → ``1 234.56`` (a thin space between thousands); ``—`` when absent."""
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f}".replace(",", "\u202f")


def period(value):
    """A billing period (its first day) as ``2026-03``, as the client API writes it."""
    return value.strftime("%Y-%m") if value else "—"


def day(value):
    return value.strftime("%d.%m.%Y") if value else "—"


def labelled(labels):
    return lambda value: labels.get(value, value if value is not None else "—")


def badge(text, kind):
    return Markup('<span class="label label-{}">{}</span>').format(kind, text)


class FilterRelated(BaseFilter):
    """Search a many-to-one relation by what the related row says (a bill by its account's
    number), instead of FAB's select of every related row, which would list 100,000 accounts.
    ``criterion`` turns the typed text into a condition on the related model."""

    criterion = None

    def apply(self, query, value):
        value = value.strip()
        if not value:
            return query
        return query.filter(getattr(self.model, self.column_name).has(self.criterion(value)))


def contains(column):
    return lambda value: column.ilike(f"%{value}%")


def related_filter(label, criterion):
    return type("FilterRelated", (FilterRelated,), {"name": label, "criterion": staticmethod(criterion)})


ACCOUNT_SEARCH = [("номер содержит", contains(Account.number)), ("адрес содержит", contains(Account.address)),
                  ("поставщик содержит", lambda value: Account.supplier.has(contains(Supplier.name)(value)))]
CUSTOMER_SEARCH = [("телефон содержит", contains(Customer.phone)), ("ФИО содержит", contains(Customer.full_name))]


class BillingView(ModelView):
    """Base of the billing screens: read and write permissions (FAB_ROLES grants them per
    role), no deletion (bills and history refer to these rows), newest first, 50 per page.

    ``related_search`` maps a relation in ``search_columns`` to its filters, pairs of (label,
    criterion): the search form shows a text box for it (see :class:`FilterRelated`).
    """

    method_permission_name = {"list": "read", "show": "read", "add": "write", "edit": "write"}
    include_route_methods = {"list", "show", "add", "edit"}
    base_permissions = {"can_read", "can_write"}
    base_order = ("id", "desc")
    page_size = 50
    related_search = {}

    def _init_properties(self):
        super()._init_properties()
        for name, choices in self.related_search.items():
            filters = [related_filter(label, criterion)(name, self.datamodel) for label, criterion in choices]
            # The list's URL arguments are read against both dictionaries (urltools.get_filter_args).
            self._filters._search_filters[name] = filters
            self._filters._all_filters[name] = filters

    def _init_forms(self):
        self.search_form_extra_fields = {**(self.search_form_extra_fields or {}), **{
            name: StringField(self.label_columns.get(name, name)) for name in self.related_search}}
        super()._init_forms()


class ReadOnlyView(BillingView):
    """Imported from the billing system: a change here would be undone by the next import."""

    method_permission_name = {"list": "read", "show": "read"}
    include_route_methods = {"list", "show"}
    base_permissions = {"can_read"}


# --- validators --------------------------------------------------------------------------------
def digits(count, what):
    counts = (count,) if isinstance(count, int) else count
    pattern = "|".join(rf"\d{{{n}}}" for n in counts)
    spelled = " или ".join(map(str, counts))
    return Regexp(rf"^(?:{pattern})$", message=f"{what}: ровно {spelled} цифр, без пробелов.")


def not_before(other, message):
    """The field (a day or a date) must not be before the form's ``other`` field."""
    def check(form, field):
        start = form[other].data
        if field.data is not None and start is not None and field.data < start:
            raise ValidationError(message)
    return check


def positive(form, field):
    if field.data is not None and field.data <= 0:
        raise ValidationError("Значение должно быть больше нуля.")


WINDOW_DAY = [InputRequired(message="Обязательное поле."),
              NumberRange(min=1, max=31, message="День месяца: от 1 до 31.")]
WINDOW_VALIDATORS = {
    "reading_window_start_day": WINDOW_DAY,
    "reading_window_end_day": WINDOW_DAY + [not_before(
        "reading_window_start_day", "Последний день приёма не может быть раньше первого.")],
}

# --- screens -------------------------------------------------------------------------------------
WINDOW_LABELS = {"reading_window_start_day": "Приём показаний с (день)",
                 "reading_window_end_day": "Приём показаний по (день)"}


class TariffView(BillingView):
    route_base = "/billing/tariffs"
    datamodel = SQLAInterface(Tariff)
    class_permission_name = "TariffView"
    list_title = show_title = "Тарифы"
    add_title = "Новый тариф"
    edit_title = "Тариф"
    list_columns = ["service", "zone", "price", "valid_from", "valid_to"]
    show_columns = add_columns = edit_columns = list_columns
    search_columns = ["service", "zone", "valid_from", "valid_to"]
    label_columns = {"service": "Услуга", "zone": "Зона суток", "price": "Цена за единицу, ₽",
                     "valid_from": "Действует с", "valid_to": "Действует по"}
    description_columns = {"zone": "1 — одноставочный или день (пик), 2 — ночь, 3 — полупик",
                           "valid_to": "Пусто — без срока"}
    validators_columns = {
        "zone": [NumberRange(min=1, max=3, message="Зона суток: 1, 2 или 3.")],
        "price": [positive],
        "valid_to": [not_before("valid_from", "Дата окончания не может быть раньше даты начала.")],
    }
    formatters_columns = {"valid_from": day, "valid_to": day}
    base_order = ("valid_from", "desc")


class SupplierServiceView(BillingView):
    route_base = "/billing/services"
    datamodel = SQLAInterface(SupplierService)
    class_permission_name = "SupplierView"
    list_title = show_title = "Услуги поставщика"
    add_title = "Новая услуга"
    edit_title = "Услуга"
    list_columns = ["supplier", "code", "name", "unit", "meter_kind"]
    show_columns = add_columns = edit_columns = list_columns + ["calculation_rule", "legal_reference"]
    search_columns = ["supplier", "code", "name", "meter_kind"]
    label_columns = {"supplier": "Поставщик", "code": "Код", "name": "Название", "unit": "Единица",
                     "meter_kind": "Прибор учёта", "calculation_rule": "Правило расчёта",
                     "legal_reference": "Основание (нормативный акт)"}
    description_columns = {"code": "Код услуги в биллинге и в строках счёта",
                           "calculation_rule": "Показывается клиенту в детализации счёта"}
    validators_columns = {"code": [Regexp(r"^[a-z0-9_]{1,32}$", message="Код: латиница, цифры и «_», до 32 знаков.")]}
    add_form_extra_fields = edit_form_extra_fields = {"meter_kind": SelectField(
        "Прибор учёта", choices=[("", "— без прибора —")] + list(METER_KINDS.items()), widget=Select2Widget(),
        validators=[Optional()])}
    formatters_columns = {"meter_kind": labelled(METER_KINDS)}
    base_order = ("code", "asc")
    related_views = [TariffView]

    def pre_add(self, item):
        item.meter_kind = item.meter_kind or None

    pre_update = pre_add


class SupplierView(BillingView):
    route_base = "/billing/suppliers"
    datamodel = SQLAInterface(Supplier)
    class_permission_name = "SupplierView"
    list_title = "Поставщики"
    show_title = "Поставщик"
    add_title = "Новый поставщик"
    edit_title = "Поставщик"
    list_columns = ["code", "name", "kind", "inn", "reading_window_start_day", "reading_window_end_day", "active"]
    bank_columns = ["inn", "kpp", "bank_name", "bic", "correspondent_account", "settlement_account"]
    edit_columns = add_columns = (
        ["code", "name", "kind"] + bank_columns
        + ["reading_window_start_day", "reading_window_end_day", "abnormal_consumption_factor", "insurance_amount",
           "phone", "email", "active"])
    show_fieldsets = [
        ("Поставщик", {"fields": ["code", "name", "kind", "phone", "email", "active", "created_at"]}),
        ("Реквизиты для оплаты (QR-код ST00012)", {"fields": bank_columns}),
        ("Показания и счета", {"fields": ["reading_window_start_day", "reading_window_end_day",
                                          "abnormal_consumption_factor", "insurance_amount"]}),
    ]
    search_columns = ["code", "name", "kind", "inn", "active"]
    label_columns = {
        "code": "Код", "name": "Название", "kind": "Вид услуг", "inn": "ИНН", "kpp": "КПП", "bank_name": "Банк",
        "bic": "БИК", "correspondent_account": "Корр. счёт", "settlement_account": "Расчётный счёт",
        "abnormal_consumption_factor": "Порог аномального расхода (× среднего)",
        "insurance_amount": "Добровольное страхование в счёте, ₽", "phone": "Телефон", "email": "Email",
        "active": "Активен", "created_at": "Создан", **WINDOW_LABELS,
    }
    description_columns = {
        "abnormal_consumption_factor": "Расход выше среднего во столько раз требует подтверждения клиента",
        "insurance_amount": "Пусто — строка страхования в счетах не выводится",
    }
    validators_columns = {
        "code": [Regexp(r"^[a-z0-9_-]{1,32}$", message="Код: латиница, цифры, «_» и «-», до 32 знаков.")],
        "inn": [digits((10, 12), "ИНН")],
        "kpp": [Optional(), digits(9, "КПП")],
        "bic": [digits(9, "БИК")],
        "correspondent_account": [digits(20, "Корреспондентский счёт")],
        "settlement_account": [digits(20, "Расчётный счёт")],
        "bank_name": [DataRequired(message="Обязательное поле."), Length(max=160)],
        "abnormal_consumption_factor": [InputRequired(message="Обязательное поле."),
                                        NumberRange(min=1, message="Порог — не меньше 1.")],
        "insurance_amount": [Optional(), positive],
        "email": [Optional(), Email(message="Некорректный email.")],
        **WINDOW_VALIDATORS,
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField("Вид услуг", choices=list(SUPPLIER_KINDS.items()), widget=Select2Widget()),
        **switch_fields(label_columns, description_columns)}
    formatters_columns = {"kind": labelled(SUPPLIER_KINDS), "active": yes_no, "insurance_amount": money,
                          "created_at": format_dt}
    base_order = ("name", "asc")
    related_views = [SupplierServiceView]


class ReadingWindowView(BillingView):
    """The reading-submission windows alone (SPEC MT-2, AD-6): one form with the two days."""

    route_base = "/billing/reading-windows"
    datamodel = SQLAInterface(Supplier)
    class_permission_name = "ReadingWindowView"
    method_permission_name = {"list": "read", "show": "read", "edit": "write"}
    include_route_methods = {"list", "show", "edit"}
    list_title = show_title = "Окна приёма показаний"
    edit_title = "Окно приёма показаний"
    list_columns = ["name", "reading_window_start_day", "reading_window_end_day"]
    show_columns = list_columns
    edit_columns = ["reading_window_start_day", "reading_window_end_day"]
    search_columns = ["name"]
    label_columns = {"name": "Поставщик", **WINDOW_LABELS}
    description_columns = {"reading_window_end_day": "Включительно"}
    validators_columns = WINDOW_VALIDATORS
    base_order = ("name", "asc")
