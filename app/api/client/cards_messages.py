"""Error codes of saved cards (BL-5), in Russian and English."""
from ..errors import register_messages

register_messages({
    "card_not_found": ("Карта не найдена среди ваших карт.", "The card is not among your cards."),
    "card_limit": ("Можно сохранить не больше {limit} карт: удалите ненужную.",
                   "At most {limit} cards can be saved: delete one you no longer use."),
    "card_not_active": ("Карта ещё не подтверждена или не прошла проверку.",
                        "The card has not been confirmed yet or failed its check."),
})
