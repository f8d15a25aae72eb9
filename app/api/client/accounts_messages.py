"""Error codes of accounts and their links, in Russian and English."""
from ..errors import register_messages

register_messages({
    "account_not_found": ("Лицевой счёт не найден среди ваших счетов.", "The account is not among your accounts."),
    "account_unverified": (
        "Лицевой счёт {number} не подтверждён: укажите период и сумму одной из трёх последних квитанций.",
        "Account {number} is not verified: enter the period and amount of one of its last three bills."),
})
