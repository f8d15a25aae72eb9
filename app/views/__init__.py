"""Flask-AppBuilder screens.

Each menu item's name is its view's ``class_permission_name`` and each category keeps an
English name (``Processes``, ``Work``, ``Incidents``), so ``ROLE_PERMISSIONS`` in
``app/security.py`` reads the same names; the Russian texts are the labels.
"""
from flask import current_app


def register_views(appbuilder):
    from .appeal_topics import AppealTopicView
    from .billing_import import BillingImportView
    from .common import init_view_helpers
    from .customers import CustomerDeviceView, CustomerSessionView, CustomerView, SecurityEventView
    from .definitions import ProcessDefinitionView
    from .inbox import TaskInbox
    from .incidents import IncidentView
    from .instances import ProcessInstanceView
    from .offices import AppointmentView, OfficeView
    from .paid_services import PaidServiceCategoryView, PaidServiceView
    from .requests import ServiceRequestView
    init_view_helpers(current_app)
    appbuilder.add_view(TaskInbox, "TaskInbox", label="Входящие задачи", icon="fa-inbox",
                        category="Work", category_label="Работа", category_icon="fa-briefcase")
    appbuilder.add_view(ServiceRequestView, "ServiceRequestView", label="Заявки", icon="fa-file-text-o",
                        category="Work")
    from .support_chat import SupportChatView

    appbuilder.add_view(SupportChatView, "SupportChatView", label="Чаты поддержки", icon="fa-comments",
                        category="Work")
    appbuilder.add_view(ProcessInstanceView, "ProcessInstanceView", label="Экземпляры процессов", icon="fa-cogs",
                        category="Processes", category_label="Процессы", category_icon="fa-sitemap")
    appbuilder.add_view(ProcessDefinitionView, "ProcessDefinitionView", label="Определения процессов",
                        icon="fa-file-code-o", category="Processes")
    appbuilder.add_view(CustomerView, "CustomerView", label="Клиенты", icon="fa-users",
                        category="Customers", category_label="Клиенты", category_icon="fa-address-book")
    for related in (CustomerSessionView, CustomerDeviceView, SecurityEventView):
        appbuilder.add_view_no_menu(related)
    appbuilder.add_view(IncidentView, "IncidentView", label="Открытые инциденты", icon="fa-exclamation-triangle",
                        category="Incidents", category_label="Инциденты", category_icon="fa-exclamation-triangle")
    from .outbox import OutboxView

    appbuilder.add_view(OutboxView, "OutboxView", label="Исходящие сообщения", icon="fa-paper-plane",
                        category="Monitoring", category_label="Мониторинг", category_icon="fa-heartbeat")
    appbuilder.add_view(PaidServiceCategoryView, "PaidServiceCategoryView", label="Категории платных услуг",
                        icon="fa-folder-open", category="Content", category_label="Контент",
                        category_icon="fa-newspaper-o")
    appbuilder.add_view(PaidServiceView, "PaidServiceView", label="Платные услуги", icon="fa-wrench",
                        category="Content")
    appbuilder.add_view(AppealTopicView, "AppealTopicView", label="Темы обращений", icon="fa-comments-o",
                        category="Content")
    appbuilder.add_view(OfficeView, "OfficeView", label="Офисы обслуживания", icon="fa-building",
                        category="Content", category_label="Контент", category_icon="fa-newspaper-o")
    appbuilder.add_view(AppointmentView, "AppointmentView", label="Записи на приём", icon="fa-calendar-check-o",
                        category="Content")
    register_billing_views(appbuilder)
    appbuilder.add_view(BillingImportView, "BillingImportView", label="Обмен с биллингом", icon="fa-exchange",
                        category="Billing")


def register_billing_views(appbuilder):
    """Suppliers, accounts, meters, bills and payments: category "Billing" («Счета и начисления»)."""
    from .accounts import AccountView, ContractView, CustomerAccountView, ObjectEventView
    from .bills import (AutopayRunView, AutopayView, BillLineView, BillView, InvoiceView, PaymentItemView,
                        PaymentView, SavedCardView)
    from .meters import ABNORMAL_READINGS_URL, MeterView, ReadingView
    from .suppliers import ReadingWindowView, SupplierServiceView, SupplierView, TariffView

    category = {"category": "Billing"}
    appbuilder.add_view(SupplierView, "SupplierView", label="Поставщики", icon="fa-industry",
                        category_label="Счета и начисления", category_icon="fa-rub", **category)
    appbuilder.add_view(TariffView, "TariffView", label="Тарифы", icon="fa-tags", **category)
    appbuilder.add_view(ReadingWindowView, "ReadingWindowView", label="Окна приёма показаний", icon="fa-calendar",
                        **category)
    appbuilder.add_separator("Billing")
    appbuilder.add_view(AccountView, "AccountView", label="Лицевые счета", icon="fa-home", **category)
    appbuilder.add_view(CustomerAccountView, "CustomerAccountView", label="Привязки клиентов", icon="fa-link",
                        **category)
    appbuilder.add_view(ContractView, "ContractView", label="Договоры", icon="fa-file-text-o", **category)
    appbuilder.add_view(ObjectEventView, "ObjectEventView", label="События охраны", icon="fa-shield", **category)
    appbuilder.add_view(MeterView, "MeterView", label="Приборы учёта", icon="fa-tachometer", **category)
    appbuilder.add_view(ReadingView, "ReadingView", label="Показания", icon="fa-pencil-square-o", **category)
    appbuilder.add_link("AbnormalReadings", href=ABNORMAL_READINGS_URL, label="Аномальные показания",
                        icon="fa-exclamation-circle", **category)
    appbuilder.add_separator("Billing")
    appbuilder.add_view(BillView, "BillView", label="Начисления (счета)", icon="fa-file-text", **category)
    appbuilder.add_view(PaymentView, "PaymentView", label="Платежи", icon="fa-credit-card", **category)
    appbuilder.add_view(InvoiceView, "InvoiceView", label="Счета на оплату услуг", icon="fa-file-o", **category)
    appbuilder.add_view(SavedCardView, "SavedCardView", label="Сохранённые карты", icon="fa-credit-card-alt",
                        **category)
    appbuilder.add_view(AutopayView, "AutopayView", label="Автоплатежи", icon="fa-refresh", **category)
    for related in (SupplierServiceView, BillLineView, PaymentItemView, AutopayRunView):
        appbuilder.add_view_no_menu(related)
