"""Demo support chats for `make run` (PR-11): a guest waiting for an answer and one of Мария's
chats that an operator has answered. The guest's token is fixed so the public API can be tried
with it (docs/processes/support-chat.md). DEMO ONLY."""
from sqlalchemy import select

from .extensions import db
from .models.customers import Customer
from .models.requests import ServiceRequest
from .services import secrets, support_chat

DEMO_GUEST_TOKEN = "demo-guest-support-chat-token"


def load_demo_support_chat():
    maria = db.session.execute(select(Customer).where(Customer.phone == "+79161234567")).scalar_one_or_none()
    if maria is None:
        return "no demo support chats (Мария is missing)"
    if db.session.execute(select(ServiceRequest.id).where(ServiceRequest.customer_id == maria.id,
                                                          ServiceRequest.type == support_chat.KIND).limit(1)).first():
        return "demo support chats already present"
    guest = support_chat.open_chat(None, {
        "topic": "outage", "name": "Ольга", "phone": "+79035550101",
        "text": "Здравствуйте! На улице Лесной нет света с утра. Когда включат?"}, "guest",
        guest_token_hash=secrets.keyed_hash(support_chat.TOKEN_PURPOSE, DEMO_GUEST_TOKEN))
    answered = support_chat.open_chat(maria, {"topic": "bills", "text": "Почему в ноябрьском счёте выросла сумма?"},
                                      f"customer:{maria.id}")
    support_chat.staff_answer(answered.id, "operator",
                              "Мария Петровна, в ноябре начислено по показаниям за два месяца: октябрьские "
                              "не были переданы. Подробности — в разделе «Счета».")
    return (f"demo support chats: guest chat {guest.id} waiting (token {DEMO_GUEST_TOKEN}), "
            f"Мария's chat {answered.id} answered")
