"""Driving a paid request (PR-4, PR-5) end to end as its people would: the customer through the
client API, staff through /api/v1/tasks, the payment through the payments API and the
provider's signed callback."""
import uuid

from app.extensions import db
from app.models.requests import ServiceRequest
from app.workflows import jobs
from tests.test_client_payments import succeed


def instance_of(app, request_id):
    with app.app_context():
        instance_id = db.session.get(ServiceRequest, request_id).process_instance_id
        db.session.remove()
    return instance_id


def settle(app, request_id):
    """Wait for the service tasks (status, documents, invoices) the last step set off."""
    instance_id = instance_of(app, request_id)
    with app.app_context():
        assert jobs.wait_for_jobs(instance_id), "service jobs did not finish"
        db.session.remove()


def file_request(person, kind, form):
    """A draft of ``kind``; returns its id (not yet submitted)."""
    response = person.call("POST", "/requests/", json={"type": kind, "form_data": form})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def submit(app, person, request_id):
    response = person.call("POST", f"/requests/{request_id}/submit")
    assert response.status_code == 200, response.get_json()
    settle(app, request_id)
    return response.get_json()


def detail(person, request_id):
    response = person.call("GET", f"/requests/{request_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def staff_tasks(api, username, app, request_id):
    """The open tasks of the request's process ``username`` sees in the inbox."""
    instance_id = instance_of(app, request_id)
    found = api(username).get("/api/v1/tasks/?page_size=100").get_json()["result"]
    return [t for t in found if t["instance_id"] == instance_id]


def complete_staff_task(api, username, app, request_id, data, name=None):
    (task,) = [t for t in staff_tasks(api, username, app, request_id) if name is None or t["name"] == name]
    response = api(username).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    if response.status_code == 200:
        settle(app, request_id)
    return response


def pay_invoice(app, person, invoice_id):
    """Pay an invoice through the payments API and confirm it with the provider's callback."""
    paying = person.call("POST", "/payments", {"consent": True, "items": [{"invoice_id": invoice_id}]},
                         key=uuid.uuid4().hex)
    assert paying.status_code == 201, paying.get_json()
    succeed(app, paying.get_json()["id"])


def open_invoices(person):
    return [i for i in person.call("GET", "/invoices").get_json()["result"] if i["status"] == "open"]


def error(response):
    return response.status_code, response.get_json()["error"]["code"]
