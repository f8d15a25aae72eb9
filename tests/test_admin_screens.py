"""The staff screens in more detail than test_admin_views.py: upload refusals and "unchanged",
the form rendered from JSON Schema and its field errors, every instance action and who may use
it, incidents retried until the instance moves on, overdue highlighting, menus per role and the
CSRF check of the screens' POST forms. Everyone signs in through the HTML login form."""
import html
import io
import os
import re
import uuid
from datetime import timedelta

import pytest
from werkzeug.datastructures import MultiDict

from app.bootstrap import BPMN_DIR, shipped_process
from app.extensions import db
from app.models.workflow import HumanTask, ProcessDefinition, ProcessInstance, utcnow
from app.views import task_forms
from app.workflows import deployment, instances, jobs
from app.workflows.service_tasks import PermanentFailure, handler
from tests.conftest import PASSWORD, build_app

TESTS_DIR = os.path.dirname(__file__)
VERIFICATION = {"customer_phone": "+79161234567", "meter_serial": "SN-9", "meter_kind": "electricity",
                "overdue": False}

# --- a service task that fails until the test lets it pass -------------------------------------
_SWITCH = {}


@handler("admin_screens_switch")
def _switch(params, context):
    if not _SWITCH.get(params["token"]):
        raise PermanentFailure("provider refused the call")
    return {"passed": True}


SWITCH_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Defs_switch" targetNamespace="http://kabinet.test/bpmn">
  <bpmn:process id="{key}" name="Switch" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:serviceTask id="call" name="Вызов провайдера">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="admin_screens_switch" resultVariable="call_result">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="token" type="str" value="token" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


# --- helpers ------------------------------------------------------------------------------------
def sign_in(app, username, client=None):
    client = client or app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], username
    return client


def body(response):
    return response.get_data(as_text=True)


def script_bpmn(key, script):
    with open(os.path.join(TESTS_DIR, "bpmn", "script_task.bpmn.tmpl"), encoding="utf-8") as handle:
        return handle.read().replace("{key}", key).replace("{script}", script)


def count_definitions(app, key=None):
    with app.app_context():
        query = db.session.query(ProcessDefinition)
        if key:
            query = query.filter_by(key=key)
        try:
            return query.count()
        finally:
            db.session.remove()


def start(app, key="meter_verification", data=None):
    with app.app_context():
        number = f"MV-{uuid.uuid4().hex[:8]}"
        instance = instances.start(key, number, dict(data if data is not None else
                                                     {**VERIFICATION, "request_number": number}), actor="test")
        assert jobs.wait_for_jobs(instance.id)
        instance_id = instance.id
        db.session.remove()
    return instance_id, number


def instance_row(app, instance_id):
    with app.app_context():
        try:
            instance = db.session.get(ProcessInstance, instance_id)
            return instance.status, instance.current_activities
        finally:
            db.session.remove()


def open_task(app, instance_id):
    with app.app_context():
        try:
            return db.session.query(HumanTask).filter_by(instance_id=instance_id, status="open").one()
        finally:
            db.session.expunge_all()
            db.session.remove()


def upload(client, bpmn, dmn=(), forms=(), key=""):
    data = MultiDict([("key", key), ("bpmn", (io.BytesIO(bpmn.encode()), "process.bpmn"))])
    for index, text in enumerate(dmn):
        data.add("dmn", (io.BytesIO(text.encode()), f"decision-{index}.dmn"))
    for name, text in forms:
        data.add("forms", (io.BytesIO(text.encode()), name))
    return client.post("/processes/definitions/upload", data=data, content_type="multipart/form-data")


def shipped_files():
    entry = shipped_process("meter_verification")

    def read(name):
        with open(os.path.join(BPMN_DIR, name), encoding="utf-8") as handle:
            return handle.read()

    forms_dir = os.path.join(BPMN_DIR, entry["forms"])
    forms = [(name, read(os.path.join(entry["forms"], name))) for name in sorted(os.listdir(forms_dir))]
    return read(entry["bpmn"]), [read(name) for name in entry["dmn"]], forms


# --- definitions --------------------------------------------------------------------------------
def test_definition_page_shows_versions_escaped_source_and_forms(app):
    client = sign_in(app, "analyst")
    listing = body(client.get("/processes/definitions/"))
    assert "Поверка прибора учёта" in listing and "Загрузить BPMN" in listing
    page = body(client.get("/processes/definitions/show/meter_verification"))
    assert "&lt;bpmn:definitions" in page and "<bpmn:definitions" not in page  # escaped, in a <pre>
    assert "schedule_visit.json" in page and "Назначить визит техника" in page
    assert "verification_priority" in page or "&lt;definitions" in page  # the DMN tab
    assert client.get("/processes/definitions/show/meter_verification?version=999").status_code == 404


def test_upload_of_an_invalid_model_names_element_and_fault_and_deploys_nothing(app):
    client = sign_in(app, "analyst")
    key = f"bad_{uuid.uuid4().hex[:6]}"
    response = upload(client, script_bpmn(key, "import os"))
    assert response.status_code == 422
    page = html.unescape(body(response))
    assert "Процесс не развёрнут" in page and "Модель процесса некорректна" in page
    assert "ScriptTask 'analyst_script'" in page  # the element …
    assert "import" in page.split("Ошибка", 1)[1]  # … and the fault
    assert count_definitions(app, key) == 0


def test_upload_without_the_forms_the_model_names_is_refused(app):
    client = sign_in(app, "analyst")
    bpmn, dmn, _forms = shipped_files()
    before = count_definitions(app, "meter_verification")
    response = upload(client, bpmn, dmn)
    assert response.status_code == 422
    assert "form &#39;schedule_visit.json&#39; is not in the deployment" in body(response)
    assert count_definitions(app, "meter_verification") == before


def test_upload_refuses_a_form_file_that_is_not_json(app):
    client = sign_in(app, "analyst")
    response = upload(client, script_bpmn(f"p_{uuid.uuid4().hex[:6]}", "x = 1"), forms=[("oops.json", "{not json")])
    assert response.status_code == 422
    assert "Форма «oops.json» — некорректный JSON" in body(response)


def test_upload_deploys_a_version_then_reports_unchanged(app):
    client = sign_in(app, "analyst")
    key = f"ok_{uuid.uuid4().hex[:6]}"
    first = upload(client, script_bpmn(key, "x = 1"))
    assert first.status_code == 302 and f"/processes/definitions/show/{key}" in first.headers["Location"]
    page = body(client.get(first.headers["Location"]))
    assert f"Развёрнута версия 1 процесса «{key}»" in page
    again = upload(client, script_bpmn(key, "x = 1"))
    assert "Без изменений" in body(client.get(again.headers["Location"]))
    assert count_definitions(app, key) == 1
    # the shipped process with its DMN and form files is identical to what is deployed
    bpmn, dmn, forms = shipped_files()
    shipped = upload(client, bpmn, dmn, forms)
    assert shipped.status_code == 302
    assert "Без изменений" in body(client.get(shipped.headers["Location"]))


def test_only_analysts_and_admins_reach_definitions(app):
    for username in ("technician", "dispatcher", "operator", "billing"):
        client = sign_in(app, username)
        assert client.get("/processes/definitions/upload").status_code == 403, username
        response = upload(client, script_bpmn(f"x_{uuid.uuid4().hex[:6]}", "x = 1"))
        assert response.status_code == 403, username
    assert sign_in(app, "admin").get("/processes/definitions/upload").status_code == 200
    anonymous = app.test_client().get("/processes/definitions/upload")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


# --- the task form ------------------------------------------------------------------------------
def test_task_form_is_rendered_from_the_schema(app):
    instance_id, number = start(app)
    task = open_task(app, instance_id)
    page = body(sign_in(app, "dispatcher").get(f"/work/inbox/task/{task.id}"))
    assert re.search(r'<input[^>]*type="date"[^>]*name="visit_date"', page)
    assert re.search(r'<select[^>]*name="slot"', page) and '<option value="12:00-15:00"' in page
    technician = re.search(r'<input[^>]*name="technician"[^>]*>', page).group(0)
    assert 'maxlength="64"' in technician and 'minlength="1"' in technician and "required" in technician
    assert re.search(r'<input[^>]*name="comment"[^>]*maxlength="500"', page)
    for label in ("Дата визита", "Время", "Техник (логин)", "Комментарий"):
        assert label in page
    assert page.count('title="обязательное поле"') == 3  # visit_date, slot, technician
    assert number in page


def test_bad_values_rerender_next_to_their_fields_and_change_nothing(app):
    instance_id, _number = start(app)
    task = open_task(app, instance_id)
    client = sign_in(app, "dispatcher")
    response = client.post(f"/work/inbox/task/{task.id}",
                           data={"visit_date": "31.02.2026x", "slot": "", "technician": "x" * 65, "comment": "ok"})
    assert response.status_code == 422
    page = body(response)
    for field, message in (("visit_date", "Введите корректную дату."), ("slot", "Обязательное поле."),
                           ("technician", "Слишком длинное значение: не более 64 символов.")):
        group = re.search(rf'<div class="form-group has-error" id="group-{field}">(.*?)</div>\s*</div>', page, re.DOTALL)
        assert group and message in group.group(1), field
    assert 'value="ok"' in page  # what was typed comes back
    assert open_task(app, instance_id).status == "open"
    assert instance_row(app, instance_id)[1] == "|Назначить визит техника|"
    english = client.post(f"/work/inbox/task/{task.id}", headers={"Accept-Language": "en"},
                          data={"visit_date": "", "slot": "09:00-12:00", "technician": "technician"})
    assert "is a required property" in body(english)
    # a date typed the Russian way is accepted and stored as ISO
    done = client.post(f"/work/inbox/task/{task.id}",
                       data={"visit_date": "01.12.2026", "slot": "09:00-12:00", "technician": "technician"})
    assert done.status_code == 302
    with app.app_context():
        assert instances.data_of(instances.get(instance_id))["visit_date"] == "2026-12-01"
        db.session.remove()


def test_technician_completes_a_checkbox_form(app):
    instance_id, _number = start(app)
    dispatcher = sign_in(app, "dispatcher")
    task = open_task(app, instance_id)
    dispatcher.post(f"/work/inbox/task/{task.id}",
                    data={"visit_date": "2026-12-01", "slot": "09:00-12:00", "technician": "technician"})
    with app.app_context():
        assert jobs.wait_for_jobs(instance_id)
        db.session.remove()
    task = open_task(app, instance_id)
    technician = sign_in(app, "technician")
    inbox = body(technician.get("/work/inbox/"))
    assert "Подготовиться к визиту" in inbox
    page = body(technician.get(f"/work/inbox/task/{task.id}"))
    assert re.search(r'<input type="checkbox" id="field-equipment_ready" name="equipment_ready"', page)
    response = technician.post(f"/work/inbox/task/{task.id}", data={"equipment_ready": "on", "note": "пломбы"},
                               follow_redirects=True)
    assert "Подготовиться к визиту" in body(response) and "выполнена" in body(response)
    with app.app_context():
        data = instances.data_of(instances.get(instance_id))
        assert data["equipment_ready"] is True and data["note"] == "пломбы"
        db.session.remove()
    # someone else's task is "not found" for the technician, never shown
    other_id, _ = start(app)
    other = open_task(app, other_id)
    refused = technician.get(f"/work/inbox/task/{other.id}", follow_redirects=True)
    assert f"Задача {other.id} не найдена" in body(refused)


def test_form_types_convert_from_the_submitted_strings():
    schema = {
        "type": "object", "required": ["count"],
        "properties": {
            "count": {"type": "integer", "title": "Количество", "minimum": 1},
            "ratio": {"type": "number"},
            "level": {"enum": [1, 2, 3]},
            "kind": {"type": "string", "oneOf": [{"const": "a", "title": "Вариант А"}, {"const": "b"}]},
            "tags": {"type": "array", "items": {"enum": ["x", "y"]}},
            "flag": {"type": "boolean"},
            "extra": {"type": "object"},
        },
    }
    fields = {f.name: f for f in task_forms.fields_of(schema)}
    assert fields["count"].widget == "number" and fields["count"].attrs == {"step": "1", "min": 1}
    assert fields["ratio"].attrs["step"] == "any"
    assert fields["level"].widget == "select" and fields["level"].options[0] == ("1", "1", 1)
    assert fields["kind"].options[0] == ("a", "Вариант А", "a")
    assert fields["tags"].widget == "multiselect" and fields["flag"].widget == "checkbox"
    assert fields["extra"].widget == "json"
    form = MultiDict([("count", "3"), ("ratio", "2,5"), ("level", "2"), ("kind", "b"), ("tags", "x"), ("tags", "y"),
                      ("extra", '{"a": 1}')])
    assert task_forms.convert(schema, form) == ({
        "count": 3, "ratio": 2.5, "level": 2, "kind": "b", "tags": ["x", "y"], "flag": False, "extra": {"a": 1},
    }, {})
    data, errors = task_forms.convert(schema, MultiDict([("count", "three"), ("extra", "{")]))
    assert errors == {"count": ["Введите целое число."], "extra": ["Некорректный JSON."]}
    assert "count" not in data


# --- instances ----------------------------------------------------------------------------------
def test_instance_list_filters_pages_and_counts(app):
    instance_id, number = start(app)
    client = sign_in(app, "operator")
    page = body(client.get(f"/processes/instances/?business_key={number}"))
    assert f"/processes/instances/show/{instance_id}" in page and "Всего: 1" in page
    by_activity = body(client.get("/processes/instances/?activity=Назначить визит техника&status=waiting"))
    assert f"/processes/instances/show/{instance_id}" in by_activity
    assert f"/processes/instances/show/{instance_id}\"" not in body(client.get("/processes/instances/?status=completed"))
    with app.app_context():
        total = db.session.query(ProcessInstance).count()
        db.session.remove()
    assert f"Всего: {total}" in body(client.get("/processes/instances/"))
    assert "не применён" in body(client.get("/processes/instances/?status=bogus"))


def test_instance_page_shows_data_tasks_history_and_no_buttons_for_readers(app):
    instance_id, number = start(app)
    operator = sign_in(app, "operator")
    page = body(operator.get(f"/processes/instances/show/{instance_id}"))
    assert f'"request_number": "{number}"' in html.unescape(page)  # pretty JSON data
    assert "Назначить визит техника" in page and "запуск" in page and "Dispatcher" in page
    assert "/cancel" not in page and "/suspend" not in page
    assert operator.post(f"/processes/instances/{instance_id}/cancel").status_code == 403
    assert sign_in(app, "technician").get(f"/processes/instances/show/{instance_id}").status_code == 403
    assert instance_row(app, instance_id)[0] == "waiting"
    missing = operator.get("/processes/instances/show/999999", follow_redirects=True)
    assert "Экземпляр процесса 999999 не найден" in body(missing)


def test_suspend_resume_cancel_buttons_and_translated_refusals(app):
    instance_id, _number = start(app)
    client = sign_in(app, "dispatcher")
    page = body(client.get(f"/processes/instances/show/{instance_id}"))
    assert f"/processes/instances/{instance_id}/suspend" in page and f"/processes/instances/{instance_id}/cancel" in page

    done = client.post(f"/processes/instances/{instance_id}/suspend", follow_redirects=True)
    assert f"Экземпляр {instance_id} приостановлен" in body(done)
    assert instance_row(app, instance_id)[0] == "suspended"
    assert f"/processes/instances/{instance_id}/resume" in body(done)

    done = client.post(f"/processes/instances/{instance_id}/resume", follow_redirects=True)
    assert f"Экземпляр {instance_id} возобновлён" in body(done)
    assert instance_row(app, instance_id)[0] == "waiting"

    refused = client.post(f"/processes/instances/{instance_id}/retry", follow_redirects=True)
    assert f"У экземпляра {instance_id} нет ошибок для повтора" in body(refused)

    done = client.post(f"/processes/instances/{instance_id}/cancel", follow_redirects=True)
    assert f"Экземпляр {instance_id} отменён" in body(done)
    assert instance_row(app, instance_id)[0] == "cancelled"
    again = client.post(f"/processes/instances/{instance_id}/cancel", follow_redirects=True,
                        headers={"Accept-Language": "en"})
    assert f"Not possible: instance {instance_id} is cancelled." in body(again)


def test_incident_retry_lets_the_instance_move_on(app):
    key = f"switch_{uuid.uuid4().hex[:6]}"
    token = uuid.uuid4().hex
    with app.app_context():
        deployment.deploy(SWITCH_BPMN.replace("{key}", key), deployed_by="test")
        db.session.remove()
    instance_id, _ = start(app, key, {"token": token})
    assert instance_row(app, instance_id)[0] == "error"

    analyst = sign_in(app, "analyst")
    listing = body(analyst.get("/incidents/"))
    assert "provider refused the call" in listing and f"/incidents/retry/{instance_id}" in listing
    assert f"/processes/instances/show/{instance_id}" in listing
    detail = body(analyst.get(f"/processes/instances/show/{instance_id}"))
    assert f"/processes/instances/{instance_id}/retry" in detail and "открыт" in detail

    # retry while the provider still refuses: the incident is closed, a new one opens
    analyst.post(f"/incidents/retry/{instance_id}", follow_redirects=True)
    with app.app_context():
        assert jobs.wait_for_jobs(instance_id)
        db.session.remove()
    assert instance_row(app, instance_id)[0] == "error"

    _SWITCH[token] = True
    done = analyst.post(f"/processes/instances/{instance_id}/retry", follow_redirects=True)
    assert "отправлены на повтор" in body(done)
    with app.app_context():
        assert jobs.wait_for_jobs(instance_id)
        incidents = instances.incidents(instance_id)
        db.session.remove()
    assert instance_row(app, instance_id)[0] == "completed"
    assert len(incidents) == 2 and all(i.resolved_by == "analyst" for i in incidents)
    assert f"/incidents/retry/{instance_id}" not in body(analyst.get("/incidents/"))
    # the incidents screen is the analysts' (and admins')
    assert sign_in(app, "dispatcher").get("/incidents/").status_code == 403


# --- inbox --------------------------------------------------------------------------------------
def test_inbox_sections_claim_and_overdue_highlighting(app):
    instance_id, number = start(app)
    task = open_task(app, instance_id)
    with app.app_context():
        db.session.get(HumanTask, task.id).due_at = utcnow() - timedelta(hours=2)
        db.session.commit()
        db.session.remove()
    client = sign_in(app, "dispatcher")
    page = body(client.get("/work/inbox/"))
    pool = page.split('id="section-pool"', 1)[1]
    row = re.search(rf'<tr class="danger overdue" data-task-id="{task.id}">(.*?)</tr>', pool, re.DOTALL)
    assert row and "просрочена" in row.group(1) and number in row.group(1)
    overdue_only = body(client.get("/work/inbox/?overdue=1"))
    assert f'data-task-id="{task.id}"' in overdue_only

    client.post(f"/work/inbox/claim/{task.id}", data={"next": "/work/inbox/"})
    page = body(client.get("/work/inbox/"))
    mine = page.split('id="section-mine"', 1)[1].split('id="section-pool"', 1)[0]
    assert f'data-task-id="{task.id}"' in mine and f"/work/inbox/unclaim/{task.id}" in mine
    # the next parameter never leaves the site
    away = client.post(f"/work/inbox/unclaim/{task.id}", data={"next": "//evil.example/"})
    assert away.headers["Location"].endswith("/work/inbox/")
    assert open_task(app, instance_id).assignee is None


@pytest.mark.parametrize("username, visible, hidden", [
    ("analyst", ["Работа", "Процессы", "Инциденты", "Определения процессов"], []),
    ("dispatcher", ["Работа", "Процессы", "Экземпляры процессов"], ["Инциденты", "Определения процессов"]),
    ("technician", ["Работа", "Входящие задачи"], ["Процессы", "Инциденты"]),
    ("contenteditor", [], ["Входящие задачи", "Процессы", "Инциденты"]),
])
def test_menus_follow_the_roles(sqlite_app, username, visible, hidden):
    page = body(sign_in(sqlite_app, username).get("/"))
    for label in visible:
        assert label in page, label
    for label in hidden:
        assert label not in page, label


def test_inbox_is_for_staff_with_a_lane(sqlite_app):
    assert sign_in(sqlite_app, "contenteditor").get("/work/inbox/").status_code == 403
    for username in ("operator", "dispatcher", "technician", "billing", "analyst", "admin"):
        assert sign_in(sqlite_app, username).get("/work/inbox/").status_code == 200, username


# --- CSRF ---------------------------------------------------------------------------------------
def test_screens_refuse_posts_without_the_csrf_token(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'csrf.db'}", WTF_CSRF_ENABLED=True)
    instance_id, _ = start(app)
    client = app.test_client()
    login = body(client.get("/login/"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    signed = client.post("/login/", data={"username": "analyst", "password": PASSWORD, "csrf_token": token})
    assert signed.status_code == 302 and "/login" not in signed.headers["Location"]
    refused = client.post(f"/processes/instances/{instance_id}/cancel", follow_redirects=True)
    assert "Форма устарела" in body(refused)
    assert instance_row(app, instance_id)[0] == "waiting"
    page = body(client.get(f"/processes/instances/show/{instance_id}"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    done = client.post(f"/processes/instances/{instance_id}/cancel", data={"csrf_token": token},
                       follow_redirects=True)
    assert f"Экземпляр {instance_id} отменён" in body(done)
    assert instance_row(app, instance_id)[0] == "cancelled"
