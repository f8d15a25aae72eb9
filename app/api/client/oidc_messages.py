"""Error codes of federated sign-in (OpenID Connect), in Russian and English."""
from ..errors import register_messages

register_messages({
    "oidc_provider_unknown": ("Такой способ входа не настроен.", "This sign-in provider is not configured."),
    "oidc_redirect_uri_not_allowed": ("Адрес возврата не разрешён для этого способа входа.",
                                      "This redirect URI is not allowed for the provider."),
    "oidc_provider_error": ("Сервис входа временно не отвечает как положено: повторите позже или войдите по телефону.",
                            "The sign-in provider is not answering properly: try again later or sign in by phone."),
    "oidc_state_invalid": ("Вход не найден: начните вход заново.", "Unknown sign-in: start again."),
    "oidc_state_used": ("Этот вход уже завершён: начните вход заново.",
                        "This sign-in has already been completed: start again."),
    "oidc_state_expired": ("Время на вход истекло: начните вход заново.", "The sign-in has expired: start again."),
    "oidc_app_mismatch": ("Вход был начат не в этом приложении: начните вход заново.",
                          "The sign-in was not started by this app: start again."),
    "oidc_app_challenge_invalid": (
        "Ожидается app_challenge: BASE64URL(SHA-256) без выравнивания, 43 символа.",
        "Expected app_challenge: BASE64URL(SHA-256) without padding, 43 characters."),
    "oidc_app_verifier_invalid": (
        "Ожидается app_verifier: от 43 до 128 символов A-Z, a-z, 0-9, «-», «.», «_», «~».",
        "Expected app_verifier: 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'."),
    "oidc_code_rejected": ("Сервис входа не подтвердил вход: начните вход заново.",
                           "The provider did not confirm the sign-in: start again."),
    "oidc_token_invalid": ("Ответ сервиса входа не прошёл проверку: начните вход заново.",
                           "The provider's answer did not pass verification: start again."),
    "oidc_match_conflict": (
        "Подтверждённые телефон и почта относятся к разным учётным записям: войдите по телефону или обратитесь в поддержку.",
        "The verified phone and email belong to different accounts: sign in by phone or contact support."),
    "oidc_already_linked": (
        "К этой учётной записи уже привязан другой аккаунт этого сервиса: войдите по телефону.",
        "Another account at this provider is already linked to this account: sign in by phone."),
    "oidc_consent_required": (
        "Учётной записи с номером {phone} нет. Чтобы создать её, дайте согласие на обработку персональных данных и войдите снова.",
        "There is no account with the phone {phone}. To open one, give consent to the processing of personal "
        "data and sign in again."),
    "oidc_no_account": (
        "Учётная запись не найдена: сервис входа не передал подтверждённый телефон. Зарегистрируйтесь по номеру телефона.",
        "No account found: the provider gave no verified phone. Register with your phone number."),
    "oidc_claims_insufficient": ("Сервис входа не передал ФИО: зарегистрируйтесь по номеру телефона.",
                                 "The provider gave no name: register with your phone number."),
})
