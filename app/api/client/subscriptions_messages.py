"""Error codes of subscriptions (SPEC PR-7), in Russian and English."""
from ..errors import register_messages

register_messages({
    "subscription_not_found": ("Подписка не найдена.", "The subscription was not found."),
    "subscription_exists": ("Такая подписка уже есть.", "You already have this subscription."),
    "subscription_kind_invalid": ("Вид подписки: outage, ebill или security_sms.",
                                  "The kind is outage, ebill or security_sms."),
    "subscription_channel_invalid": ("Канал: sms, push или email.", "The channel is sms, push or email."),
    "subscription_target_required": ("Укажите лицевой счёт или адрес.", "Give an account or an address."),
    "subscription_address_invalid": ("Адрес — от {min} до {max} символов.",
                                      "The address must be {min} to {max} characters."),
    "subscription_not_security": ("SMS-информирование — только для лицевых счетов охраны.",
                                  "SMS informing is only for security accounts."),
    "subscription_start_past": ("Дата начала не может быть в прошлом.", "The start date cannot be in the past."),
})
