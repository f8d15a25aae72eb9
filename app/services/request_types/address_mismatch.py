""""This is not my address" (ID-2, issue 4): the address an account shows is not the one the
person lives at. Filed two ways:

* during registration by bill, before the person has an account in Kabinet —
  :func:`file_for_registration` (``registration_by_bill.not_my_address``) files it with their
  contact details and no customer, like an office walk-in, and starts the process at once; they
  follow it by its number (the public status check, PR-9) and, once they register by bill with
  the same phone (proved by its code), in their own list (:func:`adopt`);
* by a signed-in customer for one of their linked accounts, as any other request (not in an
  office: staff would simply correct the address).

The process ``address_mismatch`` gives an operator the task "check the account's address".
"""
from sqlalchemy import select

from ...extensions import db
from ...models.accounts import Account
from ...models.requests import DONE_STATUSES, ServiceRequest
from .. import account_access
from . import RequestType, base_data, register

KEY = "address_mismatch"


def _process_data(req, customer):
    if customer is not None:
        req.account_id = account_access.link(customer.id, req.form_data["account_id"]).account_id
    account = db.session.get(Account, req.account_id)
    return {**base_data(req, customer), "account_number": account.number, "account_address": account.address,
            "supplier": account.supplier.name, "comment": req.form_data.get("comment", ""), "check_note": ""}


register(RequestType(
    key=KEY,
    process_key=KEY,
    titles={"ru": "Адрес лицевого счёта указан неверно", "en": "The account's address is wrong"},
    schema={
        "type": "object",
        "required": ["account_id"],
        "additionalProperties": False,
        "properties": {
            "account_id": {"type": "integer", "minimum": 1, "title": "Лицевой счёт"},
            "comment": {"type": "string", "maxLength": 1000, "title": "Какой адрес верный"},
        },
    },
    process_data=_process_data,
    office=False,
))


def file_for_registration(account, phone, comment, full_name, email, ticket_id):
    """File and start the request for a person registering by bill; once per ticket (the same
    ticket again answers the request filed first). The process starts in this transaction:
    if it cannot, nothing is filed."""
    if db.engine.dialect.name == "postgresql":  # two clicks at once file one request
        db.session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
    filed = db.session.execute(
        select(ServiceRequest).where(ServiceRequest.type == KEY, ServiceRequest.account_id == account.id,
                                     ServiceRequest.customer_id.is_(None))
    ).scalars().all()
    for req in filed:
        if req.form_data.get("ticket") == ticket_id:
            db.session.commit()  # ends the lock
            return req
    form = {"name": full_name or "", "phone": phone, "email": email or "", "comment": comment or "",
            "ticket": ticket_id}
    from ..service_requests import file_submitted  # that module imports this package

    return file_submitted(KEY, form, None, "registration", "customer", account_id=account.id,
                          note="Регистрация по квитанции: «это не мой адрес»")


def adopt(customer):
    """Give a newly registered customer the open reports filed from their phone before they had
    an account: the registration's code proved the phone is theirs."""
    found = db.session.execute(
        select(ServiceRequest).where(ServiceRequest.type == KEY, ServiceRequest.customer_id.is_(None),
                                     ServiceRequest.filed_in_office.is_(False),
                                     ServiceRequest.status.not_in(DONE_STATUSES))
    ).scalars().all()
    mine = [req for req in found if req.form_data.get("phone") == customer.phone]
    for req in mine:
        req.customer_id = customer.id
    return mine
