"""The paid services catalogue in the back office (SPEC PR-5, AD-6), category "Content":
content editors (and admins) keep categories and services, operators read them to answer
customers. Nothing is deleted (requests refer to services by id): switch "active" off instead,
which hides a service, or a whole category, from the app and stops new orders."""
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from wtforms.validators import InputRequired, Length, Optional, Regexp

from ..models.paid_services import PaidService, PaidServiceCategory
from .common import format_dt, switch_fields
from .suppliers import money, positive, yes_no

REQUIRED = InputRequired(message="Обязательное поле.")


class CatalogueView(ModelView):
    """Read for Operator, write for ContentEditor and Admin (FAB_ROLES in app/security.py)."""

    method_permission_name = {"list": "read", "show": "read", "add": "write", "edit": "write"}
    include_route_methods = {"list", "show", "add", "edit"}
    base_permissions = {"can_read", "can_write"}
    page_size = 50


class PaidServiceView(CatalogueView):
    route_base = "/content/paid-services"
    datamodel = SQLAInterface(PaidService)
    class_permission_name = "PaidServiceView"
    list_title = "Платные услуги"
    show_title = edit_title = "Платная услуга"
    add_title = "Новая платная услуга"
    list_columns = ["category", "name", "min_price", "unit", "active", "sort_order"]
    add_columns = edit_columns = ["category", "name", "description", "min_price", "unit", "code", "active",
                                  "sort_order"]
    show_columns = edit_columns + ["created_at", "updated_at"]
    search_columns = ["category", "name", "code", "active"]
    label_columns = {"category": "Категория", "name": "Название", "description": "Описание",
                     "min_price": "Минимальная цена, ₽", "unit": "Единица", "code": "Код",
                     "active": "Доступна для заказа", "sort_order": "Порядок", "created_at": "Создана",
                     "updated_at": "Изменена"}
    description_columns = {
        "min_price": "Показывается клиенту («от …»); итоговая цена исполнителя не может быть ниже",
        "code": "Только для услуг, которые процесс ищет по коду: electrician_callout_normal и "
                "electrician_callout_urgent — цены вызова электрика. Обычно пусто",
        "sort_order": "Меньше — выше в списке",
    }
    validators_columns = {
        "name": [REQUIRED, Length(max=200)],
        "min_price": [REQUIRED, positive],
        "unit": [REQUIRED, Length(max=32)],
        "code": [Optional(), Regexp(r"^[a-z0-9_]{1,64}$", message="Код: латиница, цифры и «_», до 64 знаков.")],
    }
    add_form_extra_fields = edit_form_extra_fields = switch_fields(label_columns, description_columns)
    formatters_columns = {"min_price": money, "active": yes_no, "created_at": format_dt, "updated_at": format_dt}
    base_order = ("sort_order", "asc")

    def pre_add(self, item):
        item.code = item.code or None  # empty is "no code"; the column is unique

    pre_update = pre_add


class PaidServiceCategoryView(CatalogueView):
    route_base = "/content/paid-service-categories"
    datamodel = SQLAInterface(PaidServiceCategory)
    class_permission_name = "PaidServiceCategoryView"
    list_title = "Категории платных услуг"
    show_title = edit_title = "Категория платных услуг"
    add_title = "Новая категория"
    list_columns = ["name", "active", "sort_order"]
    add_columns = edit_columns = show_columns = ["name", "description", "active", "sort_order"]
    search_columns = ["name", "active"]
    label_columns = {"name": "Название", "description": "Описание", "active": "Показывается клиентам",
                     "sort_order": "Порядок"}
    description_columns = {"active": "Выключенная категория скрывает все свои услуги",
                           "sort_order": "Меньше — выше в списке"}
    validators_columns = {"name": [REQUIRED, Length(max=128)]}
    add_form_extra_fields = edit_form_extra_fields = switch_fields(label_columns, description_columns)
    formatters_columns = {"active": yes_no}
    base_order = ("sort_order", "asc")
    related_views = [PaidServiceView]
