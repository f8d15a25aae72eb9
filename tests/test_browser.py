"""A real browser (headless Chromium, CSRF on as in production): a dispatcher completes a task
through the form rendered from its JSON Schema; an analyst enrols two-factor sign-in by QR code."""
import os
import threading
import uuid

import pytest
from werkzeug.serving import make_server

from app.extensions import db
from app.models.workflow import HumanTask
from app.workflows import instances, jobs
from tests.conftest import PASSWORD, build_app
from tests.support.chromium import CHROMIUM, Chromium

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (make browser-deps installs it)")


@pytest.fixture
def served(tmp_path, request):
    settings = getattr(request, "param", {})
    app = build_app(f"sqlite:///{tmp_path / 'browser.db'}", WTF_CSRF_ENABLED=True, **settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_dispatcher_completes_a_task_in_the_browser(served, tmp_path):
    app, base = served
    number = f"MV-{uuid.uuid4().hex[:6]}"
    with app.app_context():
        instance = instances.start("meter_verification", number, {
            "request_number": number, "customer_phone": "+79161234567", "meter_serial": "SN-77",
            "meter_kind": "electricity", "overdue": False})
        assert jobs.wait_for_jobs(instance.id)
        task_id = db.session.query(HumanTask).filter_by(instance_id=instance.id, status="open").one().id
        db.session.remove()

    with Chromium() as browser:
        browser.goto(f"{base}/login/")
        browser.submit(
            "document.querySelector('#username').value = 'dispatcher';"
            f"document.querySelector('#password').value = '{PASSWORD}';"
            "document.querySelector('form').submit();"
        )
        browser.goto(f"{base}/work/inbox/")
        page = browser.text()
        assert "Назначить визит техника" in page and number in page
        browser.screenshot(str(tmp_path / "inbox.png"))

        browser.goto(f"{base}/work/inbox/task/{task_id}")
        assert browser.evaluate("document.querySelector('input[name=visit_date]').type") == "date"
        browser.screenshot(str(tmp_path / "form.png"))
        browser.submit(
            "document.querySelector('input[name=visit_date]').value = '2026-12-01';"
            "document.querySelector('select[name=slot]').value = '12:00-15:00';"
            "document.querySelector('input[name=technician]').value = 'technician';"
            "document.querySelector('input[name=visit_date]').form.submit();"
        )
        browser.screenshot(str(tmp_path / "after.png"))
        assert "выполнена" in browser.text()

    with app.app_context():
        task = db.session.get(HumanTask, task_id)
        assert task.status == "completed" and task.completed_by == "dispatcher"
        assert instances.data_of(instances.get(instance.id))["slot"] == "12:00-15:00"
        db.session.remove()


def sign_in_with_password(browser, base, username):
    browser.goto(f"{base}/login/")
    browser.submit(
        f"document.querySelector('#username').value = '{username}';"
        f"document.querySelector('#password').value = '{PASSWORD}';"
        "document.querySelector('form').submit();"
    )


@pytest.mark.parametrize("served", [{"STAFF_2FA_REQUIRED_ROLES": ["Admin", "Analyst"]}], indirect=True)
def test_an_analyst_enrols_two_factor_by_qr_and_then_needs_a_code(served, tmp_path):
    import pyotp

    _app, base = served
    with Chromium() as browser:
        sign_in_with_password(browser, base, "analyst")
        assert "Подключение двухфакторного входа" in browser.text()
        assert browser.evaluate("document.querySelector('#two-factor-enrolment svg') !== null")
        browser.screenshot(str(tmp_path / "enrol.png"))
        # nothing else opens before the enrolment is confirmed
        browser.goto(f"{base}/processes/definitions/")
        assert "Определения процессов" not in browser.text()

        browser.goto(f"{base}/login/")
        sign_in_with_password(browser, base, "analyst")
        secret = browser.evaluate("document.querySelector('#two-factor-secret').innerText").replace(' ', '')
        browser.submit(
            f"document.querySelector('#code').value = '{pyotp.TOTP(secret).now()}';"
            "document.querySelector('#two-factor-confirm-form').submit();"
        )
        codes = browser.evaluate("[...document.querySelectorAll('#recovery-codes li')].map(li => li.innerText)")
        assert len(codes) == 10
        browser.goto(f"{base}/processes/definitions/")
        assert "meter_verification" in browser.text()

        browser.goto(f"{base}/logout/")
        sign_in_with_password(browser, base, "analyst")
        assert browser.evaluate("document.querySelector('#two-factor-verify-form') !== null")
        browser.submit("document.querySelector('#code').value = '000000';"
                       "document.querySelector('#two-factor-verify-form').submit();")
        browser.goto(f"{base}/processes/definitions/")
        assert "meter_verification" not in browser.text()  # a wrong code signs nobody in

        sign_in_with_password(browser, base, "analyst")
        browser.submit(f"document.querySelector('#code').value = '{codes[0]}';"
                       "document.querySelector('#two-factor-verify-form').submit();")
        browser.goto(f"{base}/processes/definitions/")
        assert "meter_verification" in browser.text()
        browser.screenshot(str(tmp_path / "signed-in.png"))
