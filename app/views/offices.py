"""Customer offices in the back office (SPEC CT-3, PR-10), category "Content": content editors
(and admins) keep offices, their hours, slot length and services; operators read them and the
list of booked visits. Offices are not deleted (bookings refer to them): switch "active" off,
which hides the office from the app and stops new bookings."""
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from ..models.offices import Appointment, Office
from ..services import offices
from .common import format_dt, switch_fields
from .suppliers import yes_no

REQUIRED = InputRequired(message="Обязательное поле.")


def valid_hours(form, field):
    try:
        offices.parse_hours(field.data)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def valid_services(form, field):
    unknown = [code for code in offices.parse_services(field.data) if code not in offices.SERVICES]
    if unknown:
        raise ValidationError(f"Неизвестные услуги: {', '.join(unknown)}. Возможны: {', '.join(offices.SERVICES)}.")


class OfficeView(ModelView):
    """Read for Operator, write for ContentEditor and Admin (FAB_ROLES in app/security.py)."""

    route_base = "/content/offices"
    datamodel = SQLAInterface(Office)
    class_permission_name = "OfficeView"
    method_permission_name = {"list": "read", "show": "read", "add": "write", "edit": "write"}
    include_route_methods = {"list", "show", "add", "edit"}
    base_permissions = {"can_read", "can_write"}
    page_size = 50
    list_title = "Офисы обслуживания"
    show_title = edit_title = "Офис"
    add_title = "Новый офис"
    list_columns = ["name", "address", "opening_hours", "slot_minutes", "active"]
    add_columns = edit_columns = ["name", "address", "latitude", "longitude", "phone", "opening_hours",
                                  "slot_minutes", "services", "active"]
    show_columns = edit_columns + ["created_at"]
    search_columns = ["name", "address", "active"]
    label_columns = {"name": "Название", "address": "Адрес", "latitude": "Широта", "longitude": "Долгота",
                     "phone": "Телефон", "opening_hours": "Часы работы", "slot_minutes": "Интервал записи, мин",
                     "services": "Услуги для записи", "active": "Принимает записи", "created_at": "Создан"}
    description_columns = {
        "opening_hours": "Например: mon-fri 09:00-18:00; sat 10:00-15:00 (дни: mon tue wed thu fri sat sun); "
                         "не названный день — выходной",
        "services": "Коды через запятую: " + ", ".join(f"{code} — {t['ru']}" for code, t in offices.SERVICES.items()),
        "active": "Выключенный офис не виден в приложении; записи на него не принимаются",
    }
    validators_columns = {
        "name": [REQUIRED, Length(max=160)],
        "address": [REQUIRED, Length(max=512)],
        "latitude": [Optional(), NumberRange(min=-90, max=90, message="Широта: от -90 до 90.")],
        "longitude": [Optional(), NumberRange(min=-180, max=180, message="Долгота: от -180 до 180.")],
        "opening_hours": [REQUIRED, Length(max=256), valid_hours],
        "slot_minutes": [REQUIRED, NumberRange(min=5, max=240, message="Интервал: от 5 до 240 минут.")],
        "services": [REQUIRED, Length(max=512), valid_services],
    }
    add_form_extra_fields = edit_form_extra_fields = switch_fields(label_columns, description_columns)
    formatters_columns = {"active": yes_no, "created_at": format_dt}
    base_order = ("name", "asc")


def _local(value):
    return offices.to_local(value).strftime("%d.%m.%Y %H:%M") if value else "—"


class AppointmentView(ModelView):
    """Booked visits, read-only: a booking changes through its request and process."""

    route_base = "/content/appointments"
    datamodel = SQLAInterface(Appointment)
    class_permission_name = "AppointmentView"
    method_permission_name = {"list": "read", "show": "read"}
    include_route_methods = {"list", "show"}
    base_permissions = {"can_read"}
    page_size = 50
    list_title = show_title = "Записи на приём"
    list_columns = ["starts_at", "office", "service", "customer", "request", "active"]
    show_columns = list_columns + ["ends_at", "created_at", "cancelled_at"]
    search_columns = ["office", "starts_at", "active"]
    label_columns = {"starts_at": "Время приёма", "ends_at": "До", "office": "Офис", "service": "Услуга",
                     "customer": "Клиент", "request": "Заявка", "active": "Действует", "created_at": "Создана",
                     "cancelled_at": "Отменена"}
    formatters_columns = {"starts_at": _local, "ends_at": _local, "active": yes_no, "created_at": format_dt,
                          "cancelled_at": format_dt,
                          "service": lambda code: offices.SERVICES.get(code, {}).get("ru", code)}
    base_order = ("starts_at", "desc")
