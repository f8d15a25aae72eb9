"""Error codes of staff two-factor sign-in (``app/services/staff_two_factor.py``), in Russian and
English. Imported by the JWT login (``app/security.py``) and the screens
(``app/views/two_factor.py``), which render the same catalogue (``message_for``)."""
from ..errors import register_messages

register_messages({
    "two_factor_required": (
        "Нужен второй фактор: код из приложения-аутентификатора (поле totp) или резервный код (recovery_code).",
        "A second factor is required: the code from your authenticator app (field totp) or a recovery code "
        "(recovery_code).",
    ),
    "two_factor_invalid": (
        "Неверный или уже использованный код подтверждения.",
        "The verification code is wrong or has already been used.",
    ),
    "two_factor_enrolment_required": (
        "Для вашей роли обязателен двухфакторный вход: сначала подключите его, войдя в веб-интерфейс.",
        "Two-factor sign-in is required for your role: set it up first by signing in to the web interface.",
    ),
    "two_factor_enrolment_stale": (
        "Ключ подключения сменился (подключение начато заново в другом окне или на другом устройстве): "
        "отсканируйте новый QR-код.",
        "The enrolment key has changed (enrolment was started again in another window or on another device); "
        "scan the new QR code.",
    ),
    "two_factor_rate_limited": (
        "Слишком много неверных кодов подтверждения, повторите через {retry_after} с.",
        "Too many wrong verification codes; try again in {retry_after} s.",
    ),
    "two_factor_not_enrolled": ("Двухфакторный вход не подключён.", "Two-factor sign-in is not set up."),
    "two_factor_already_enrolled": ("Двухфакторный вход уже подключён.", "Two-factor sign-in is already set up."),
    "two_factor_disable_forbidden": (
        "Для вашей роли двухфакторный вход обязателен, отключить его нельзя.",
        "Two-factor sign-in is required for your role and cannot be turned off.",
    ),
    "two_factor_reset_self": (
        "Свой двухфакторный вход сбрасывать здесь нельзя: используйте страницу «Двухфакторный вход».",
        "You cannot reset your own two-factor sign-in here; use the two-factor page.",
    ),
})
