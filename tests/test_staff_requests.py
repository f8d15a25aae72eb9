"""The staff side of service requests (SPEC AD-3, PR-9) on SQLite and PostgreSQL: the staff API's
search, request card, chat with files and downloads, filing in an office (then the public status
check answers), who may do what, and the «Заявки» screens with their CSRF check."""
import base64
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.requests import RequestAttachment, ServiceRequest
from app.models.workflow import HumanTask, utcnow
from app.services import request_types
from app.services.request_types import RequestType, base_data
from tests.conftest import PASSWORD, build_app
from tests.support.customers import Person, new_phone
from tests.support.engine import deploy

KIND = "staff_office_test"
PDF = b"%PDF-1.4\n" + b"0" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EN = {"Accept-Language": "en"}

TEST_KIND = RequestType(
    key=KIND, process_key="staff_office_test", titles={"ru": "Тестовая офисная заявка", "en": "Office test"},
    schema={"type": "object", "required": ["topic"], "additionalProperties": False,
            "properties": {"topic": {"type": "string", "minLength": 1, "maxLength": 200}}},
    process_data=lambda req, customer: {**base_data(req, customer), "topic": req.form_data["topic"]},
    office=True,
)


@pytest.fixture
def office_kind(app, monkeypatch):
    """A request kind filed in an office, running tests/bpmn/staff_office_request.bpmn."""
    deploy(app, "staff_office_request.bpmn")
    monkeypatch.setitem(request_types.TYPES, KIND, TEST_KIND)
    return KIND


def file(api, username="operator", phone=None, name="Петров Пётр", topic="Замена счётчика", headers=None):
    return api(username).post("/api/v1/requests/", json={"type": KIND, "form_data": {"topic": topic},
                                                          "phone": phone or new_phone(), "name": name},
                              headers=headers or {})


def filed(api, username="operator", **kwargs):
    response = file(api, username, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def error(response):
    return response.get_json()["error"]


# --- filing in an office (PR-9) -----------------------------------------------------------------

def test_a_walk_in_request_is_submitted_at_once_and_the_public_check_answers(app, api, office_kind):
    phone = new_phone()
    card = filed(api, phone=phone, name="Петров Пётр")
    assert card["status"] == "submitted" and card["filed_in_office"] is True
    assert card["customer"] == {"id": None, "name": "Петров Пётр", "phone": phone, "email": None}
    assert card["customer_id"] is None
    assert card["form_data"] == {"topic": "Замена счётчика", "name": "Петров Пётр", "phone": phone}
    assert [(h["status"], h["by"], h["by_name"]) for h in card["history"]] == [("submitted", "staff", "operator")]
    position = card["position"]
    assert position["process_key"] == "staff_office_test" and position["status"] == "waiting"
    assert position["current_activities"] == ["Проверить заявку"]
    [task] = position["tasks"]
    assert (task["name"], task["role"], task["assignee"], task["overdue"]) == ("review", "Operator", None, False)

    public = app.test_client().get(f"/api/v1/public/requests/{card['number']}")
    assert public.status_code == 200, public.get_json()
    assert public.get_json()["status"] == "submitted"
    # the process got the walk-in's contacts from the form
    detail = api().get(f"/api/v1/process-instances/{position['instance_id']}").get_json()
    assert detail["business_key"] == card["number"]
    assert detail["data"]["customer_name"] == "Петров Пётр" and detail["data"]["customer_phone"] == phone


def test_a_customer_with_the_phone_is_linked_and_sees_the_request(app, api, office_kind):
    person = Person(app)
    spelled = "8 (" + person.phone[2:5] + ") " + person.phone[5:8] + "-" + person.phone[8:10] + "-" + person.phone[10:]
    card = filed(api, phone=spelled, name=None)
    assert card["customer_id"] == person.id
    assert card["customer"]["id"] == person.id and card["customer"]["phone"] == person.phone
    assert card["form_data"] == {"topic": "Замена счётчика"}  # no contacts copied for a customer
    mine = person.call("GET", "/requests/").get_json()["result"]
    assert card["number"] in [r["number"] for r in mine]


def test_office_filing_refusals(app, api, office_kind):
    for username in ("technician", "dispatcher", "billing", "analyst"):
        response = file(api, username)
        assert response.status_code == 403, username
        assert error(response)["code"] == "forbidden"
    not_office = api("operator").post("/api/v1/requests/", json={"type": "meter_verification", "phone": new_phone(),
                                                                 "name": "А", "form_data": {"meter_id": 1}},
                                      headers=EN)
    assert not_office.status_code == 422
    assert error(not_office)["fields"] == {"type": ["This kind of request cannot be filed in an office."]}
    nameless = file(api, name="  ", headers=EN)
    assert nameless.status_code == 422
    assert error(nameless)["fields"] == {"name": ["No customer has this phone: give the applicant's name."]}
    bad_form = file(api, topic="")
    assert bad_form.status_code == 422 and error(bad_form)["code"] == "request_form_invalid"
    assert "form_data.topic" in error(bad_form)["fields"]
    bad_phone = file(api, phone="12")
    assert bad_phone.status_code == 422 and "phone" in error(bad_phone)["fields"]
    extra = api("operator").post("/api/v1/requests/", json={"type": KIND, "phone": new_phone(), "name": "А",
                                                             "form_data": {"topic": "x"}, "customer_id": 1})
    assert extra.status_code == 422
    with app.app_context():
        assert db.session.execute(select(ServiceRequest.id).where(
            ServiceRequest.type == KIND, ServiceRequest.form_data["name"].as_string() == "  ")).first() is None


# --- search and the card --------------------------------------------------------------------------

def test_search_filters_and_overdue_marker(app, api, office_kind):
    phone = new_phone()
    first = filed(api, phone=phone, name="Сидорова")
    second = filed(api, phone=phone, name="Сидорова", topic="Другое")
    reader = api("billing")

    def numbers(**params):
        response = reader.get("/api/v1/requests/", query_string=params)
        assert response.status_code == 200, response.get_json()
        return [r["number"] for r in response.get_json()["result"]]

    assert numbers(phone=phone) == [second["number"], first["number"]]  # newest first
    assert numbers(phone="8" + phone[2:]) == [second["number"], first["number"]]
    assert numbers(number=first["number"][3:]) == [first["number"]]
    assert numbers(phone=phone, filed_in_office="true", type=KIND, state="open", status="submitted") == \
        [second["number"], first["number"]]
    assert numbers(phone=phone, filed_in_office="false") == []
    assert numbers(phone=phone, state="closed") == []

    with app.app_context():  # the operator's review is past its due date
        task = db.session.get(HumanTask, first["position"]["tasks"][0]["id"])
        task.due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    rows = {r["number"]: r for r in reader.get("/api/v1/requests/", query_string={"phone": phone}).get_json()["result"]}
    assert rows[first["number"]]["overdue"] is True and rows[first["number"]]["open_tasks"] == 1
    assert rows[second["number"]]["overdue"] is False
    card = reader.get(f"/api/v1/requests/{first['id']}").get_json()
    assert card["position"]["tasks"][0]["overdue"] is True

    unknown = reader.get("/api/v1/requests/?status=draft", headers=EN)
    assert unknown.status_code == 422 and error(unknown)["fields"] == {"status": ["There is no such request status."]}
    assert reader.get("/api/v1/requests/?page_size=0").status_code == 422
    assert reader.get("/api/v1/requests/?colour=red").status_code == 422


def test_drafts_stay_the_customers_own(app, api):
    person = Person(app)
    draft = person.call("POST", "/requests/", json={"type": "meter_verification", "form_data": {}}).get_json()
    assert api().get(f"/api/v1/requests/{draft['id']}").status_code == 404
    assert api().get("/api/v1/requests/", query_string={"phone": person.phone}).get_json()["count"] == 0
    missing = api().get("/api/v1/requests/999999999", headers=EN)
    assert missing.status_code == 404 and error(missing)["code"] == "request_not_found"


def test_staff_chat_with_files_reaches_the_customer(app, api, office_kind):
    person = Person(app)
    card = filed(api, phone=person.phone, name=None)
    request_id = card["id"]
    asked = person.call("POST", f"/requests/{request_id}/messages", json={"text": "Когда приедете?"})
    assert asked.status_code == 201
    # the card shows the customer's message and marks it read for the customer's app
    chat = api("technician").get(f"/api/v1/requests/{request_id}").get_json()["messages"]
    assert [(m["author"], m["text"]) for m in chat] == [("customer", "Когда приедете?")]
    assert person.call("GET", f"/requests/{request_id}").get_json()["messages"][0]["read_at"] is not None

    multipart = api("technician").client.post(
        f"/api/v1/requests/{request_id}/messages", headers=api("technician").headers,
        data={"text": "Акт во вложении", "file": (io.BytesIO(PDF), "../акт <1>.pdf")}, content_type="multipart/form-data")
    assert multipart.status_code == 201, multipart.get_json()
    sent = multipart.get_json()
    assert sent["author"] == "staff" and sent["staff_username"] == "technician"
    [pdf] = sent["attachments"]
    assert pdf["filename"] == "акт _1.pdf" and pdf["uploaded_by"] == "staff" and pdf["staff_username"] == "technician"

    as_json = api("operator").post(f"/api/v1/requests/{request_id}/messages",
                                   json={"text": "Фото схемы", "file": "data:image/png;base64," +
                                         base64.b64encode(PNG).decode(), "filename": "схема.png"})
    assert as_json.status_code == 201, as_json.get_json()
    png = as_json.get_json()["attachments"][0]
    assert png["content_type"] == "image/png"
    plain = api("operator").post(f"/api/v1/requests/{request_id}/messages", json={"text": "Без файла"})
    assert plain.status_code == 201 and plain.get_json()["attachments"] == []

    # staff and the customer download the same bytes
    download = api("billing").get(f"/api/v1/requests/{request_id}/attachments/{pdf['id']}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert person.call("GET", f"/requests/{request_id}/attachments/{png['id']}").data == PNG
    seen = person.call("GET", f"/requests/{request_id}").get_json()
    assert [m["text"] for m in seen["messages"]] == ["Когда приедете?", "Акт во вложении", "Фото схемы", "Без файла"]
    assert {a["uploaded_by"] for a in seen["attachments"]} == {"staff"}

    # refusals change nothing
    wrong_type = api("operator").post(f"/api/v1/requests/{request_id}/messages",
                                      json={"text": "x", "file": base64.b64encode(b"MZ\x90\x00").decode()})
    assert wrong_type.status_code == 422 and "file" in error(wrong_type)["fields"]
    empty = api("operator").client.post(
        f"/api/v1/requests/{request_id}/messages", headers=api("operator").headers,
        data={"text": "  ", "file": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "text" in error(empty)["fields"]
    not_b64 = api("operator").post(f"/api/v1/requests/{request_id}/messages", json={"text": "x", "file": "%%%"})
    assert not_b64.status_code == 422
    with app.app_context():
        assert db.session.execute(select(RequestAttachment.id).where(
            RequestAttachment.request_id == request_id)).scalars().all() == [pdf["id"], png["id"]]
    other = filed(api)
    assert api().get(f"/api/v1/requests/{other['id']}/attachments/{pdf['id']}").status_code == 404
    assert api().get(f"/api/v1/requests/{request_id}/attachments/999999999").status_code == 404


def test_who_may_read_write_and_file(app, api, office_kind):
    card = filed(api)
    request_id = card["id"]
    for username in ("analyst", "contenteditor"):
        assert api(username).get("/api/v1/requests/").status_code == 403, username
        assert api(username).get(f"/api/v1/requests/{request_id}").status_code == 403, username
        assert api(username).post(f"/api/v1/requests/{request_id}/messages", json={"text": "x"}).status_code == 403
    for username in ("admin", "operator", "dispatcher", "technician", "billing"):
        assert api(username).get(f"/api/v1/requests/{request_id}").status_code == 200, username
    refused = api("billing").post(f"/api/v1/requests/{request_id}/messages", json={"text": "x"})
    assert refused.status_code == 403  # Billing reads only
    assert api("dispatcher").post(f"/api/v1/requests/{request_id}/messages", json={"text": "x"}).status_code == 201
    assert filed(api, "admin")["filed_in_office"] is True
    assert app.test_client().get("/api/v1/requests/").status_code == 401


def test_the_diagram_highlights_the_current_step(app, api, office_kind):
    card = filed(api)
    response = api("dispatcher").get(f"/api/v1/requests/{card['id']}/diagram.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert re.search(r'class="kb-node kb-userTask kb-current" data-bpmn-id="review"', svg)
    assert 'class="kb-node kb-userTask" data-bpmn-id="visit"' in svg


# --- the «Заявки» screens -----------------------------------------------------------------------------

def sign_in(app, username, client=None):
    client = client or app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], username
    return client


def test_screens_list_card_chat_and_inbox_link(app, api, office_kind):
    phone = new_phone()
    card = filed(api, phone=phone, name="Кузнецов <b>Иван</b>", topic="<script>alert(1)</script>")
    client = sign_in(app, "technician")
    listing = client.get("/work/requests/", query_string={"phone": phone}).get_data(as_text=True)
    assert card["number"] in listing and "Кузнецов &lt;b&gt;Иван&lt;/b&gt;" in listing
    page = client.get(f"/work/requests/{card['id']}").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-bpmn-id="review"' in page and "kb-current" in page
    assert "Проверить заявку" in page and 'id="chat-form"' in page

    posted = client.post(f"/work/requests/{card['id']}/messages",
                         data={"text": "Приеду завтра", "file": (io.BytesIO(PDF), "план.pdf")},
                         content_type="multipart/form-data", follow_redirects=True)
    assert posted.status_code == 200 and "Сообщение отправлено клиенту" in posted.get_data(as_text=True)
    detail = api().get(f"/api/v1/requests/{card['id']}").get_json()
    assert detail["messages"][-1]["text"] == "Приеду завтра"
    attachment_id = detail["messages"][-1]["attachments"][0]["id"]
    assert client.get(f"/work/requests/{card['id']}/attachments/{attachment_id}").data == PDF
    bad = client.post(f"/work/requests/{card['id']}/messages", data={"text": ""}, follow_redirects=True)
    assert "Напишите сообщение" in bad.get_data(as_text=True)

    # Billing reads the card without the chat form; Analyst does not see requests at all
    billing = sign_in(app, "billing")
    assert 'id="chat-form"' not in billing.get(f"/work/requests/{card['id']}").get_data(as_text=True)
    assert billing.post(f"/work/requests/{card['id']}/messages", data={"text": "x"}).status_code in (302, 403)
    assert len(api().get(f"/api/v1/requests/{card['id']}").get_json()["messages"]) == 1
    assert sign_in(app, "analyst").get("/work/requests/").status_code in (302, 403)

    # the operator's inbox links the task to its request card
    inbox = sign_in(app, "operator").get("/work/inbox/?page_size=100").get_data(as_text=True)
    assert f'/work/requests/{card["id"]}"' in inbox


def test_screen_posts_need_the_csrf_token(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'csrf.db'}", WTF_CSRF_ENABLED=True)
    deploy(app, "staff_office_request.bpmn")
    request_types.TYPES[KIND] = TEST_KIND
    try:
        client = app.test_client()
        login = client.get("/login/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
        client.post("/login/", data={"username": "operator", "password": PASSWORD, "csrf_token": token})
        with app.app_context():
            from app.services import staff_requests
            req = staff_requests.file_in_office(KIND, {"topic": "CSRF"}, new_phone(), "Тест", "operator")
            request_id = req.id
            db.session.remove()
        refused = client.post(f"/work/requests/{request_id}/messages", data={"text": "без токена"},
                              follow_redirects=True)
        assert "Форма устарела" in refused.get_data(as_text=True)
        page = client.get(f"/work/requests/{request_id}").get_data(as_text=True)
        assert "без токена" not in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        done = client.post(f"/work/requests/{request_id}/messages", data={"text": "с токеном", "csrf_token": token},
                           follow_redirects=True)
        assert "с токеном" in done.get_data(as_text=True)
        phone = new_phone()
        forged = client.post("/work/requests/new", data={"type": KIND, "phone": phone, "name": "А", "topic": "x"})
        assert "Форма устарела" in forged.get_data(as_text=True)
        with app.app_context():
            assert db.session.execute(select(ServiceRequest.id).where(
                ServiceRequest.form_data["phone"].as_string() == phone)).first() is None
    finally:
        request_types.TYPES.pop(KIND, None)


def test_staff_notes_go_into_the_history(app, api, office_kind):
    person = Person(app)
    card = filed(api, phone=person.phone, name=None)
    added = api("dispatcher").post(f"/api/v1/requests/{card['id']}/notes", json={"note": " Документы получены "})
    assert added.status_code == 201, added.get_json()
    assert [(h["status"], h["by_name"], h["note"]) for h in added.get_json()["history"]][-1] == \
        ("submitted", "dispatcher", "Документы получены")
    assert added.get_json()["status"] == "submitted"
    seen = person.call("GET", f"/requests/{card['id']}").get_json()["history"]
    assert seen[-1]["note"] == "Документы получены" and seen[-1]["by"] == "staff"
    empty = api("dispatcher").post(f"/api/v1/requests/{card['id']}/notes", json={"note": " "}, headers=EN)
    assert empty.status_code == 422 and error(empty)["fields"] == {"note": ["Write the note."]}
    assert api("billing").post(f"/api/v1/requests/{card['id']}/notes", json={"note": "x"}).status_code == 403
    page = sign_in(app, "operator").post(f"/work/requests/{card['id']}/notes", data={"note": "Позвонили клиенту"},
                                         follow_redirects=True).get_data(as_text=True)
    assert "Заметка добавлена" in page and "Позвонили клиенту" in page
    assert person.call("POST", f"/requests/{card['id']}/close").status_code == 200
    closed = api("operator").post(f"/api/v1/requests/{card['id']}/notes", json={"note": "поздно"})
    assert closed.status_code == 409 and error(closed)["code"] == "request_closed"


def test_the_office_form_files_a_request(app, api, office_kind):
    client = sign_in(app, "operator")
    assert 'id="file-in-office"' in client.get("/work/requests/").get_data(as_text=True)
    picker = client.get("/work/requests/new").get_data(as_text=True)
    assert f'<option value="{KIND}">Тестовая офисная заявка</option>' in picker
    assert '<option value="meter_verification">' not in picker  # not an office kind
    form = client.get(f"/work/requests/new?type={KIND}").get_data(as_text=True)
    assert 'name="topic"' in form and 'name="phone"' in form and 'name="name"' in form
    phone = new_phone()
    refused = client.post("/work/requests/new", data={"type": KIND, "phone": phone, "name": "", "topic": ""})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Клиента с таким телефоном нет: укажите имя заявителя." in page and f'value="{phone}"' in page
    done = client.post("/work/requests/new", data={"type": KIND, "phone": phone, "name": "Орлова Анна",
                                                   "topic": "Опломбировать счётчик"}, follow_redirects=True)
    assert done.status_code == 200 and "подана" in done.get_data(as_text=True)
    [row] = api().get("/api/v1/requests/", query_string={"phone": phone}).get_json()["result"]
    card = api().get(f"/api/v1/requests/{row['id']}").get_json()
    assert card["filed_in_office"] and card["form_data"] == {"topic": "Опломбировать счётчик", "name": "Орлова Анна",
                                                            "phone": phone}
    assert app.test_client().get(f"/api/v1/public/requests/{card['number']}").get_json()["status"] == "submitted"
    technician = sign_in(app, "technician")
    assert 'id="file-in-office"' not in technician.get("/work/requests/").get_data(as_text=True)
    assert technician.get("/work/requests/new").status_code in (302, 403)
