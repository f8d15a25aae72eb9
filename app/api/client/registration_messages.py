"""Error codes and answers of registration by bill and by contract (ID-2, ID-3), in Russian and English."""
from ..errors import register_messages

register_messages({
    "account_number_required": ("Укажите номер лицевого счёта или отсканируйте QR-код квитанции.",
                                "Enter the account number or scan the bill's QR code."),
    "registration_mode": ("Укажите либо qr, либо номер лицевого счёта (с периодом и суммой или skip_amount).",
                          "Give either qr or the account number (with period and amount, or skip_amount)."),
    "qr_account_missing": ("В QR-коде нет номера лицевого счёта (persAcc).",
                           "The QR code carries no account number (persAcc)."),
    "registration_ticket_invalid": ("Регистрация не найдена: начните заново.",
                                    "The registration was not found: start again."),
    "registration_ticket_expired": ("Время на регистрацию истекло: начните заново.",
                                    "The registration has expired: start again."),
    "registration_not_by_bill": ("Этот код выдан не для регистрации по квитанции.",
                                 "This code was not issued for a registration by bill."),
    "surname_required": ("Укажите фамилию.", "Enter your surname."),
    "name_required": ("Укажите имя.", "Enter your first name."),
    "not_my_address_accepted": (
        "Заявка на подключение передана в контактный центр: с вами свяжутся по указанному телефону.",
        "Your connection request has gone to the contact centre: they will call you at the phone you gave."),
    "contract_phone_mismatch": (
        "На указанный номер телефона нельзя отправить SMS с паролем: он не совпадает с номером в договоре. "
        "Чтобы актуализировать номер, позвоните в контактный центр: {contact_phone}.",
        "The SMS with the password cannot be sent to this phone: it is not the phone on the contract. "
        "To update the phone, call the contact centre: {contact_phone}."),
    "contract_password_sent": (
        "На номер {phone} отправлено SMS: следуйте указаниям из сообщения.",
        "An SMS has been sent to {phone}: follow its instructions."),
})
