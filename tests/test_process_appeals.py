"""Appeals (SPEC PR-6) end to end through the client and staff APIs, on SQLite and PostgreSQL:
topics with search and «Другое», the number by email, the operator's answer in the chat, the
escalation of an unanswered appeal, and the refusals (bad geolocation, unknown or inactive topic,
"other" without words, another customer's request or account, a closed appeal)."""
import html
import io

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.appeals import AppealTopic, RequestAnswer
from app.models.notifications import OutboxMessage
from app.models.requests import RequestMessage, ServiceRequest
from app.models.workflow import HumanTask
from app.workflows import jobs, timers
from app.workflows.service_tasks import JobContext
from app.services.request_types.appeal import post_answer_task
from tests.conftest import PASSWORD
from tests.support.billing import link, make_account, make_supplier
from tests.support.customers import Person

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
_JOBS = iter(range(2_000_000_000, 2_147_000_000))  # job ids no real service job of the session reaches


@pytest.fixture
def person(app):
    return Person(app)


def topic(app, title, active=True, title_en=None):
    with app.app_context():
        row = AppealTopic(title=title, title_en=title_en, active=active, sort_order=5)
        db.session.add(row)
        db.session.commit()
        return row.id


def seeded(app, title):
    with app.app_context():
        return db.session.execute(select(AppealTopic.id).where(AppealTopic.title == title)).scalar_one()


def own_account(app, person):
    with app.app_context():
        account = make_account(make_supplier())
        link(person.id, account)
        db.session.commit()
        return account.id


def draft(person, **form):
    response = person.call("POST", "/requests/", json={"type": "appeal", "form_data": form})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def submit(person, request_id, lang="ru"):
    return person.call("POST", f"/requests/{request_id}/submit", lang=lang)


def settle(app, request_id):
    with app.app_context():
        instance_id = db.session.get(ServiceRequest, request_id).process_instance_id
        assert jobs.wait_for_jobs(instance_id), "service jobs did not finish"
        db.session.remove()


def filed(app, person, **form):
    created = draft(person, **{"text": "Почему выросла сумма?", "other_topic": "Перерасчёт", **form})
    response = submit(person, created["id"])
    assert response.status_code == 200, response.get_json()
    settle(app, created["id"])
    return response.get_json()


def human_tasks(app, request_id):
    with app.app_context():
        instance_id = db.session.get(ServiceRequest, request_id).process_instance_id
        rows = db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance_id)
                                  .order_by(HumanTask.id)).scalars().all()
        db.session.expunge_all()
        return rows


def open_task(app, request_id):
    [task] = [t for t in human_tasks(app, request_id) if t.status == "open"]
    return task


def fields_of(response):
    assert response.status_code == 422, response.get_json()
    return response.get_json()["error"]["fields"]


# --- topics --------------------------------------------------------------------------------------

def test_topics_are_searched_by_any_case_and_other_is_always_offered(app, person):
    hidden = topic(app, f"Скрытая тема {person.phone}", active=False)
    listed = person.call("GET", "/appeal-topics/").get_json()["result"]
    titles = [t["title"] for t in listed]
    assert "Оплата" in titles and "Отключения" in titles
    assert listed[-1] == {"id": None, "title": "Другое", "other": True}
    assert hidden not in [t["id"] for t in listed]

    found = person.call("GET", "/appeal-topics/?q=ОПЛАТ").get_json()["result"]
    assert [t["title"] for t in found] == ["Оплата", "Другое"]
    # "ё" and "е" are the same letter to a searching customer
    assert "Показания и приборы учёта" in [t["title"] for t in
                                           person.call("GET", "/appeal-topics/?q=учет").get_json()["result"]]
    assert person.call("GET", "/appeal-topics/?q=нет такой темы").get_json()["result"] == [
        {"id": None, "title": "Другое", "other": True}]
    english = person.call("GET", "/appeal-topics/?q=outage", lang="en").get_json()["result"]
    assert [t["title"] for t in english] == ["Outages", "Other"]

    too_long = person.call("GET", "/appeal-topics/?q=" + "я" * 101, lang="en")
    assert fields_of(too_long) == {"q": ["The search text must be at most 100 characters."]}
    assert app.test_client().get("/api/v1/client/appeal-topics/").status_code == 401


def sign_in(app, username):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], username
    return client


def test_content_editors_keep_the_topics_operators_read_them(app, person):
    editor = sign_in(app, "contenteditor")
    title = f"Новая тема {person.phone}"
    good = {"title": f"  {title} ", "title_en": "", "active": "y", "sort_order": "7"}
    refused = editor.post("/content/appeal-topics/add", data={**good, "title": ""})
    assert refused.status_code == 200 and "Обязательное поле" in html.unescape(refused.get_data(as_text=True))
    assert editor.post("/content/appeal-topics/add", data=good).status_code == 302
    with app.app_context():
        added = db.session.execute(select(AppealTopic).where(AppealTopic.title == title)).scalar_one()
        assert added.title_en is None
        topic_id = added.id
        db.session.remove()
    assert topic_id in [t["id"] for t in person.call("GET", "/appeal-topics/").get_json()["result"]]
    # switched off: it leaves the customer's list
    off = editor.post(f"/content/appeal-topics/edit/{topic_id}", data={k: v for k, v in good.items() if k != "active"})
    assert off.status_code == 302
    assert topic_id not in [t["id"] for t in person.call("GET", "/appeal-topics/").get_json()["result"]]

    operator = sign_in(app, "operator")
    assert title in html.unescape(operator.get("/content/appeal-topics/list/").get_data(as_text=True))
    for url in ("/content/appeal-topics/add", f"/content/appeal-topics/edit/{topic_id}"):
        assert operator.get(url).status_code in (302, 403), url
    assert operator.post("/content/appeal-topics/add", data={**good, "title": "Чужая тема"}).status_code in (302, 403)
    assert sign_in(app, "technician").get("/content/appeal-topics/list/").status_code in (302, 403)
    with app.app_context():
        assert db.session.execute(select(AppealTopic).where(AppealTopic.title == "Чужая тема")).first() is None


# --- the appeal ----------------------------------------------------------------------------------

def test_appeal_is_answered_in_the_chat_and_completed(app, person, api):
    email = person.confirm_email()
    account_id = own_account(app, person)
    billing = seeded(app, "Начисления и квитанции")
    created = draft(person, topic_id=billing, text="  Прошу проверить начисление за октябрь  ", account_id=account_id,
                    address="г. Москва, ул. Ленина, д. 1", geolocation={"lat": 55.75, "lon": 37.62})
    upload = person.http.post(f"/api/v1/client/requests/{created['id']}/attachments", headers=person.headers,
                              data={"file": (io.BytesIO(PNG), "квитанция.png")}, content_type="multipart/form-data")
    assert upload.status_code == 201, upload.get_json()
    response = submit(person, created["id"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "submitted"
    settle(app, created["id"])

    with app.app_context():
        req = db.session.get(ServiceRequest, created["id"])
        assert req.account_id == account_id
        mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "appeal_received",
                                                              OutboxMessage.recipient == email)).scalar_one()
        assert req.number in mail.body and "Начисления и квитанции" in mail.body and mail.channel == "email"

    task = open_task(app, created["id"])
    assert (task.name, task.candidate_role) == ("answer_appeal", "Operator")
    assert task.due_at is not None  # the statutory deadline on its boundary
    detail = api("operator").get(f"/api/v1/process-instances/{task.instance_id}").get_json()
    assert detail["data"]["topic"] == "Начисления и квитанции"
    assert detail["data"]["text"] == "Прошу проверить начисление за октябрь"
    assert detail["data"]["geolocation"] == {"lat": 55.75, "lon": 37.62}
    # the customer's app shows no task: the answer is staff's work
    assert person.call("GET", f"/requests/{created['id']}").get_json()["tasks"] == []

    refused = api("operator").post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"answer": "   "}})
    assert refused.status_code == 422
    answer = "Начисление проверено: перерасчёт будет в ноябрьской квитанции."
    done = api("operator").post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"answer": answer}})
    assert done.status_code == 200, done.get_json()
    settle(app, created["id"])

    seen = person.call("GET", f"/requests/{created['id']}").get_json()
    assert seen["status"] == "completed"
    assert [(m["author"], m["text"]) for m in seen["messages"]] == [("staff", answer)]
    assert seen["history"][-1]["status"] == "completed"
    with app.app_context():
        message = db.session.execute(select(RequestMessage).where(RequestMessage.request_id == created["id"])
                                     ).scalar_one()
        assert message.staff_username == "operator"
    rated = person.call("POST", f"/requests/{created['id']}/rating", json={"rating": 5, "feedback": "Спасибо"})
    assert rated.status_code == 200, rated.get_json()
    listed = person.call("GET", "/requests/?state=closed").get_json()["result"]
    assert created["id"] in [r["id"] for r in listed]


def test_the_answer_is_posted_once_per_job(app, person):
    created = filed(app, person)
    number = created["number"]
    job = next(_JOBS)
    with app.app_context():
        for _ in range(2):
            post_answer_task({"text": "Ответ"}, JobContext(job, 0, number, 1))
            db.session.commit()
        assert db.session.execute(select(RequestAnswer).where(RequestAnswer.job_id == job)).scalar_one()
        texts = db.session.execute(select(RequestMessage.text).where(RequestMessage.request_id == created["id"])
                                   ).scalars().all()
        assert texts == ["Ответ"]


def test_appeal_refusals_change_nothing(app, person):
    other_customer = Person(app)
    foreign_account = own_account(app, other_customer)
    inactive = topic(app, f"Выключенная тема {person.phone}", active=False)
    billing = seeded(app, "Начисления и квитанции")
    cases = [
        ({"topic_id": billing, "text": "x", "geolocation": {"lat": 91, "lon": 37}}, "form_data.geolocation.lat",
         "The value is not valid."),
        ({"topic_id": billing, "text": "x", "geolocation": {"lat": 55, "lon": -181}}, "form_data.geolocation.lon",
         "The value is not valid."),
        ({"topic_id": 10**8, "text": "x"}, "form_data.topic_id",
         "This topic is not on the list: choose the topic again."),
        ({"topic_id": inactive, "text": "x"}, "form_data.topic_id",
         "This topic is not on the list: choose the topic again."),
        ({"text": "x"}, "form_data.other_topic", 'Choose a topic or describe it in your own words ("Other").'),
        ({"text": "x", "other_topic": "   "}, "form_data.other_topic",
         'Choose a topic or describe it in your own words ("Other").'),
        ({"topic_id": billing, "other_topic": "Своё", "text": "x"}, "form_data.other_topic",
         'Give either a topic from the list or "Other" with your own words.'),
        ({"topic_id": billing, "text": "   "}, "form_data.text", "The value is not valid."),
    ]
    for form, field, message in cases:
        created = draft(person, **form)
        response = submit(person, created["id"], lang="en")
        assert fields_of(response) == {field: [message]}, form
        assert person.call("GET", f"/requests/{created['id']}").get_json()["status"] == "draft"

    created = draft(person, topic_id=billing, text="Чужой счёт", account_id=foreign_account)
    response = submit(person, created["id"])
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "account_not_found"
    assert person.call("GET", f"/requests/{created['id']}").get_json()["status"] == "draft"


def test_another_customers_appeal_is_not_found(app, person):
    created = filed(app, person)
    stranger = Person(app)
    for method, path, body in (("GET", f"/requests/{created['id']}", None),
                               ("POST", f"/requests/{created['id']}/messages", {"text": "Привет"}),
                               ("POST", f"/requests/{created['id']}/close", {})):
        response = stranger.call(method, path, json=body)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "request_not_found"


def test_a_closed_appeal_cannot_be_answered_or_chatted(app, person, api):
    created = filed(app, person)
    task = open_task(app, created["id"])
    assert person.call("POST", f"/requests/{created['id']}/close", json={"note": "Вопрос решён"}).status_code == 200
    assert [t.status for t in human_tasks(app, created["id"])] == ["cancelled"]
    late = api("operator").post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"answer": "Поздно"}})
    assert late.status_code in (404, 409)
    chat = person.call("POST", f"/requests/{created['id']}/messages", json={"text": "Ещё вопрос"})
    assert chat.status_code == 409 and chat.get_json()["error"]["code"] == "request_closed"
    with app.app_context():  # an answer the process was about to post is dropped
        result = post_answer_task({"text": "Ответ"}, JobContext(next(_JOBS), 0, created["number"], 1))
        db.session.commit()
        assert result["ignored"] is True
        assert db.session.execute(select(RequestMessage).where(RequestMessage.request_id == created["id"])
                                  ).first() is None


def test_an_unanswered_appeal_escalates_to_an_administrator(app, person, api, monkeypatch):
    monkeypatch.setitem(app.config["PROCESS_DEADLINES"], "appeal.answer", "PT0S")
    created = filed(app, person)  # no confirmed email: no letter, the appeal goes on
    with app.app_context():
        timers.fire_due()
        db.session.remove()
    settle(app, created["id"])
    tasks = human_tasks(app, created["id"])
    assert [(t.name, t.status) for t in tasks][-1] == ("answer_overdue", "open")
    assert tasks[-1].candidate_role == "Admin"
    assert all(t.status == "cancelled" for t in tasks[:-1])
    answer = "Извините за задержку: перерасчёт выполнен."
    done = api("admin").post(f"/api/v1/tasks/{tasks[-1].id}/complete", json={"data": {"answer": answer}})
    assert done.status_code == 200, done.get_json()
    settle(app, created["id"])
    seen = person.call("GET", f"/requests/{created['id']}").get_json()
    assert seen["status"] == "completed"
    assert [m["text"] for m in seen["messages"]] == [answer]
    with app.app_context():
        assert db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "appeal_received",
                                                              OutboxMessage.body.contains(created["number"]))
                                  ).first() is None


def test_the_topics_endpoint_and_the_kinds_are_documented(app, api, person):
    spec = api("admin").get("/api/v1/_openapi").get_json()
    assert "get" in spec["paths"]["/api/v1/client/appeal-topics/"]
    assert {"TopicListSchema", "TopicSchema"} <= set(spec["components"]["schemas"])
    kinds = {t["type"]: t for t in person.call("GET", "/requests/types", lang="en").get_json()["result"]}
    assert kinds["appeal"]["title"] == "Appeal" and kinds["callback"]["title"] == "Callback"
    assert "geolocation" in kinds["appeal"]["form_schema"]["properties"]
    assert {"contact_change", "address_mismatch"} <= set(kinds)
