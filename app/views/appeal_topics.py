"""Appeal topics in the back office (SPEC PR-6, AD-6), category "Content": content editors (and
admins) keep the list customers pick from, operators read it. Nothing is deleted (filed appeals
keep their topic's id): switch "active" off to take a topic off the customer's list. «Другое» is
not a row: the app always offers it."""
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..models.appeals import AppealTopic
from .common import switch_fields
from .suppliers import yes_no


class AppealTopicView(ModelView):
    """Read for Operator, write for ContentEditor and Admin (FAB_ROLES in app/security.py)."""

    route_base = "/content/appeal-topics"
    datamodel = SQLAInterface(AppealTopic)
    class_permission_name = "AppealTopicView"
    method_permission_name = {"list": "read", "show": "read", "add": "write", "edit": "write"}
    include_route_methods = {"list", "show", "add", "edit"}
    base_permissions = {"can_read", "can_write"}
    page_size = 50
    list_title = "Темы обращений"
    show_title = edit_title = "Тема обращения"
    add_title = "Новая тема обращения"
    list_columns = ["title", "title_en", "active", "sort_order"]
    show_columns = add_columns = edit_columns = list_columns
    search_columns = ["title", "title_en", "active"]
    label_columns = {"title": "Название", "title_en": "Название по-английски", "active": "В списке клиента",
                     "sort_order": "Порядок"}
    description_columns = {"sort_order": "Меньше — выше в списке; «Другое» всегда последним",
                           "active": "Выключите, чтобы убрать тему из списка (поданные обращения её сохранят)"}
    validators_columns = {
        "title": [InputRequired(message="Обязательное поле."), Length(max=128)],
        "title_en": [Optional(), Length(max=128)],
        "sort_order": [InputRequired(message="Обязательное поле."), NumberRange(min=0, max=10000)],
    }
    add_form_extra_fields = edit_form_extra_fields = switch_fields(label_columns, description_columns)
    formatters_columns = {"active": yes_no}
    base_order = ("sort_order", "asc")

    def pre_add(self, item):
        item.title = " ".join(item.title.split())
        item.title_en = " ".join((item.title_en or "").split()) or None

    pre_update = pre_add
