"""A real browser (headless Chromium, CSRF on as in production) on two billing pages:

* the sandbox provider's hosted page ``/sandbox-pay/<token>``: a customer opens a payment through
  the client API of a live server, types a test card in Chromium, comes back to the return URL,
  and the sandbox's real HTTP callback to the same live server settles the payment;
* the staff's Обмен с биллингом (``/billing/exchange/``): the billing user uploads the sample
  suppliers and accounts files, sees the created counts, uploads the accounts again and sees
  everything unchanged.
"""
import os
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.extensions import db
from app.models.accounts import Account, ImportBatch, Supplier
from tests.conftest import PASSWORD, build_app
from tests.support.cards import make_linked_account
from tests.support.customers import CLIENT
from tests.support.chromium import CHROMIUM, Chromium
from tests.support.customers import bearer, register

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (make browser-deps installs it)")

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "samples")
RETURN_PATH = "/_test/back-in-the-app"


def _returned_page(app):
    """The app: plus the page the customer's app would show on return (a stand-in for the
    mobile app's deep link, which a browser cannot open)."""
    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == RETURN_PATH:
            body = "<!doctype html><html lang=ru><meta charset=utf-8><title>Приложение</title>" \
                   "<h1 id=returned>Вы вернулись в приложение</h1>"
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [body.encode()]
        return app(environ, start_response)
    return wsgi


@pytest.fixture
def served(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'browser-billing.db'}", WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, _returned_page(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    # The sandbox's callback is a real HTTP POST: to this live server.
    app.config["PAYMENT_CALLBACK_BASE_URL"] = base
    try:
        yield app, base
    finally:
        server.shutdown()
        thread.join()


def _png(path):
    with open(path, "rb") as shot:
        data = shot.read()
    assert len(data) > 1000 and data.startswith(b"\x89PNG\r\n\x1a\n"), f"{path} is not a PNG"


# --- the sandbox's hosted page ---------------------------------------------------------------------

class Customer:
    """Registered through the client API; pays through the live server over HTTP."""

    def __init__(self, app, base):
        self.base = base
        _phone, tokens = register(app)
        self.id = tokens["customer"]["id"]
        self.headers = bearer(tokens)

    def open_payment(self, account_id, amount):
        answer = requests.post(
            f"{self.base}{CLIENT}/payments", timeout=15,
            headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex, "Accept-Language": "ru"},
            json={"consent": True, "items": [{"account_id": account_id, "amount": amount}],
                  "return_url": f"{self.base}{RETURN_PATH}?from=sandbox"})
        assert answer.status_code == 201, answer.text
        return answer.json()

    def payment(self, payment_id):
        answer = requests.get(f"{self.base}{CLIENT}/payments/{payment_id}", headers=self.headers, timeout=15)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def settled(self, payment_id, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.payment(payment_id)
            if current["status"] not in ("created", "pending"):
                return current
            time.sleep(0.1)
        raise AssertionError(f"payment {payment_id} still {current['status']} after {timeout} s")


def type_into(browser, selector, text):
    """Focus the field and type ``text`` as keyboard input (input events fire as for a person)."""
    browser.evaluate(f"document.querySelector({selector!r}).value = ''; document.querySelector({selector!r}).focus()")
    browser.call("Input.insertText", text=text)
    assert browser.evaluate(f"document.querySelector({selector!r}).value") == text


def fill_card(browser, number, expires="12/30", cvc="123"):
    type_into(browser, "#card_number", number)
    type_into(browser, "#expires", expires)
    type_into(browser, "#cvc", cvc)


def open_hosted_page(browser, base, opened):
    url = opened["confirmation_url"]
    assert url.startswith(f"{base}/sandbox-pay/"), url  # the live server's own page
    browser.goto(url)
    page = browser.text()
    assert "Тестовый режим" in page and "Оплата счетов" in page
    assert browser.evaluate("document.querySelector('.amount').dataset.amount") == opened["amount"]
    assert browser.evaluate("document.querySelector('button[type=submit]').innerText") == f"Оплатить {opened['amount']} ₽"


def test_a_customer_pays_with_the_success_card_on_the_hosted_page(served, tmp_path):
    app, base = served
    customer = Customer(app, base)
    account_id = make_linked_account(app, customer.id, due="1000.00")
    opened = customer.open_payment(account_id, "321.09")
    assert opened["status"] == "pending" and opened["amount"] == "321.09"

    with Chromium() as browser:
        open_hosted_page(browser, base, opened)
        fill_card(browser, "4242 4242 4242 4242")
        shot = browser.screenshot(str(tmp_path / "sandbox-filled-success.png"))
        browser.submit("document.querySelector('button[type=submit]').click()")
        assert browser.url() == f"{base}{RETURN_PATH}?from=sandbox"
        assert "Вы вернулись в приложение" in browser.text()
    _png(shot)

    final = customer.settled(opened["id"])
    assert final["status"] == "succeeded", final
    assert final["failure_reason"] is None and final["confirmed_at"]


def test_the_decline_card_fails_the_payment(served, tmp_path):
    app, base = served
    customer = Customer(app, base)
    account_id = make_linked_account(app, customer.id, due="1000.00")
    opened = customer.open_payment(account_id, "150.00")

    with Chromium() as browser:
        open_hosted_page(browser, base, opened)
        # a card that is not one of the test cards is refused on the page, nothing is sent
        fill_card(browser, "5555 5555 5555 4444")
        browser.submit("document.querySelector('button[type=submit]').click()")
        assert browser.url() == opened["confirmation_url"]
        alert = browser.evaluate("document.querySelector('[role=alert]') && document.querySelector('[role=alert]').innerText")
        assert alert and "тестовых карт" in alert
        assert browser.evaluate("document.querySelector('#card_number').value") == ""  # not echoed back
        assert customer.payment(opened["id"])["status"] == "pending"

        fill_card(browser, "4000 0000 0000 0002")
        shot = browser.screenshot(str(tmp_path / "sandbox-filled-decline.png"))
        browser.submit("document.querySelector('button[type=submit]').click()")
        # the sandbox sends the browser back to the app whatever the outcome; the app learns it from the API
        assert browser.url() == f"{base}{RETURN_PATH}?from=sandbox"
    _png(shot)

    final = customer.settled(opened["id"])
    assert final["status"] == "failed", final
    assert final["failure_reason"] == "card_declined" and final["confirmed_at"] is None


# --- Обмен с биллингом -----------------------------------------------------------------------------

def sign_in(browser, base, username):
    browser.goto(f"{base}/login/")
    browser.submit(
        f"document.querySelector('#username').value = '{username}';"
        f"document.querySelector('#password').value = '{PASSWORD}';"
        "document.querySelector('form').submit();"
    )


def upload(browser, base, kind, filename):
    """Choose the kind and the file on the exchange page and submit; returns the result page's stats."""
    browser.goto(f"{base}/billing/exchange/")
    assert browser.evaluate("document.querySelector('#import-form') !== null"), browser.text()[:500]
    browser.evaluate(f"document.querySelector('#kind').value = {kind!r}")
    root = browser.call("DOM.getDocument", depth=0)["root"]["nodeId"]
    node = browser.call("DOM.querySelector", nodeId=root, selector="#file")["nodeId"]
    browser.call("DOM.setFileInputFiles", nodeId=node, files=[os.path.join(SAMPLES, filename)])
    assert browser.evaluate("document.querySelector('#file').files[0].name") == filename
    browser.submit("document.querySelector('#import-form button[type=submit]').click()")
    assert "/billing/exchange/batch/" in browser.url(), browser.text()[:500]
    return browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#batch-stats td')]"
        ".map(td => [td.className.replace('stat-', ''), td.innerText.trim()]))")


def sample_accounts(app):
    with app.app_context():
        count = db.session.execute(
            select(func.count()).select_from(Account).join(Supplier)
            .where(Supplier.code.in_(("sample-energo", "sample-okhrana")))).scalar()
        batches = db.session.execute(select(ImportBatch.kind, ImportBatch.status, ImportBatch.started_by)
                                     .order_by(ImportBatch.id)).all()
        db.session.remove()
        return count, [tuple(row) for row in batches]


def test_billing_uploads_the_sample_files_and_a_second_upload_changes_nothing(served, tmp_path):
    app, base = served
    with Chromium() as browser:
        sign_in(browser, base, "billing")

        suppliers = upload(browser, base, "suppliers", "suppliers.csv")
        assert suppliers["created"] == "2", suppliers
        assert "выполнен" in browser.text()

        first = upload(browser, base, "accounts", "accounts.csv")
        page = browser.text()
        assert "Лицевые счета" in page and "выполнен" in page and "accounts.csv" in page
        assert "Файл загружен: лицевые счета." in page
        assert (first["rows"], first["created"], first["updated"], first["unchanged"]) == ("3", "3", "0", "0"), first
        browser.screenshot(str(tmp_path / "exchange-first.png"))

        again = upload(browser, base, "accounts", "accounts.csv")
        assert "выполнен" in browser.text()
        assert (again["rows"], again["created"], again["updated"], again["unchanged"]) == ("3", "0", "0", "3"), again
        shot = browser.screenshot(str(tmp_path / "exchange-again.png"))

        # the list of runs, newest first, with their results
        browser.goto(f"{base}/billing/exchange/")
        runs = browser.evaluate("[...document.querySelectorAll('#batches tbody tr')].map(tr => tr.innerText)")
        assert len(runs) == 3, runs
        assert "без изменений: 3" in runs[0] and "accounts.csv" in runs[0]
        assert "создано: 3" in runs[1] and "создано: 2" in runs[2]
    _png(shot)

    count, batches = sample_accounts(app)
    assert count == 3
    assert batches == [("suppliers", "done", "billing"), ("accounts", "done", "billing"), ("accounts", "done", "billing")]
