"""Error codes of appeals (PR-6) and callback orders (PR-8), in Russian and English."""
from ..errors import register_messages

register_messages({
    "appeal_topic_unknown": ("Такой темы нет в списке: выберите тему заново.",
                             "This topic is not on the list: choose the topic again."),
    "appeal_topic_other_required": ("Выберите тему или опишите её своими словами («Другое»).",
                                    "Choose a topic or describe it in your own words (\"Other\")."),
    "appeal_topic_ambiguous": ("Укажите либо тему из списка, либо «Другое» со своим описанием.",
                               "Give either a topic from the list or \"Other\" with your own words."),
    "appeal_topics_query_too_long": ("Поисковый запрос — не длиннее 100 символов.",
                                     "The search text must be at most 100 characters."),
    "callback_window_invalid": ("Время «до» должно быть позже времени «с».",
                                "The \"to\" time must be later than the \"from\" time."),
    "callback_window_past": ("Это время уже прошло: выберите другое.", "This time has passed: choose another."),
    "callback_window_too_far": ("Звонок можно заказать не дальше чем на {days} дней вперёд.",
                                "A callback can be booked at most {days} days ahead."),
})
