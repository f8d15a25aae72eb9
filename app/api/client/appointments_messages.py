"""Error codes of office appointments (SPEC PR-10), in Russian and English."""
from ..errors import register_messages

register_messages({
    "office_not_found": ("Офис не найден или не принимает записи.", "The office was not found or takes no bookings."),
    "appointment_not_found": ("Запись не найдена.", "The appointment was not found."),
    "appointment_service_not_offered": ("Эта услуга в выбранном офисе не оказывается.",
                                        "This office does not offer the service."),
    "appointment_date_out_of_range": ("Записаться можно на сегодня и на {days} дней вперёд.",
                                      "Bookings are for today and up to {days} days ahead."),
    "appointment_slot_invalid": ("Такого времени приёма нет: выберите из свободных.",
                                 "There is no such slot: pick one of the free ones."),
    "appointment_slot_past": ("Это время уже прошло.", "This time has passed."),
    "appointment_slot_taken": ("Время {slot} уже занято: выберите другое.",
                               "The slot {slot} has just been taken: pick another."),
})
