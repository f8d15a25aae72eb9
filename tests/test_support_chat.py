"""PR-11 support chat: guests before sign-in (token), customers, claiming a guest chat after
signing in, the operators' screen (answer, close), the process's task and its escalation."""
import itertools
import random
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.support_chat import SupportChat
from app.models.workflow import HumanTask
from app.services import support_chat
from app.workflows import jobs, timers
from tests.conftest import PASSWORD, ApiClient, build_app
from tests.support.customers import Person

PUBLIC = "/api/v1/public/support-chat"
HEADER = "X-Support-Chat-Token"
_ADDRESSES = itertools.count(random.randrange(1, 200) * 65536)


class Guest:
    """An app before sign-in, from an address of its own (the per-IP limits are per test)."""

    def __init__(self, app):
        n = next(_ADDRESSES)
        self.ip = f"10.{(n >> 16) % 256}.{(n >> 8) % 256}.{n % 256}"
        self.http = app.test_client()
        self.token = self.chat_id = None

    def call(self, method, path="", json=None, token=None, lang="ru"):
        headers = {"Accept-Language": lang}
        if token or self.token:
            headers[HEADER] = token or self.token
        return self.http.open(f"{PUBLIC}{path}", method=method, json=json, headers=headers,
                              environ_base={"REMOTE_ADDR": self.ip})

    def open(self, text="Не пришёл счёт за октябрь", **extra):
        response = self.call("POST", "/", {"text": text, **extra})
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        self.token, self.chat_id = body["token"], body["chat"]["id"]
        return body["chat"]


def chat_row(app, chat_id):
    """``(request status, customer id, process instance id, guest token hash)``."""
    with app.app_context():
        chat = db.session.get(SupportChat, chat_id)
        row = (chat.request.status, chat.request.customer_id, chat.request.process_instance_id, chat.guest_token_hash)
        db.session.remove()
        return row


def settle(app, chat_id):
    with app.app_context():
        assert jobs.wait_for_jobs(db.session.get(SupportChat, chat_id).request.process_instance_id)
        db.session.remove()


def open_tasks(app, chat_id):
    with app.app_context():
        instance_id = db.session.get(SupportChat, chat_id).request.process_instance_id
        rows = db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                          HumanTask.status == "open")).scalars().all()
        found = [(t.id, t.name, t.candidate_role, t.due_at) for t in rows]
        db.session.remove()
        return found


def signed_in(app, username="operator"):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD}, follow_redirects=True)
    assert response.status_code == 200
    return client


# --- guests ---------------------------------------------------------------------------------------

def test_guest_opens_a_chat_reads_polls_and_writes(app):
    guest = Guest(app)
    chat = guest.open(name="Пётр", phone="8 (916) 555-44-33", topic="bills")
    assert chat["status"] == "open" and chat["waiting"] is True
    assert chat["topic"] == "bills" and chat["topic_title"] == "Счета и начисления"
    assert chat["number"].startswith("KB-")
    assert [(m["author"], m["text"]) for m in chat["messages"]] == [("customer", "Не пришёл счёт за октябрь")]
    first = chat["messages"][0]["id"]

    # the token is kept hashed only, the contact normalised; the process waits for an operator
    status, customer_id, _instance, token_hash = chat_row(app, guest.chat_id)
    assert (status, customer_id) == ("submitted", None)
    assert token_hash and guest.token not in token_hash
    with app.app_context():
        form = db.session.get(SupportChat, guest.chat_id).request.form_data
        db.session.remove()
    assert form["phone"] == "+79165554433" and form["name"] == "Пётр"
    [(task_id, name, role, due_at)] = open_tasks(app, guest.chat_id)
    assert (name, role) == ("answer_chat", "Operator") and due_at is not None

    assert guest.call("GET", f"/{guest.chat_id}?after={first}").get_json()["messages"] == []
    posted = guest.call("POST", f"/{guest.chat_id}/messages", {"text": "  Лицевой счёт 7712345678  "})
    assert posted.status_code == 201 and posted.get_json()["text"] == "Лицевой счёт 7712345678"
    polled = guest.call("GET", f"/{guest.chat_id}?after={first}").get_json()
    assert [m["id"] for m in polled["messages"]] == [posted.get_json()["id"]]
    assert len(guest.call("GET", f"/{guest.chat_id}").get_json()["messages"]) == 2


def test_wrong_missing_or_another_chats_token_is_404(app):
    guest, other = Guest(app), Guest(app)
    guest.open()
    other.open("Другой вопрос")
    for token in ("", "x" * 43, other.token):
        for method, path, body in (("GET", f"/{guest.chat_id}", None),
                                   ("POST", f"/{guest.chat_id}/messages", {"text": "чужой"})):
            response = Guest(app).call(method, path, body, token=token or None)
            assert response.status_code == 404, (token, path)
            assert response.get_json()["error"]["code"] == "support_chat_not_found"
    assert guest.call("GET", "/999999999").status_code == 404
    # nothing was written into the chat
    assert len(guest.call("GET", f"/{guest.chat_id}").get_json()["messages"]) == 1
    # the client API is for customers only
    assert app.test_client().get(f"/api/v1/client/support-chat/{guest.chat_id}",
                                 headers={HEADER: guest.token}).status_code == 401


def test_refusals_and_limits(app):
    guest = Guest(app)
    too_long = guest.call("POST", "/", {"text": "я" * 2001})
    assert too_long.status_code == 422
    assert too_long.get_json()["error"]["fields"]["text"] == ["Сообщение — не длиннее 2000 символов."]
    assert guest.call("POST", "/", {"text": "   "}).get_json()["error"]["fields"]["text"] == ["Напишите сообщение."]
    assert guest.call("POST", "/", {"text": "?", "topic": "weather"}).status_code == 422
    assert guest.call("POST", "/", {"text": "?", "phone": "12"}).get_json()["error"]["fields"] == {
        "phone": ["Некорректный номер телефона."]}
    assert guest.call("POST", "/", {"text": "?", "email": "no-at-sign"}).status_code == 422
    assert guest.call("POST", "/", {"text": "?", "admin": True}).status_code == 422
    assert guest.call("POST", "/", {"text": "?", "name": "Я" * 101}).status_code == 422
    assert guest.call("POST", "/", {"text": "?"}, lang="en").status_code == 201  # the limit counts only opened chats

    for _ in range(4):
        guest.open()
    refused = guest.call("POST", "/", {"text": "шестой"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["error"]["code"] == "rate_limited"

    # per chat: 20 messages per 10 minutes
    for n in range(20):
        assert guest.call("POST", f"/{guest.chat_id}/messages", {"text": f"#{n}"}).status_code == 201
    assert guest.call("POST", f"/{guest.chat_id}/messages", {"text": "ещё"}).status_code == 429
    assert guest.call("POST", f"/{guest.chat_id}/messages", {"text": "я" * 2001}).status_code == 422


# --- customers ------------------------------------------------------------------------------------

def test_customer_claims_the_guest_chat_after_signing_in(app):
    guest = Guest(app)
    guest.open("Как передать показания?")
    person, stranger = Person(app), Person(app)

    assert stranger.call("POST", f"/support-chat/{guest.chat_id}/claim", headers={HEADER: "x" * 43}).status_code == 404
    assert person.call("POST", f"/support-chat/{guest.chat_id}/claim").status_code == 404  # no token
    claimed = person.call("POST", f"/support-chat/{guest.chat_id}/claim", headers={HEADER: guest.token})
    assert claimed.status_code == 200, claimed.get_json()
    assert [m["text"] for m in claimed.get_json()["messages"]] == ["Как передать показания?"]
    status, customer_id, _instance, token_hash = chat_row(app, guest.chat_id)
    assert customer_id == person.id and token_hash is None

    # the token no longer opens it, nor claims it for anyone else
    assert guest.call("GET", f"/{guest.chat_id}").status_code == 404
    assert stranger.call("POST", f"/support-chat/{guest.chat_id}/claim",
                         headers={HEADER: guest.token}).status_code == 404
    # it is the customer's now: listed, readable and writable by them only
    listed = person.call("GET", "/support-chat/").get_json()
    assert listed["count"] == 1 and listed["result"][0]["id"] == guest.chat_id
    assert person.call("POST", f"/support-chat/{guest.chat_id}/messages", {"text": "Спасибо"}).status_code == 201
    assert stranger.call("GET", f"/support-chat/{guest.chat_id}").status_code == 404
    assert stranger.call("POST", f"/support-chat/{guest.chat_id}/messages", {"text": "чужой"}).status_code == 404
    assert stranger.call("GET", "/support-chat/").get_json() == {"count": 0, "result": []}


def test_customer_chat_is_theirs_only(app):
    person, stranger = Person(app), Person(app)
    opened = person.call("POST", "/support-chat/", {"text": "Не проходит оплата картой", "topic": "payments"})
    assert opened.status_code == 201, opened.get_json()
    chat = opened.get_json()
    assert chat["status"] == "open" and chat["messages"][0]["author"] == "customer"
    status, customer_id, _instance, token_hash = chat_row(app, chat["id"])
    assert (status, customer_id, token_hash) == ("submitted", person.id, None)

    assert stranger.call("GET", f"/support-chat/{chat['id']}").status_code == 404
    assert stranger.call("POST", f"/support-chat/{chat['id']}/messages", {"text": "чужой"}).status_code == 404
    # no token opens a customer's chat on the public side
    assert Guest(app).call("GET", f"/{chat['id']}", token="x" * 43).status_code == 404
    assert person.call("GET", f"/support-chat/{chat['id']}?after=abc").status_code == 422
    assert person.call("POST", "/support-chat/", {"text": ""}).status_code == 422
    # the chat is one of the customer's requests too, and nobody else's
    requests = person.call("GET", "/requests/").get_json()["result"]
    assert [r["type"] for r in requests] == ["support_chat"]
    assert stranger.call("GET", f"/requests/{requests[0]['id']}").status_code == 404


# --- staff ----------------------------------------------------------------------------------------

def test_operator_answers_and_closes_on_the_chat_screen_then_the_guest_reopens(app):
    guest = Guest(app)
    guest.open("Когда вернут свет на Лесной?", topic="outage")
    first_instance = chat_row(app, guest.chat_id)[2]
    operator = signed_in(app, "operator")

    listing = operator.get("/work/support-chats/").get_data(as_text=True)
    assert f'data-chat-id="{guest.chat_id}"' in listing and "ждёт ответа" in listing
    page = operator.get(f"/work/support-chats/{guest.chat_id}").get_data(as_text=True)
    assert "Когда вернут свет на Лесной?" in page and "Ответить в чате поддержки" in page

    answered = operator.post(f"/work/support-chats/{guest.chat_id}/answer", data={"text": "Сегодня до 18:00."},
                             follow_redirects=True)
    assert answered.status_code == 200 and "Сегодня до 18:00." in answered.get_data(as_text=True)
    assert chat_row(app, guest.chat_id)[0] == "in_progress"
    seen = guest.call("GET", f"/{guest.chat_id}").get_json()
    assert seen["waiting"] is False and seen["messages"][-1]["author"] == "staff"
    assert "operator" not in str(seen)  # staff names stay inside
    empty = operator.post(f"/work/support-chats/{guest.chat_id}/answer", data={"text": " "}, follow_redirects=True)
    assert "Напишите сообщение." in empty.get_data(as_text=True)

    closed = operator.post(f"/work/support-chats/{guest.chat_id}/close", data={"resolution": "answered"},
                           follow_redirects=True)
    assert f"Чат {seen['number']} закрыт." in closed.get_data(as_text=True)
    settle(app, guest.chat_id)
    assert chat_row(app, guest.chat_id)[0] == "completed"
    assert open_tasks(app, guest.chat_id) == []  # closing completed the inbox task
    assert guest.call("GET", f"/{guest.chat_id}").get_json()["status"] == "closed"
    late = operator.post(f"/work/support-chats/{guest.chat_id}/answer", data={"text": "ещё"}, follow_redirects=True)
    assert f"Чат {seen['number']} закрыт." in late.get_data(as_text=True)

    # writing again reopens the same chat with a new task
    assert guest.call("POST", f"/{guest.chat_id}/messages", {"text": "Свет так и не дали"}).status_code == 201
    status, _customer, instance, _hash = chat_row(app, guest.chat_id)
    assert status == "submitted" and instance != first_instance
    assert [(name, role) for _id, name, role, _due in open_tasks(app, guest.chat_id)] == [("answer_chat", "Operator")]
    assert guest.call("GET", f"/{guest.chat_id}").get_json()["status"] == "open"


def test_completing_the_task_in_the_inbox_closes_the_chat(app, api):
    person = Person(app)
    chat = person.call("POST", "/support-chat/", {"text": "Вопрос"}).get_json()
    [(task_id, *_rest)] = open_tasks(app, chat["id"])
    refused = api("operator").post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}})
    assert refused.status_code == 422  # the outcome is required
    done = api("operator").post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"resolution": "spam"}})
    assert done.status_code == 200, done.get_json()
    settle(app, chat["id"])
    assert chat_row(app, chat["id"])[0] == "completed"
    assert person.call("GET", f"/support-chat/{chat['id']}").get_json()["status"] == "closed"
    operator = signed_in(app, "operator")
    assert f'data-chat-id="{chat["id"]}"' not in operator.get("/work/support-chats/").get_data(as_text=True)


def test_an_unanswered_chat_escalates_to_admin_and_closing_completes_that_task(app):
    app.config["PROCESS_DEADLINES"]["support_chat.answer"] = "PT0S"
    try:
        guest = Guest(app)
        guest.open("Срочно!")
    finally:
        del app.config["PROCESS_DEADLINES"]["support_chat.answer"]
    with app.app_context():
        timers.fire_due()
        db.session.remove()
    settle(app, guest.chat_id)
    assert [(name, role) for _id, name, role, _due in open_tasks(app, guest.chat_id)] == [
        ("answer_chat_overdue", "Admin")]
    # the operator still answers and closes on the chat screen
    operator = signed_in(app, "operator")
    operator.post(f"/work/support-chats/{guest.chat_id}/close", data={"resolution": "answered"})
    settle(app, guest.chat_id)
    assert chat_row(app, guest.chat_id)[0] == "completed" and open_tasks(app, guest.chat_id) == []


def test_chat_screens_are_for_operators(app):
    guest = Guest(app)
    guest.open()
    technician = signed_in(app, "technician")
    assert technician.get("/work/support-chats/").status_code in (302, 403)
    technician.post(f"/work/support-chats/{guest.chat_id}/answer", data={"text": "не мой чат"})
    technician.post(f"/work/support-chats/{guest.chat_id}/close", data={"resolution": "spam"})
    assert chat_row(app, guest.chat_id)[0] == "submitted"
    assert len(guest.call("GET", f"/{guest.chat_id}").get_json()["messages"]) == 1
    assert signed_in(app, "admin").get(f"/work/support-chats/{guest.chat_id}").status_code == 200


def test_the_answer_form_needs_the_csrf_token(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'csrf.db'}", WTF_CSRF_ENABLED=True)
    guest = Guest(app)
    guest.open()
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login/").get_data(as_text=True)).group(1)
    client.post("/login/", data={"username": "operator", "password": PASSWORD, "csrf_token": token})
    refused = client.post(f"/work/support-chats/{guest.chat_id}/answer", data={"text": "без токена"},
                          follow_redirects=True)
    assert "Форма устарела" in refused.get_data(as_text=True)
    page = client.get(f"/work/support-chats/{guest.chat_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post(f"/work/support-chats/{guest.chat_id}/answer", data={"text": "с токеном", "csrf_token": token})
    texts = [m["text"] for m in guest.call("GET", f"/{guest.chat_id}").get_json()["messages"]]
    assert texts == ["Не пришёл счёт за октябрь", "с токеном"]


@pytest.mark.parametrize("lang, text", [("ru", "Чат не найден."), ("en", "The chat was not found.")])
def test_refusals_speak_the_callers_language(sqlite_app, lang, text):
    response = Guest(sqlite_app).call("GET", "/1", token="nope", lang=lang)
    assert response.get_json()["error"]["message"] == text


def test_demo_support_chats_load_once(tmp_path):
    from app.demo_customers import load_demo_customers
    from app.demo_support_chat import DEMO_GUEST_TOKEN, load_demo_support_chat

    app = build_app(f"sqlite:///{tmp_path / 'demo.db'}")
    with app.app_context():
        assert "no demo support chats" in load_demo_support_chat()
        load_demo_customers()
        assert "answered" in load_demo_support_chat()
        assert "already present" in load_demo_support_chat()
        rows, total = support_chat.open_chats()
        assert total == 2
        # the waiting guest first, then Мария's answered chat
        assert [(req.customer_id is None, last.author_kind) for _chat, req, last in rows] == [
            (True, "customer"), (False, "staff")]
        guest_id = rows[0][0].id
        db.session.remove()
    guest = Guest(app)
    assert guest.call("GET", f"/{guest_id}", token=DEMO_GUEST_TOKEN).get_json()["waiting"] is True
    # a newer waiting chat goes on top; Мария writing again puts hers among the waiting, below it
    newest = Guest(app)
    newest.open("Ещё вопрос")
    with app.app_context():
        [maria_chat] = [chat for chat, req, _last in support_chat.open_chats()[0] if req.customer_id]
        support_chat.post_as_customer(maria_chat, "А можно подробнее?", customer_id=maria_chat.request.customer_id)
        order = [chat.id for chat, _req, _last in support_chat.open_chats()[0]]
        db.session.remove()
    assert order == [maria_chat.id, newest.chat_id, guest_id]
    listing = signed_in(app, "operator").get("/work/support-chats/").get_data(as_text=True)
    assert [int(n) for n in re.findall(r'data-chat-id="(\d+)"', listing)] == order


def test_openapi_documents_the_support_chat(sqlite_app):
    spec = ApiClient(sqlite_app, "admin").get("/api/v1/_openapi").get_json()
    for path in ("/public/support-chat/", "/public/support-chat/{chat_id}", "/public/support-chat/{chat_id}/messages",
                 "/client/support-chat/", "/client/support-chat/{chat_id}", "/client/support-chat/{chat_id}/messages",
                 "/client/support-chat/{chat_id}/claim"):
        assert f"/api/v1{path}" in spec["paths"], path
    for schema in ("SupportChatGuestChatSchema", "SupportChatSchema", "SupportChatMessageSchema",
                   "SupportChatListSchema", "SupportChatCustomerOpenSchema"):
        assert schema in spec["components"]["schemas"], schema  # every $ref of the docstrings resolves


def test_a_support_chat_is_opened_only_through_its_own_endpoints(app):
    person = Person(app)
    refused = person.call("POST", "/requests/", {"type": "support_chat", "form_data": {"text": "Вопрос по договору"}})
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"] == {
        "type": ["Такой вид заявки не принимается."]}
    kinds = [t["type"] for t in person.call("GET", "/requests/types").get_json()["result"]]
    assert "support_chat" not in kinds and "grid_connection" in kinds
    assert person.call("GET", "/support-chat/").get_json()["result"] == []