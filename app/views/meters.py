"""Meters and readings in the back office (SPEC MT), read-only. Abnormal readings (a
consumption the customer confirmed above the supplier's factor × the meter's average) are
flagged in the list and have their own filter and menu item."""
from flask_appbuilder.models.sqla.interface import SQLAInterface

from ..models.meters import Meter, Reading
from .common import format_dt
from .suppliers import ACCOUNT_SEARCH, METER_KINDS, ReadOnlyView, badge, day, contains, labelled, period, yes_no

READING_SOURCES = {"customer": "клиент", "billing": "биллинг", "staff": "сотрудник"}
# The list of abnormal readings: FAB's boolean filter in the URL (menu item "Аномальные показания").
ABNORMAL_READINGS_URL = "/billing/readings/list/?_flt_0_abnormal=y"


def abnormal(value):
    return badge("аномальный расход", "danger") if value else "нет"


class ReadingView(ReadOnlyView):
    route_base = "/billing/readings"
    datamodel = SQLAInterface(Reading)
    class_permission_name = "ReadingView"
    list_title = show_title = "Показания"
    list_columns = ["period", "meter", "zone", "value", "previous_value", "consumption", "abnormal", "source",
                    "submitted_at"]
    show_columns = list_columns + ["customer_id", "photo_path", "updated_at", "exported_at"]
    search_columns = ["meter", "period", "abnormal", "source", "submitted_at", "exported_at"]
    related_search = {"meter": [("номер содержит", contains(Meter.serial))]}
    label_columns = {"period": "Период", "meter": "Прибор учёта (номер)", "zone": "Зона", "value": "Показание",
                     "previous_value": "Предыдущее", "consumption": "Расход", "abnormal": "Аномальный расход",
                     "source": "Источник", "submitted_at": "Передано", "customer_id": "Клиент (id)",
                     "photo_path": "Фото", "updated_at": "Изменено", "exported_at": "Выгружено в биллинг"}
    formatters_columns = {"period": period, "abnormal": abnormal, "source": labelled(READING_SOURCES),
                          "submitted_at": format_dt, "updated_at": format_dt, "exported_at": format_dt}
    base_order = ("submitted_at", "desc")


class MeterView(ReadOnlyView):
    route_base = "/billing/meters"
    datamodel = SQLAInterface(Meter)
    class_permission_name = "MeterView"
    list_title = "Приборы учёта"
    show_title = "Прибор учёта"
    list_columns = ["serial", "kind", "account", "zones", "location", "next_verification_on", "active"]
    show_columns = ["serial", "kind", "account", "service", "zones", "decimals", "custom_name", "location",
                    "installed_on", "last_verified_on", "verification_interval_years", "next_verification_on",
                    "active", "imported_at"]
    search_columns = ["serial", "kind", "account", "next_verification_on", "active"]
    related_search = {"account": ACCOUNT_SEARCH}
    label_columns = {"serial": "Заводской номер", "kind": "Вид", "account": "Лицевой счёт", "service": "Услуга",
                     "zones": "Тарифных зон", "decimals": "Знаков после запятой", "custom_name": "Название у клиента",
                     "location": "Место установки", "installed_on": "Установлен",
                     "last_verified_on": "Последняя поверка",
                     "verification_interval_years": "Межповерочный интервал, лет",
                     "next_verification_on": "Следующая поверка", "active": "Действует",
                     "imported_at": "Загружен из биллинга"}
    formatters_columns = {"kind": labelled(METER_KINDS), "active": yes_no, "installed_on": day,
                          "last_verified_on": day, "next_verification_on": day, "imported_at": format_dt}
    base_order = ("next_verification_on", "asc")
    related_views = [ReadingView]
