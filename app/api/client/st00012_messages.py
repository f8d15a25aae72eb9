"""Error codes of payment QR payloads (ST00012, GOST R 56042-2014), in Russian and English."""
from ..errors import register_messages

register_messages({
    "qr_empty": ("Данные QR-кода пусты.", "The QR code data is empty."),
    "qr_header": ("Это не платёжный QR-код: данные должны начинаться с ST0001 (ГОСТ Р 56042-2014).",
                  "This is not a payment QR code: the data must start with ST0001 (GOST R 56042-2014)."),
    "qr_encoding": ("Неизвестная кодировка QR-кода «{digit}»: допустимы 1 (windows-1251), 2 (UTF-8), 3 (KOI8-R).",
                    "Unknown QR code character set '{digit}': 1 (windows-1251), 2 (UTF-8) or 3 (KOI8-R) expected."),
    "qr_bytes_invalid": ("Данные QR-кода не соответствуют объявленной кодировке {encoding}.",
                         "The QR code data does not match its declared character set {encoding}."),
    "qr_separator": ("Неверный разделитель реквизитов «{char}» после заголовка QR-кода.",
                     "Invalid field separator '{char}' after the QR code header."),
    "qr_segment": ("Часть {position} данных QR-кода не имеет вида Реквизит=Значение.",
                   "Part {position} of the QR code data is not of the form Field=Value."),
    "qr_field_missing": ("В QR-коде нет обязательных реквизитов: {names}.",
                         "The QR code lacks required fields: {names}."),
    "qr_required": ("Обязательный реквизит.", "Required field."),
    "qr_field_invalid": ("Реквизит {field} в QR-коде заполнен неверно.", "Field {field} of the QR code is invalid."),
    "qr_value_too_long": ("Не длиннее {max} символов.", "At most {max} characters."),
    "qr_value_digits": ("Только цифры, не более {max}.", "Digits only, at most {max}."),
    "qr_value_digits_exact": ("Ровно {max} цифр.", "Exactly {max} digits."),
    "qr_value_period": ("Месяц и год в виде ММГГГГ.", "Month and year as MMYYYY."),
    "qr_value_format": ("Неверный формат.", "Invalid format."),
    "qr_field_reserved": ("Имя реквизита зарезервировано.", "The field name is reserved."),
    "qr_duplicate_field": ("Реквизит {field} указан в QR-коде дважды.", "Field {field} appears twice in the QR code."),
    "qr_too_long": ("Данные QR-кода длиннее {max} байт.", "The QR code data is longer than {max} bytes."),
})
