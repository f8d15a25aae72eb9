"""Support chats for operators (PR-11): the open chats, those waiting for an answer first; a
chat's messages with the answer and close forms. Answering and closing go through
``services/support_chat.py``, which also completes the chat's inbox task on close."""
from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..api import support_chat_messages  # noqa: F401  (texts of the refusals flashed here)
from ..api.errors import message_for
from ..errors import DomainError
from ..services import support_chat
from ..services.request_types.support_chat import TOPICS
from ..workflows import instances
from .common import Page, can, csrf_protected, flash_domain_error, is_overdue, page_arg

PAGE_SIZE = 50


def _flash_refusal(exc):
    """A refusal as the operator should read it: the field's reason (empty, too long), not the
    generic "validation error"."""
    reasons = [code for codes in exc.fields.values() for code in codes]
    for code in reasons:
        flash(message_for(code, exc.params), "danger")
    if not reasons:
        flash_domain_error(exc)


class SupportChatView(BaseView):
    route_base = "/work/support-chats"
    default_view = "list"
    class_permission_name = "SupportChatView"
    method_permission_name = {"list": "read", "show": "read", "answer": "write", "close": "write"}

    @expose("/")
    @has_access
    def list(self):
        page = page_arg()
        rows, total = support_chat.open_chats(page, PAGE_SIZE)
        return self.render_template("support_chat/list.html", page=Page(rows, total, page, PAGE_SIZE), topics=TOPICS)

    @expose("/<int:chat_id>")
    @has_access
    def show(self, chat_id):
        try:
            chat = support_chat.staff_chat(chat_id)
        except DomainError as exc:
            flash_domain_error(exc)
            return redirect(url_for(".list"))
        req = chat.request
        open_tasks = instances.open_tasks(req.process_instance_id) if req.process_instance_id else []
        return self.render_template(
            "support_chat/show.html", chat=chat, req=req, messages=support_chat.messages(chat, reader="staff"),
            is_open=support_chat.is_open(chat), topics=TOPICS, resolutions=support_chat.RESOLUTIONS,
            task=open_tasks[0] if open_tasks else None, is_overdue=is_overdue,
            can_write=can("can_write", self.class_permission_name),
            can_see_customers=can("can_read", "CustomerView"),
        )

    @expose("/<int:chat_id>/answer", methods=["POST"])
    @has_access
    @csrf_protected
    def answer(self, chat_id):
        try:
            support_chat.staff_answer(chat_id, g.user.username, request.form.get("text"))
        except DomainError as exc:
            _flash_refusal(exc)
        return redirect(url_for(".show", chat_id=chat_id))

    @expose("/<int:chat_id>/close", methods=["POST"])
    @has_access
    @csrf_protected
    def close(self, chat_id):
        try:
            chat = support_chat.staff_close(chat_id, g.user.username, request.form.get("resolution") or "answered")
        except DomainError as exc:
            _flash_refusal(exc)
            return redirect(url_for(".show", chat_id=chat_id))
        flash(f"Чат {chat.request.number} закрыт.", "success")
        return redirect(url_for(".list"))
