"""Error codes of bills, bill emails and e-bills, in Russian and English."""
from ..errors import register_messages

register_messages({
    "bill_not_found": ("Квитанция не найдена среди квитанций ваших лицевых счетов.",
                       "The bill is not among the bills of your accounts."),
    "email_unconfirmed": ("Нужен подтверждённый адрес email: укажите и подтвердите его в профиле.",
                          "A confirmed email address is needed: set and confirm it in your profile."),
    "bill_email_limit": ("Слишком много писем с квитанциями: повторите через {retry_after} с.",
                         "Too many bill emails: try again in {retry_after} s."),
})
