"""The one error shape of every API: ``{"error": {"code", "message", "fields"}}``.

Messages follow ``Accept-Language`` (Russian by default, English on request).
"""
import logging

from flask import jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from ..errors import DomainError

log = logging.getLogger(__name__)

MESSAGES = {
    "bad_request": ("Некорректный запрос.", "The request is not valid."),
    "not_json": ("Тело запроса должно быть JSON-объектом.", "The request body must be a JSON object."),
    "validation_error": ("Данные не прошли проверку.", "The data did not pass validation."),
    "form_invalid": ("Данные формы не прошли проверку.", "The form data did not pass validation."),
    "unauthorized": ("Требуется вход в систему.", "Sign-in is required."),
    "forbidden": ("Недостаточно прав.", "You do not have permission for this."),
    "not_found": ("Не найдено.", "Not found."),
    "method_not_allowed": ("Метод не поддерживается.", "Method not allowed."),
    "payload_too_large": ("Запрос слишком большой.", "The request is too large."),
    "rate_limited": ("Слишком много запросов, попробуйте позже.", "Too many requests, try again later."),
    "internal_error": ("Внутренняя ошибка сервера.", "Internal server error."),
    "conflict": ("Конфликт с текущим состоянием.", "Conflict with the current state."),
    "invalid_model": ("Модель процесса некорректна: {element}: {fault}", "Invalid process model: {element}: {fault}"),
    "definition_not_found": ("Процесс «{key}» не найден.", "Process '{key}' not found."),
    "instance_not_found": ("Экземпляр процесса {id} не найден.", "Process instance {id} not found."),
    "task_not_found": ("Задача {id} не найдена.", "Task {id} not found."),
    "instance_state": (
        "Действие недоступно: экземпляр {id} в состоянии «{status}».",
        "Not possible: instance {id} is {status}.",
    ),
    "concurrent_change": (
        "Экземпляр {id} одновременно изменён другим пользователем, повторите.",
        "Instance {id} was changed concurrently; try again.",
    ),
    "deploy_race": ("Версия процесса «{key}» развёрнута одновременно, повторите.", "Another version of '{key}' was deployed at the same moment; try again."),
    "task_not_open": ("Задача {id} уже не открыта ({status}).", "Task {id} is no longer open ({status})."),
    "task_claimed": ("Задача {id} взята в работу пользователем {assignee}.", "Task {id} is claimed by {assignee}."),
    "task_not_claimed": ("Задача {id} никем не взята.", "Task {id} is not claimed."),
    "customer_task": ("Задачу {id} выполняет клиент.", "Task {id} is the customer's to complete."),
    "message_not_awaited": (
        "Сообщение «{name}» с такими ключами корреляции никто не ожидает.",
        "No process is waiting for message '{name}' with this correlation.",
    ),
    "same_version": ("Экземпляр {id} уже на версии {version}.", "Instance {id} is already on version {version}."),
    "migration_blocked": (
        "Экземпляр {id} нельзя перенести на версию {version}: в ней нет шагов «{tasks}».",
        "Instance {id} cannot move to version {version}: it has no '{tasks}'.",
    ),
    "nothing_to_retry": ("У экземпляра {id} нет ошибок для повтора.", "Instance {id} has nothing to retry."),
}


# marshmallow's own messages (English), as sent for a field, in Russian.
_MARSHMALLOW_RU = {
    "Missing data for required field.": "Обязательное поле.",
    "Field may not be null.": "Поле не может быть пустым.",
    "Unknown field.": "Неизвестное поле.",
    "Not a valid string.": "Ожидается строка.",
    "Not a valid integer.": "Ожидается целое число.",
    "Not a valid number.": "Ожидается число.",
    "Not a valid boolean.": "Ожидается да или нет.",
    "Not a valid date.": "Некорректная дата (ожидается ГГГГ-ММ-ДД).",
    "Not a valid datetime.": "Некорректные дата и время.",
    "Not a valid email address.": "Некорректный адрес электронной почты.",
    "Not a valid mapping type.": "Ожидается объект.",
    "Not a valid list.": "Ожидается список.",
    "Invalid input type.": "Некорректный тип данных.",
}


def register_messages(messages):
    """Add a domain's error codes to the catalogue (each API module brings its own)."""
    clash = set(messages) & set(MESSAGES)
    if clash:
        raise ValueError(f"error codes defined twice: {sorted(clash)}")
    MESSAGES.update(messages)


def _translate_fields(fields, params=None):
    """Field errors may be catalogue codes or marshmallow's English; answer in the caller's language."""
    english = language() == "en"

    def one(value):
        if isinstance(value, dict):
            return {key: one(item) for key, item in value.items()}
        if isinstance(value, list):
            return [one(item) for item in value]
        if isinstance(value, str):
            if value in MESSAGES:
                return message_for(value, params)
            if not english:
                return _MARSHMALLOW_RU.get(value, value)
        return value

    return one(fields)


def language():
    best = request.accept_languages.best_match(["ru", "en"]) if request else None
    return best or "ru"


def message_for(code, params=None):
    ru, en = MESSAGES.get(code, MESSAGES["bad_request"])
    template = en if language() == "en" else ru
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError):
        return template


def _plain(value):
    """A parameter as JSON carries it: dates as ISO text, decimals as exact strings."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def error_response(status, code, fields=None, params=None, message=None):
    body = {"error": {"code": code, "message": message or message_for(code, params),
                      "fields": _translate_fields(fields or {}, params)}}
    if params:
        # The figures of the message (window dates, previous reading, seconds to wait) for apps
        # that lay the refusal out themselves.
        body["error"]["params"] = _plain(params)
    response = jsonify(body)
    response.status_code = status
    return response


def domain_error_response(exc):
    response = error_response(exc.status, exc.code, exc.fields, exc.params)
    if getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def is_api_request():
    return request.path.startswith("/api/") or request.path == "/health"


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 429: "rate_limited"}


def register(app):
    app.register_error_handler(DomainError, domain_error_response)

    @app.errorhandler(ValidationError)
    def _validation(exc):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return error_response(422, "validation_error", fields)

    @app.errorhandler(HTTPException)
    def _http(exc):
        if not is_api_request():
            return exc
        code = _HTTP_CODES.get(exc.code, "bad_request")
        response = error_response(exc.code, code)
        if exc.code == 429:
            response.headers.update(getattr(exc, "headers", None) or {})
            retry = _retry_after(exc)
            if retry:
                response.headers["Retry-After"] = retry
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not is_api_request():
            raise exc
        return error_response(500, "internal_error")


def _retry_after(exc):
    limit = getattr(exc, "limit", None)
    if limit is None:
        return None
    try:
        return str(int(limit.limit.get_expiry()))
    except Exception:
        return None


def register_jwt_errors(jwt_manager):
    """Flask-JWT-Extended answers {"msg": ...} by default; bring it to the one shape."""

    def unauthorized(*_args):
        return error_response(401, "unauthorized")

    jwt_manager.unauthorized_loader(unauthorized)
    jwt_manager.invalid_token_loader(unauthorized)
    jwt_manager.expired_token_loader(unauthorized)
    jwt_manager.revoked_token_loader(unauthorized)
    jwt_manager.needs_fresh_token_loader(unauthorized)
