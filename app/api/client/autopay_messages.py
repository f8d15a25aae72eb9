"""Error codes of autopay (BL-6), in Russian and English."""
from ..errors import register_messages

register_messages({
    "autopay_not_found": ("Автоплатёж не найден среди ваших.", "The autopay is not among yours."),
    "autopay_exists": ("Для этого лицевого счёта автоплатёж уже подключён.",
                       "This account already has an active autopay."),
    "autopay_cancelled": ("Автоплатёж уже отключён.", "The autopay is already cancelled."),
    "autopay_amount_invalid": ("Сумма: от 0,01 до 1 000 000 руб., не больше двух знаков после запятой.",
                               "The amount must be 0.01 to 1,000,000 roubles with at most two decimals."),
    "autopay_consent_required": ("Нужно согласие с условиями автоплатежа.",
                                 "Consent to the autopay terms is required."),
})
