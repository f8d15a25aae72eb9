"""The sandbox provider's hosted payment page: /sandbox-pay/<token> (docs/payments.md).

It plays the bank's page: shows the amount and purpose, takes a test card, sends the signed
callback to Kabinet and sends the browser back to the app's return URL. The card number is
used to pick the outcome and dropped: never stored, never logged.
"""
import re

from flask import Blueprint, redirect, render_template, request

from ..services.payment_providers import sandbox

blueprint = Blueprint("sandbox_payments", __name__)
_EXPIRES = re.compile(r"^(0[1-9]|1[0-2])/(\d{2})$")
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(page, status=200, error=None):
    return render_template("sandbox_payments/pay.html", page=page, error=error,
                           test_cards=(sandbox.CARD_SUCCEEDS, sandbox.CARD_DECLINED)), status, _HEADERS


@blueprint.route("/sandbox-pay/<path:token>", methods=["GET", "POST"])
def pay(token):
    page = sandbox.load_page(token)
    if page is None:
        return _page(None, 404)
    if request.method == "GET":
        return _page(page)
    number = re.sub(r"[\s-]", "", request.form.get("card_number", ""))
    expires = request.form.get("expires", "").strip()
    if number not in (sandbox.CARD_SUCCEEDS, sandbox.CARD_DECLINED):
        return _page(page, 422, "Это тестовая страница: используйте одну из тестовых карт ниже.")
    if not _EXPIRES.match(expires) or not re.fullmatch(r"\d{3}", request.form.get("cvc", "").strip()):
        return _page(page, 422, "Укажите срок действия в виде ММ/ГГ и трёхзначный код CVC.")
    sandbox.send_callback(sandbox.callback_event(page, number, expires))
    return redirect(page["return_url"] or "/", code=303)
