"""Flask-AppBuilder screens.

Each menu item's name is its view's ``class_permission_name`` and each category keeps an
English name (``Processes``, ``Work``, ``Incidents``), so ``ROLE_PERMISSIONS`` in
``app/security.py`` reads the same names; the Russian texts are the labels.
"""
from flask import current_app


def register_views(appbuilder):
    from .common import init_view_helpers
    from .customers import CustomerDeviceView, CustomerSessionView, CustomerView, SecurityEventView
    from .definitions import ProcessDefinitionView
    from .inbox import TaskInbox
    from .incidents import IncidentView
    from .instances import ProcessInstanceView

    init_view_helpers(current_app)
    appbuilder.add_view(TaskInbox, "TaskInbox", label="Входящие задачи", icon="fa-inbox",
                        category="Work", category_label="Работа", category_icon="fa-briefcase")
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
