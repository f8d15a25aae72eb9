"""The public status check of a request by its number (PR-9): no sign-in, nothing but the
status, a mistyped number refused before any lookup, and a per-IP limit."""
from app.extensions import db
from app.models.requests import ServiceRequest
from app.services import request_numbers
from tests.conftest import build_app
from tests.test_client_requests import Person, draft, submitted

PUBLIC = "/api/v1/public/requests"


def test_anyone_with_the_number_sees_only_the_status(app):
    body = submitted(app, Person(app))
    response = app.test_client().get(f"{PUBLIC}/{body['number']}")
    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()) == {"number", "status", "updated_at"}
    assert response.get_json()["number"] == body["number"] and response.get_json()["status"] == "in_progress"
    # typed in lower case with spaces, as a person might, or read from the printed code
    assert app.test_client().get(f"{PUBLIC}/%20{body['number'].lower()}%20").status_code == 200


def test_office_filed_requests_are_found_and_drafts_are_not(app):
    person = Person(app)
    created = draft(person)
    assert app.test_client().get(f"{PUBLIC}/{created['number']}").status_code == 404
    with app.app_context():
        office = ServiceRequest(type="meter_verification", status="in_progress", filed_in_office=True, form_data={})
        db.session.add(office)
        db.session.flush()
        office.number = request_numbers.make(2026, office.id)
        db.session.commit()
        number = office.number
        db.session.remove()
    found = app.test_client().get(f"{PUBLIC}/{number}")
    assert found.status_code == 200 and found.get_json()["status"] == "in_progress"


def test_a_mistyped_number_is_refused_without_a_lookup_and_an_unknown_one_is_404(app, monkeypatch):
    good = request_numbers.make(2026, 987654321)
    wrong_digit = good[:-1] + str((int(good[-1]) + 1) % 10)
    swapped = good[:8] + good[9] + good[8] + good[10:]
    assert good != swapped

    def no_lookup(*args, **kwargs):
        raise AssertionError("looked up a malformed number")

    client = app.test_client()
    with monkeypatch.context() as patch:
        patch.setattr(db.session, "execute", no_lookup)
        for typed in (wrong_digit, swapped, "KB-2026-12-1", "ЗВ-2026-000123-3", "123"):
            response = client.get(f"{PUBLIC}/{typed}", headers={"Accept-Language": "en"})
            assert response.status_code == 422, typed
            assert response.get_json()["error"]["fields"] == {
                "number": ["The request number is mistyped: check it (like KB-2026-000123-3)."]}
    unknown = client.get(f"{PUBLIC}/{good}")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "request_not_found"


def test_checks_are_limited_per_ip(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'status-limit.db'}", REQUEST_STATUS_LIMIT_PER_IP="3 per minute")
    client = app.test_client()
    number = request_numbers.make(2026, 1)
    assert [client.get(f"{PUBLIC}/{number}").status_code for _ in range(3)] == [404, 404, 404]
    refused = client.get(f"{PUBLIC}/{number}")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert client.get(f"{PUBLIC}/{number}", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 404
