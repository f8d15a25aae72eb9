"""PR-12 contact-data change notice: the customer tells the customer service centre that their
phone, email, postal address or name changed, for one or more of their accounts; the process
``contact_change`` gives an operator the task of updating the billing's contact data (the
billing system is the master of that data, Kabinet only passes the notice on)."""
from .. import account_access, phones
from . import RequestType, base_data, register

LABELS = {"phone": "Телефон", "email": "Email", "postal_address": "Почтовый адрес", "full_name": "ФИО"}
MAX_ACCOUNTS = 20


def _process_data(req, customer):
    form = req.form_data
    changes = {name: value.strip() for name, value in form["changes"].items()}
    if "phone" in changes:
        changes["phone"] = phones.normalise(changes["phone"], field="form_data.changes.phone")
    links = [account_access.link(customer.id, account_id) for account_id in form["account_ids"]]
    req.account_id = links[0].account_id
    accounts = [f"{link.account.number} ({link.account.address})" for link in links]
    lines = [f"{LABELS[name]}: {value}" for name, value in changes.items()]
    return {**base_data(req, customer), "changes": changes, "accounts": accounts,
            "summary": "; ".join(lines) + ". Лицевые счета: " + ", ".join(accounts),
            "comment": form.get("comment", ""), "update_note": ""}


register(RequestType(
    key="contact_change",
    process_key="contact_change",
    titles={"ru": "Изменение контактных данных", "en": "Contact data change"},
    schema={
        "type": "object",
        "required": ["changes", "account_ids"],
        "additionalProperties": False,
        "properties": {
            "changes": {
                "type": "object", "title": "Что изменилось", "minProperties": 1, "additionalProperties": False,
                "properties": {
                    "phone": {"type": "string", "maxLength": 32, "title": LABELS["phone"]},
                    "email": {"type": "string", "maxLength": 254, "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                              "title": LABELS["email"]},
                    "postal_address": {"type": "string", "minLength": 5, "maxLength": 300, "pattern": r"\S",
                                       "title": LABELS["postal_address"]},
                    "full_name": {"type": "string", "minLength": 2, "maxLength": 200, "pattern": r"\S",
                                  "title": LABELS["full_name"]},
                },
            },
            "account_ids": {"type": "array", "title": "Лицевые счета", "minItems": 1, "maxItems": MAX_ACCOUNTS,
                            "uniqueItems": True, "items": {"type": "integer", "minimum": 1}},
            "comment": {"type": "string", "maxLength": 1000, "title": "Комментарий"},
        },
    },
    process_data=_process_data,
    office=False,
))
