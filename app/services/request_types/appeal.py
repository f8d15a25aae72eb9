"""PR-6 appeals: a question or complaint on a topic (or "other" in the customer's words) with
text, optional account, address and geolocation, and files attached to the request. The process
``appeal`` emails the number, an operator answers (the answer lands in the request's chat through
``request.post_answer``) and the request is completed; unanswered by the statutory deadline it
escalates to an administrator.
"""
from sqlalchemy import select

from ...extensions import db
from ...models.appeals import RequestAnswer
from ...models.requests import FINAL_STATUSES, RequestMessage, ServiceRequest
from ...models.workflow import HumanTask
from ...workflows.service_tasks import PermanentFailure, handler
from .. import account_access, appeal_topics
from . import RequestType, base_data, register

TEXT_MAX = 4000  # the chat's limit: the appeal reads like its first message
ANSWER_MAX = 4000

# Shared with the callback order (PR-8): the same topics, the same "other".
TOPIC_PROPERTIES = {
    "topic_id": {"type": "integer", "minimum": 1, "title": "Тема",
                 "description": "GET /api/v1/client/appeal-topics; omit for «Другое»"},
    "other_topic": {"type": "string", "maxLength": appeal_topics.OTHER_TOPIC_MAX, "title": "Тема своими словами",
                    "description": "required when topic_id is omitted («Другое»)"},
}


def _geolocation(value):
    """Only latitude and longitude: the form check does not name unknown nested fields."""
    return {"lat": value["lat"], "lon": value["lon"]} if value else None


def _process_data(req, customer):
    form = req.form_data
    topic = appeal_topics.resolve(form)
    if customer is not None and form.get("account_id") is not None:
        req.account_id = account_access.link(customer.id, form["account_id"]).account_id
    return {**base_data(req, customer), **topic, "text": form["text"].strip(), "address": form.get("address", ""),
            "geolocation": _geolocation(form.get("geolocation"))}


register(RequestType(
    key="appeal",
    process_key="appeal",
    titles={"ru": "Обращение", "en": "Appeal"},
    schema={
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {
            **TOPIC_PROPERTIES,
            "text": {"type": "string", "minLength": 1, "maxLength": TEXT_MAX, "pattern": r"\S",
                     "title": "Текст обращения"},
            "account_id": {"type": "integer", "minimum": 1, "title": "Лицевой счёт"},
            "address": {"type": "string", "maxLength": 300, "title": "Адрес"},
            "geolocation": {
                "type": "object", "title": "Геопозиция", "required": ["lat", "lon"], "additionalProperties": False,
                "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90, "title": "Широта"},
                               "lon": {"type": "number", "minimum": -180, "maximum": 180, "title": "Долгота"}},
            },
        },
    },
    process_data=_process_data,
))


# --- the answer, posted by the process ----------------------------------------------------------

def post_answer(business_key, text, job_id, instance_id):
    """Post ``text`` into the request's chat as a staff message signed by whoever completed the
    instance's last staff task; once per job. A request the customer closed meanwhile gets nothing."""
    done = db.session.execute(select(RequestAnswer).where(RequestAnswer.job_id == job_id)).scalar_one_or_none()
    if done is not None:
        return {"request_id": done.request_id, "message_id": done.message_id, "repeated": True}
    req = db.session.execute(select(ServiceRequest).where(ServiceRequest.number == business_key)).scalar_one_or_none()
    if req is None:
        raise LookupError(f"no service request numbered {business_key!r}")
    if req.status in FINAL_STATUSES:
        return {"request_id": req.id, "status": req.status, "ignored": True}
    author = db.session.execute(
        select(HumanTask.completed_by).where(HumanTask.instance_id == instance_id, HumanTask.for_customer.is_(False),
                                             HumanTask.status == "completed")
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(1)
    ).scalar_one_or_none()
    message = RequestMessage(request_id=req.id, author_kind="staff", staff_username=author, text=text)
    db.session.add(message)
    db.session.flush()
    db.session.add(RequestAnswer(job_id=job_id, request_id=req.id, message_id=message.id))
    db.session.flush()
    return {"request_id": req.id, "message_id": message.id}


@handler("request.post_answer")
def post_answer_task(params, context):
    """Service task: ``text`` (1–4000 characters) becomes a staff message in the request's chat."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > ANSWER_MAX:
        raise PermanentFailure(f"parameter 'text' must be 1 to {ANSWER_MAX} characters")
    try:
        return post_answer(context.business_key, text.strip(), context.job_id, context.instance_id)
    except LookupError as exc:
        raise PermanentFailure(str(exc)) from None
