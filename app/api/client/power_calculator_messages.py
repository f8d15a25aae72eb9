"""Error and note codes of the power calculator (CL-1), in Russian and English."""
from ...services.power_calculator import NOTES
from ..errors import register_messages

register_messages({
    **NOTES,
    "power_items_empty": ("Добавьте хотя бы один прибор.", "Add at least one appliance."),
    "power_items_too_many": ("Не больше {max} строк в расчёте.", "At most {max} lines in a calculation."),
    "appliance_unknown": ("Такого прибора нет в справочнике.", "There is no such appliance in the catalogue."),
    "appliance_name_required": ("Укажите прибор из справочника или его название.",
                                "Choose an appliance from the catalogue or give its name."),
    "appliance_name_too_long": ("Название прибора — не длиннее {max_name} символов.",
                                "The appliance's name must be at most {max_name} characters."),
    "power_required": ("Укажите мощность прибора.", "Give the appliance's power."),
    "power_out_of_range": ("Мощность — больше 0 и не больше {max_power} кВт.",
                           "The power must be above 0 and at most {max_power} kW."),
    "power_decimals": ("Мощность — не больше {power_decimals} знаков после запятой (с точностью до ватта).",
                       "The power takes at most {power_decimals} decimals (to the watt)."),
    "count_out_of_range": ("Количество — от 1 до {max_count}.", "The count must be 1 to {max_count}."),
    "simultaneity_out_of_range": ("Коэффициент одновременности — больше 0 и не больше 1.",
                                  "The simultaneity factor must be above 0 and at most 1."),
    "simultaneity_decimals": ("Коэффициент одновременности — не больше {simultaneity_decimals} знаков после запятой.",
                              "The simultaneity factor takes at most {simultaneity_decimals} decimals."),
    "phases_invalid": ("Число фаз — 1 или 3.", "The number of phases is 1 or 3."),
    "power_email_limit": ("Слишком много писем с расчётом, попробуйте позже.",
                          "Too many calculation emails; try again later."),
    # The grid connection request (PR-1) the calculator drafts; its submission refuses these too.
    "grid_connection_documents_required": (
        "Приложите к заявке документы: право собственности на объект, паспорт, план расположения.",
        "Attach the documents to the request: proof of ownership, passport, site plan."),
    "grid_connection_power_not_increased": (
        "Для увеличения мощности новая мощность должна быть больше ранее присоединённой.",
        "For a power increase the new power must be above the power connected before."),
})
