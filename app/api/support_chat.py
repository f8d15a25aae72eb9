"""Support chat (PR-11): ``/api/v1/public/support-chat`` for guests (before signing in) and
``/api/v1/client/support-chat`` for signed-in customers.

A guest holds the chat's token (given once when the chat opens) and sends it as
``X-Support-Chat-Token``; a wrong or missing token is the same 404 as an unknown chat. A customer
reaches only their own chats, and claims a guest chat from the same device with its token.
Apps poll for new messages with ``?after=<last message id>``.
"""
from flask import g, request
from flask_appbuilder.api import expose

from ..services import support_chat
from ..services.request_types.support_chat import TOPICS
from . import support_chat_messages  # noqa: F401  (the refusals' texts)
from .base import KabinetApi
from .client import messages as client_messages  # noqa: F401  (phone_invalid)
from .client.base import ClientApi, customer_required
from .errors import language
from .support_chat_schemas import (
    SupportChatAfterQuerySchema,
    SupportChatCustomerOpenSchema,
    SupportChatGuestChatSchema,
    SupportChatGuestOpenSchema,
    SupportChatListSchema,
    SupportChatMessageInSchema,
    SupportChatMessageSchema,
    SupportChatPageQuerySchema,
    SupportChatSchema,
)

TOKEN_HEADER = "X-Support-Chat-Token"
_chat = SupportChatSchema()
_message = SupportChatMessageSchema()


def _raw(chat, with_messages=True, after=None):
    """The chat as SupportChatSchema reads it; reading the messages marks staff messages read."""
    req = chat.request
    topic = req.form_data.get("topic") or "other"
    titles = TOPICS.get(topic, TOPICS["other"])
    return {
        "id": chat.id, "number": req.number, "status": "open" if support_chat.is_open(chat) else "closed",
        "topic": topic, "topic_title": titles[1] if language() == "en" else titles[0],
        "waiting": support_chat.waiting(chat), "created_at": chat.created_at,
        "messages": support_chat.messages(chat, after, reader="customer") if with_messages else [],
    }


def _dump(chat, after=None):
    return _chat.dump(_raw(chat, after=after))


def _after():
    return SupportChatAfterQuerySchema().load(request.args.to_dict())["after"]


def _token():
    return request.headers.get(TOKEN_HEADER, "")


class PublicSupportChatApi(KabinetApi):
    resource_name = "public/support-chat"
    route_base = "/api/v1/public/support-chat"
    openapi_spec_tag = "Public: support chat"
    # Nested ones first, and only here (this API is registered before the client one): listed
    # twice they would be added twice, nested before listed they would get other names.
    openapi_spec_component_schemas = (SupportChatMessageSchema, SupportChatSchema, SupportChatGuestOpenSchema,
                                      SupportChatMessageInSchema, SupportChatGuestChatSchema)
    allow_browser_login = False

    @expose("/", methods=["POST"])
    def open_chat(self):
        """Open a support chat without signing in; the answer carries the chat's token, once.
        ---
        post:
          summary: Open a guest support chat
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatGuestOpenSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatGuestChatSchema'}}}
            422: {description: Empty or too long text, unknown topic, bad phone or email}
            429: {description: Too many chats from this address (rate_limited, Retry-After)}
        """
        body = SupportChatGuestOpenSchema().load(self.json_body())
        chat, token = support_chat.open_for_guest(request.remote_addr, body["text"], body["topic"], body["name"],
                                                  body["phone"], body["email"])
        return self.response(201, **SupportChatGuestChatSchema().dump({"chat": _raw(chat), "token": token}))

    @expose("/<int:chat_id>", methods=["GET"])
    def get_chat(self, chat_id):
        """The guest's chat and its messages (only the newer ones with ``after``); staff messages
        become read.
        ---
        get:
          summary: Read a guest support chat
          parameters:
          - {in: path, name: chat_id, required: true, schema: {type: integer}}
          - {in: header, name: X-Support-Chat-Token, required: true, schema: {type: string}}
          - {in: query, name: after, schema: {type: integer, minimum: 0}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatSchema'}}}
            404: {description: No such chat or not this token (support_chat_not_found)}
            422: {description: Bad after}
            429: {description: Too many reads from this address (rate_limited)}
        """
        after = _after()
        support_chat.limit("SUPPORT_CHAT_READ_LIMIT_PER_IP", request.remote_addr)
        chat = support_chat.guest_chat(chat_id, _token())
        return self.response(200, **_dump(chat, after=after))

    @expose("/<int:chat_id>/messages", methods=["POST"])
    def post_message(self, chat_id):
        """The guest writes; writing into a closed chat reopens it.
        ---
        post:
          summary: Write in a guest support chat
          parameters:
          - {in: path, name: chat_id, required: true, schema: {type: integer}}
          - {in: header, name: X-Support-Chat-Token, required: true, schema: {type: string}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatMessageInSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatMessageSchema'}}}
            404: {description: No such chat or not this token (support_chat_not_found)}
            422: {description: Empty or too long text}
            429: {description: Too many messages into this chat or from this address (rate_limited)}
        """
        body = SupportChatMessageInSchema().load(self.json_body())
        support_chat.limit("SUPPORT_CHAT_READ_LIMIT_PER_IP", request.remote_addr)
        chat = support_chat.guest_chat(chat_id, _token(), lock=True)
        message = support_chat.post_as_customer(chat, body["text"], guest_ip=request.remote_addr)
        return self.response(201, **_message.dump(message))


class ClientSupportChatApi(ClientApi):
    resource_name = "client/support-chat"
    route_base = "/api/v1/client/support-chat"
    openapi_spec_tag = "Client: support chat"
    openapi_spec_component_schemas = (SupportChatCustomerOpenSchema, SupportChatListSchema)

    @expose("/", methods=["POST"])
    @customer_required
    def open_chat(self):
        """Open a support chat as the signed-in customer.
        ---
        post:
          summary: Open a support chat
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatCustomerOpenSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatSchema'}}}
            401: {description: Not signed in}
            422: {description: Empty or too long text, unknown topic}
            429: {description: Too many chats opened (rate_limited)}
        """
        body = SupportChatCustomerOpenSchema().load(self.json_body())
        chat = support_chat.open_for_customer(g.customer.id, body["text"], body["topic"])
        return self.response(201, **_dump(chat))

    @expose("/", methods=["GET"])
    @customer_required
    def list_chats(self):
        """The customer's chats, newest first (without messages).
        ---
        get:
          summary: List own support chats
          security: [{customer: []}]
          parameters:
          - {in: query, name: page, schema: {type: integer, minimum: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatListSchema'}}}
            401: {description: Not signed in}
            422: {description: Bad page or page_size}
        """
        query = SupportChatPageQuerySchema().load(request.args.to_dict())
        rows, count = support_chat.list_own(g.customer.id, query["page"], query["page_size"])
        return self.response(200, **SupportChatListSchema().dump(
            {"count": count, "result": [_raw(chat, with_messages=False) for chat in rows]}))

    @expose("/<int:chat_id>", methods=["GET"])
    @customer_required
    def get_chat(self, chat_id):
        """One of the customer's chats with its messages (only the newer ones with ``after``);
        staff messages become read.
        ---
        get:
          summary: Read a support chat
          security: [{customer: []}]
          parameters:
          - {in: path, name: chat_id, required: true, schema: {type: integer}}
          - {in: query, name: after, schema: {type: integer, minimum: 0}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's chat (support_chat_not_found)}
            422: {description: Bad after}
        """
        after = _after()
        return self.response(200, **_dump(support_chat.own_chat(g.customer.id, chat_id), after=after))

    @expose("/<int:chat_id>/messages", methods=["POST"])
    @customer_required
    def post_message(self, chat_id):
        """The customer writes; writing into a closed chat reopens it.
        ---
        post:
          summary: Write in a support chat
          security: [{customer: []}]
          parameters:
          - {in: path, name: chat_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatMessageInSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatMessageSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's chat (support_chat_not_found)}
            422: {description: Empty or too long text}
            429: {description: Too many messages into this chat (rate_limited)}
        """
        body = SupportChatMessageInSchema().load(self.json_body())
        chat = support_chat.own_chat(g.customer.id, chat_id, lock=True)
        message = support_chat.post_as_customer(chat, body["text"], customer_id=g.customer.id)
        return self.response(201, **_message.dump(message))

    @expose("/<int:chat_id>/claim", methods=["POST"])
    @customer_required
    def claim(self, chat_id):
        """Take over a chat opened as a guest on this device before signing in: present its
        token; the chat becomes the customer's and the token stops opening it.
        ---
        post:
          summary: Claim a guest support chat
          security: [{customer: []}]
          parameters:
          - {in: path, name: chat_id, required: true, schema: {type: integer}}
          - {in: header, name: X-Support-Chat-Token, required: true, schema: {type: string}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/SupportChatSchema'}}}
            401: {description: Not signed in}
            404: {description: No such guest chat or not this token (support_chat_not_found)}
            429: {description: Too many attempts from this address (rate_limited)}
        """
        support_chat.limit("SUPPORT_CHAT_READ_LIMIT_PER_IP", request.remote_addr)
        return self.response(200, **_dump(support_chat.claim(g.customer.id, chat_id, _token())))
