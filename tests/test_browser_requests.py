"""A real browser (headless Chromium, CSRF on): an operator finds a customer's appeal in the
inbox, opens the request card with the process diagram (the current step highlighted), answers
in the chat with a file, and the customer reads the answer and the file through the client API."""
import os

import pytest

from app.extensions import db
from app.models.requests import ServiceRequest
from app.workflows import jobs
from tests.support.chromium import CHROMIUM, Chromium
from tests.support.customers import Person
from tests.test_browser import served, sign_in_with_password  # noqa: F401  (served: the fixture)

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (make browser-deps installs it)")

PDF = b"%PDF-1.4\n" + b"0" * 64


def test_an_operator_answers_an_appeal_from_its_card(served, tmp_path):
    app, base = served
    person = Person(app)
    created = person.call("POST", "/requests/", json={"type": "appeal", "form_data": {
        "other_topic": "Уличное освещение", "text": "Не горит фонарь у второго подъезда"}}).get_json()
    assert person.call("POST", f"/requests/{created['id']}/submit").status_code == 200
    with app.app_context():
        assert jobs.wait_for_jobs(db.session.get(ServiceRequest, created["id"]).process_instance_id)
        db.session.remove()
    attachment = tmp_path / "схема.pdf"
    attachment.write_bytes(PDF)

    with Chromium() as browser:
        sign_in_with_password(browser, base, "operator")
        browser.goto(f"{base}/work/inbox/")
        assert "Ответить на обращение" in browser.text() and created["number"] in browser.text()

        browser.goto(f"{base}/work/requests/{created['id']}")
        page = browser.text()
        assert created["number"] in page and "Не горит фонарь" in page
        # the diagram is drawn in the page, the step waiting for the operator highlighted
        assert browser.evaluate("document.querySelector('svg.kb-bpmn .kb-current').dataset.bpmnId") == \
            "answer_appeal"
        assert browser.evaluate("document.querySelectorAll('svg.kb-bpmn .kb-lane').length") >= 2
        browser.screenshot(str(tmp_path / "card.png"))

        document = browser.call("DOM.getDocument")["root"]["nodeId"]
        node = browser.call("DOM.querySelector", nodeId=document, selector="#chat-file")["nodeId"]
        browser.call("DOM.setFileInputFiles", nodeId=node, files=[str(attachment)])
        browser.submit("document.querySelector('#chat-text').value = 'Заявка передана в управу, вот схема';"
                       "document.querySelector('#chat-form').submit();")
        assert "Заявка передана в управу" in browser.text()
        browser.screenshot(str(tmp_path / "answered.png"))

    detail = person.call("GET", f"/requests/{created['id']}").get_json()
    [message] = [m for m in detail["messages"] if m["author"] == "staff"]
    assert message["text"] == "Заявка передана в управу, вот схема"
    [file] = message["attachments"]
    assert file["filename"] == "схема.pdf" and file["uploaded_by"] == "staff"
    download = person.call("GET", f"/requests/{created['id']}/attachments/{file['id']}")
    assert download.status_code == 200 and download.data == PDF
