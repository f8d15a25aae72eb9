"""Error codes of uploaded files (services/uploads.py), in Russian and English."""
from ..errors import register_messages

register_messages({
    "upload_not_base64": ("Файл должен быть передан в base64.", "The file must be sent as base64."),
    "upload_empty": ("Файл пуст.", "The file is empty."),
    "upload_too_large": ("Файл больше {max_mb} МБ.", "The file is larger than {max_mb} MB."),
    "upload_type": ("Формат файла не поддерживается: допустимы {allowed}.",
                    "This file type is not accepted: use {allowed}."),
})
