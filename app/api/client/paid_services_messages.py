"""Error codes of paid services (SPEC PR-4, PR-5), in Russian and English."""
from ..errors import register_messages

register_messages({
    "paid_service_unavailable": ("Эту услугу сейчас нельзя заказать: выберите другую в каталоге.",
                                 "This service cannot be ordered now: choose another one from the catalogue."),
})
