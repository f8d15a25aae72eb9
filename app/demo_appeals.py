"""Demo appeals for `make run` (SPEC PR-6, PR-8): the topic list, and Мария's appeal already
answered in its chat, an appeal waiting for the operator's answer and a callback order for
tomorrow morning. DEMO ONLY.

Run after ``load_demo_requests`` (that one adds nothing once Мария has any request)."""
from datetime import timedelta

from sqlalchemy import select

from .demo_steps import settle_request
from .extensions import db
from .models.accounts import Account, CustomerAccount
from .models.appeals import AppealTopic
from .models.customers import Customer
from .models.requests import ServiceRequest
from .models.workflow import HumanTask
from .services import appeal_topics, periods, service_requests
from .workflows import tasks

OPERATOR = tasks.Worker("operator", ["Operator"])
# The migration seeds these; a database made otherwise gets them here.
TOPICS = [("Начисления и квитанции", "Charges and bills", 10), ("Оплата", "Payments", 20),
          ("Показания и приборы учёта", "Meter readings and meters", 30), ("Отключения", "Outages", 40),
          ("Качество электроснабжения", "Quality of supply", 50)]




def _topic(title):
    return db.session.execute(select(AppealTopic.id).where(AppealTopic.title == title)).scalar_one()


def _file(maria, kind, form):
    req = service_requests.create_draft(maria.id, kind, form)
    service_requests.submit(maria.id, req.id)
    settle_request(req)
    return req


def load_demo_appeals():
    appeal_topics.ensure(TOPICS)
    db.session.commit()
    maria = db.session.execute(select(Customer).where(Customer.phone == "+79161234567")).scalar_one_or_none()
    if maria is None:
        return "demo appeal topics (Мария is missing)"
    if db.session.execute(select(ServiceRequest.id).where(ServiceRequest.customer_id == maria.id,
                                                          ServiceRequest.type.in_(("appeal", "callback")))).first():
        return "demo appeals already present"
    answered = _file(maria, "appeal", {
        "topic_id": _topic("Начисления и квитанции"),
        "text": "В октябрьской квитанции начислено за 420 кВт·ч, хотя я передавала показания 310 кВт·ч. "
                "Прошу сделать перерасчёт."})
    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == answered.process_instance_id,
                                                      HumanTask.status == "open")).scalar_one()
    tasks.complete(task.id, OPERATOR, {"answer": "Здравствуйте, Мария Петровна! Показания 310 кВт·ч учтены, "
                                                 "перерасчёт на 110 кВт·ч будет в ноябрьской квитанции."})
    settle_request(answered)
    service_requests.rate(maria.id, answered.id, 5, "Быстро разобрались, спасибо")
    waiting = _file(maria, "appeal", {
        "other_topic": "Уличное освещение", "text": "Во дворе дома не горит фонарь у второго подъезда.",
        "address": "г. Москва, ул. Профсоюзная, д. 12", "geolocation": {"lat": 55.6812, "lon": 37.5632}})
    tomorrow = periods.local_today() + timedelta(days=1)
    callback = _file(maria, "callback", {"topic_id": _topic("Оплата"), "date": tomorrow.isoformat(),
                                         "time_from": "10:00", "time_to": "12:00",
                                         "comment": "Вопрос по оплате за два месяца сразу"})
    # the two ways a request ends other than done: refused by staff, closed by the customer
    account_id = _maria_account(maria)
    refused = _file(maria, "contact_change", {"changes": {"postal_address": "Москва, а/я 17"},
                                             "account_ids": [account_id]})
    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == refused.process_instance_id,
                                                      HumanTask.status == "open")).scalar_one()
    tasks.complete(task.id, OPERATOR, {"updated": False,
                                       "update_note": "Абонентский ящик не принимается: укажите адрес проживания"})
    settle_request(refused)
    withdrawn = _file(maria, "callback", {"topic_id": _topic("Отключения"), "date": tomorrow.isoformat(),
                                          "time_from": "18:00", "time_to": "20:00"})
    service_requests.close(maria.id, withdrawn.id, "Вопрос решился сам")
    return (f"demo appeals: {answered.number} (answered, rated), {waiting.number} (waiting for the operator), "
            f"callback {callback.number}, contact change {refused.number} (rejected), "
            f"callback {withdrawn.number} (closed by Мария)")


def _maria_account(maria):
    return db.session.execute(select(Account.id).join(CustomerAccount, CustomerAccount.account_id == Account.id)
                              .where(CustomerAccount.customer_id == maria.id, Account.number == "7712345678")
                              ).scalar_one()
