"""PR-7 SMS informing for a security object: the customer names the object's account, the phone
that gets its events and the start date. Submitting adds the pending subscription
(services/subscriptions.py); the process ``security_sms`` has a manager activate it, and its
service task ``security_sms.settle`` makes it active (or drops it when refused)."""
from datetime import date

from ...errors import Invalid
from ...workflows.service_tasks import PermanentFailure, handler
from .. import periods, phones, subscriptions
from . import RequestType, base_data, register


def _process_data(req, customer):
    form = req.form_data
    phone = phones.normalise(form["phone"], field="phone")
    try:
        starts_on = date.fromisoformat(form["starts_on"])
    except ValueError:
        raise Invalid(fields={"starts_on": ["request_field_invalid"]}) from None
    if starts_on < periods.local_today():
        raise Invalid(fields={"starts_on": ["subscription_start_past"]})
    account = subscriptions.add_pending_security_sms(req, customer, form["account_id"], phone, starts_on)
    req.account_id = account.id
    return {**base_data(req, customer), "account_number": account.number, "object_address": account.address,
            "sms_phone": phone, "starts_on": starts_on.isoformat(), "comment": form.get("comment", "")}


@handler("security_sms.settle")
def settle(params, context):
    """The manager's decision (``activated``: bool) applied to the request's subscription."""
    if not isinstance(params.get("activated"), bool):
        raise PermanentFailure("parameter 'activated' must be true or false")
    return subscriptions.settle_security_sms(context.business_key, params["activated"])


def _on_close(req):
    # Looked up when called: subscriptions imports service_requests, which imports this package.
    subscriptions.drop_pending(req)


register(RequestType(
    key="security_sms",
    process_key="security_sms",
    titles={"ru": "SMS-информирование по охраняемому объекту", "en": "SMS informing for a security object"},
    schema={
        "type": "object",
        "required": ["account_id", "phone", "starts_on"],
        "additionalProperties": False,
        "properties": {
            "account_id": {"type": "integer", "minimum": 1, "title": "Лицевой счёт охраняемого объекта"},
            "phone": {"type": "string", "maxLength": 32, "title": "Телефон для SMS"},
            "starts_on": {"type": "string", "maxLength": 10, "title": "Дата начала (ГГГГ-ММ-ДД)"},
            "comment": {"type": "string", "maxLength": 1000, "title": "Комментарий"},
        },
    },
    process_data=_process_data,
    office=False,
    listed=False,
    on_close=_on_close,
))
