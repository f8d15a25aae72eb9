"""Customers in the back office: read-only cards with sessions, devices and the security log.

Staff never see password, PIN or code hashes; the one action is ending a customer's sessions
(a lost phone reported to the call centre).
"""
from flask import flash, g, redirect, url_for
from flask_appbuilder import ModelView, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access

from ..errors import DomainError
from ..models.customers import Customer, CustomerDevice, CustomerSession, SecurityEvent
from ..services import customer_admin
from .common import csrf_protected, flash_domain_error

class _ReadOnly(ModelView):
    base_permissions = {"can_read"}  # no add, edit or delete from the back office
    method_permission_name = {"list": "read", "show": "read", "api_read": "read"}
    page_size = 50


class CustomerSessionView(_ReadOnly):
    datamodel = SQLAInterface(CustomerSession)
    class_permission_name = "CustomerView"
    list_title = "Сеансы"
    list_columns = ["method", "created_at", "last_used_at", "expires_at", "ip", "revoked_at", "revoked_reason"]
    show_columns = list_columns + ["user_agent", "persistent"]
    label_columns = {"method": "Способ входа", "created_at": "Начат", "last_used_at": "Последнее обращение",
                     "expires_at": "Истекает", "ip": "IP", "revoked_at": "Завершён", "revoked_reason": "Причина",
                     "user_agent": "Клиент", "persistent": "Запомнить вход", "customer": "Клиент"}
    base_order = ("last_used_at", "desc")


class CustomerDeviceView(_ReadOnly):
    datamodel = SQLAInterface(CustomerDevice)
    class_permission_name = "CustomerView"
    list_title = "Устройства"
    list_columns = ["name", "platform", "has_pin", "has_key", "created_at", "last_used_at", "revoked_at"]
    show_columns = list_columns
    label_columns = {"name": "Название", "platform": "Платформа", "has_pin": "ПИН-код", "has_key": "Биометрия",
                     "created_at": "Зарегистрировано", "last_used_at": "Последний вход", "revoked_at": "Отозвано"}
    formatters_columns = {"has_pin": lambda value: "да" if value else "нет",
                          "has_key": lambda value: "да" if value else "нет"}
    base_order = ("created_at", "desc")


class SecurityEventView(_ReadOnly):
    datamodel = SQLAInterface(SecurityEvent)
    class_permission_name = "CustomerView"
    list_title = "Журнал безопасности"
    list_columns = ["at", "kind", "ip", "details"]
    show_columns = list_columns + ["user_agent"]
    label_columns = {"at": "Время", "kind": "Событие", "ip": "IP", "details": "Подробности", "user_agent": "Клиент"}
    base_order = ("at", "desc")


class CustomerView(_ReadOnly):
    route_base = "/customers"
    datamodel = SQLAInterface(Customer)
    class_permission_name = "CustomerView"
    method_permission_name = {**_ReadOnly.method_permission_name, "end_sessions": "write"}
    base_permissions = {"can_read", "can_write"}
    list_title = "Клиенты"
    show_title = "Клиент"
    list_columns = ["phone", "full_name", "email", "email_confirmed_at", "status", "created_at"]
    show_columns = ["phone", "full_name", "birth_date", "email", "email_confirmed_at", "pending_email", "status",
                    "theme", "keep_signed_in", "notification_preferences", "consent_at", "consent_withdrawn_at",
                    "created_at", "closed_at"]
    search_columns = ["phone", "full_name", "email", "status", "created_at"]
    label_columns = {
        "phone": "Телефон", "full_name": "ФИО", "birth_date": "Дата рождения", "email": "Email",
        "email_confirmed_at": "Email подтверждён", "pending_email": "Новый email (не подтверждён)",
        "status": "Состояние", "theme": "Тема", "keep_signed_in": "Не выходить из приложения",
        "notification_preferences": "Уведомления", "consent_at": "Согласие на обработку ПДн",
        "consent_withdrawn_at": "Согласие отозвано", "created_at": "Зарегистрирован", "closed_at": "Закрыт",
    }
    base_order = ("created_at", "desc")
    related_views = [CustomerSessionView, CustomerDeviceView, SecurityEventView]
    show_template = "customers/show.html"

    @expose("/end-sessions/<int:pk>", methods=["POST"])
    @has_access
    @csrf_protected
    def end_sessions(self, pk):
        try:
            ended = customer_admin.end_sessions(pk, g.user.username)
        except DomainError as exc:
            flash_domain_error(exc)
        else:
            flash(f"Завершено сеансов: {ended}. Клиенту нужно войти заново.", "success")
        return redirect(url_for(".show", pk=pk))
