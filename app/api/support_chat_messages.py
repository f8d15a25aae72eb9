"""Error codes of the support chat (PR-11), in Russian and English."""
from .errors import register_messages

register_messages({
    "support_chat_not_found": ("Чат не найден.", "The chat was not found."),
    "support_chat_closed": ("Чат {number} закрыт.", "Chat {number} is closed."),
    "support_chat_message_empty": ("Напишите сообщение.", "Write a message."),
    "support_chat_message_too_long": ("Сообщение — не длиннее {max} символов.",
                                      "The message must be at most {max} characters."),
    "support_chat_topic_unknown": ("Такой темы нет: выберите из списка.", "No such topic: pick one from the list."),
    "support_chat_name_too_long": ("Имя — не длиннее {max} символов.", "The name must be at most {max} characters."),
    "support_chat_email_invalid": ("Адрес электронной почты указан с ошибкой.", "The email address is not valid."),
    "support_chat_resolution_unknown": ("Выберите итог из списка.", "Pick an outcome from the list."),
})
