"""The back office's customer cards: who sees them, what they show, ending sessions."""
from sqlalchemy import select

from app.extensions import db
from app.models.customers import Customer, SecurityEvent
from tests.support.customers import AUTH, bearer, register
from tests.test_admin_screens import body, sign_in


def customer_id(app, phone):
    with app.app_context():
        return db.session.execute(select(Customer.id).where(Customer.phone == phone)).scalar_one()


def test_operators_find_a_customer_and_see_the_card_without_secrets(app):
    phone, tokens = register(app, full_name="Соколова Вера Ильинична")
    app.test_client().post("/api/v1/client/devices/", json={"name": "iPhone", "platform": "ios", "pin": "2580"},
                           headers=bearer(tokens))
    client = sign_in(app, "operator")
    found = body(client.get(f"/customers/list/?_flt_2_phone={phone[2:]}"))
    assert "Соколова Вера Ильинична" in found and phone in found
    card = client.get(f"/customers/show/{customer_id(app, phone)}")
    assert card.status_code == 200
    page = card.get_data(as_text=True)
    assert "Сеансы" in page and "Устройства" in page and "Журнал безопасности" in page
    assert "iPhone" in page and "registered" in page
    assert "scrypt" not in page and "password_hash" not in page and "pin_hash" not in page
    assert "Завершить все сеансы клиента" in page


def test_an_operator_ends_a_customers_sessions(app):
    phone, tokens = register(app)
    client = sign_in(app, "operator")
    ended = client.post(f"/customers/end-sessions/{customer_id(app, phone)}")
    assert ended.status_code == 302
    assert app.test_client().get(f"{AUTH}/sessions", headers=bearer(tokens)).status_code == 401
    with app.app_context():
        event = db.session.execute(select(SecurityEvent).where(
            SecurityEvent.customer_id == customer_id(app, phone), SecurityEvent.kind == "sessions_ended_by_staff")
        ).scalar_one()
        assert event.details == {"actor": "operator", "sessions": 1}


def test_who_reaches_customers(app):
    phone, _tokens = register(app)
    pk = customer_id(app, phone)
    billing = sign_in(app, "billing")
    assert billing.get(f"/customers/show/{pk}").status_code == 200
    page = body(billing.get(f"/customers/show/{pk}"))
    assert "Завершить все сеансы клиента" not in page
    assert billing.post(f"/customers/end-sessions/{pk}").status_code in (302, 403)
    assert app.test_client().get(f"{AUTH}/sessions", headers=bearer(_tokens)).status_code == 200
    for username in ("technician", "dispatcher", "contenteditor"):
        denied = sign_in(app, username).get("/customers/list/")
        assert denied.status_code in (302, 403), username
    # nothing can be added or edited from the back office
    admin = sign_in(app, "admin")
    assert admin.get("/customers/add").status_code in (302, 403, 404)
    assert admin.get(f"/customers/edit/{pk}").status_code in (302, 403, 404)
    assert admin.post(f"/customers/delete/{pk}").status_code in (302, 403, 404, 405)
    assert customer_id(app, phone) == pk
