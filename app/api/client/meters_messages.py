"""Error codes of meters and readings (MT-1, MT-2), in Russian and English."""
from ..errors import register_messages

register_messages({
    "meter_not_found": ("Счётчик не найден среди счётчиков ваших лицевых счетов.",
                        "The meter is not among the meters of your accounts."),
    "meter_inactive": ("Счётчик {serial} снят с учёта: показания по нему не принимаются.",
                       "Meter {serial} has been removed: it takes no readings."),
    "meter_name_too_long": ("Название счётчика — не длиннее {max} символов.",
                            "The meter's name must be at most {max} characters."),
    "reading_window_closed": ("Сейчас показания не принимаются: ближайший приём — с {opens} по {closes}.",
                              "Readings are not accepted now: the next window is {opens} to {closes}."),
    "values_too_many": ("Слишком много значений: по одному на тарифную зону.",
                        "Too many values: one per tariff zone."),
    "zone_invalid": ("Тарифная зона счётчика — от 1 до {zones}.", "The meter's tariff zone is 1 to {zones}."),
    "zone_duplicate": ("Показание по этой зоне указано дважды.", "This zone is given twice."),
    "zones_missing": ("Укажите показания по всем тарифным зонам счётчика (нет зоны {missing}).",
                      "Give a reading for every tariff zone of the meter (zone {missing} is missing)."),
    "value_negative": ("Показание не может быть отрицательным.", "A reading cannot be negative."),
    "value_too_large": ("Показание слишком большое.", "The reading is too large."),
    "value_decimals": ("Не больше {decimals} знаков после запятой: столько показывает счётчик.",
                       "At most {decimals} digits after the decimal point: as many as the meter shows."),
    "reading_below_previous": (
        "Показание по зоне {zone} ({value}) меньше предыдущего ({previous}). Если счётчик заменили или "
        "предыдущее показание было ошибочным, подайте обращение.",
        "The reading for zone {zone} ({value}) is lower than the previous one ({previous}). If the meter was "
        "replaced or the previous reading was wrong, file an appeal."),
    "value_below_previous": ("Меньше предыдущего показания.", "Lower than the previous reading."),
    "reading_abnormal": (
        "Расход по зоне {zone} — {consumption} — намного больше обычного ({average} в месяц в среднем). "
        "Проверьте показание; если оно верно, подтвердите его.",
        "The consumption for zone {zone}, {consumption}, is far above usual ({average} a month on average). "
        "Check the reading; if it is right, confirm it."),
    "value_abnormal": ("Расход намного больше обычного: подтвердите показание.",
                       "The consumption is far above usual: confirm the reading."),
    "reading_period_invalid": ("Период — в виде ГГГГ-ММ.", "The period must be YYYY-MM."),
    "photo_not_found": ("Фотография к этим показаниям не приложена.", "No photo came with these readings."),
})
