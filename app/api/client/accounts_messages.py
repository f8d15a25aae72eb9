"""Error codes of accounts and their links, in Russian and English."""
from ..errors import register_messages

register_messages({
    "account_not_found": ("Лицевой счёт не найден среди ваших счетов.", "The account is not among your accounts."),
    "account_unverified": (
        "Лицевой счёт {number} не подтверждён: укажите период и сумму одной из трёх последних квитанций.",
        "Account {number} is not verified: enter the period and amount of one of its last three bills."),
    "account_number_unknown": (
        "Лицевой счёт {number} не найден: проверьте номер по квитанции.",
        "Account {number} was not found: check the number on the bill."),
    "account_supplier_ambiguous": (
        "Лицевой счёт {number} есть у нескольких поставщиков ({suppliers}): укажите поставщика.",
        "Account {number} exists at several suppliers ({suppliers}): choose the supplier."),
    "account_already_linked": ("Лицевой счёт {number} уже подключён.", "Account {number} is already linked."),
    "address_confirmation_required": ("Подтвердите адрес лицевого счёта.", "Confirm the account's address."),
    "bill_proof_incomplete": ("Укажите и расчётный период, и сумму из квитанции.",
                              "Enter both the billing period and the amount from the bill."),
    "bill_mismatch": (
        "Период и сумма не совпадают ни с одной из трёх последних квитанций (сумма — «к оплате», "
        "можно с добровольным страхованием).",
        "The period and amount match none of the last three bills (the amount due, with or without "
        "the voluntary insurance)."),
    "account_verify_locked": (
        "Слишком много неверных попыток: повторите через {retry_after} с.",
        "Too many wrong attempts: try again in {retry_after} s."),
    "unlink_confirmation_required": (
        "Подтвердите отключение лицевого счёта {number}: confirm = true.",
        "Confirm unlinking account {number}: confirm = true."),
    "period_format": ("Период — ГГГГ-ММ.", "The period must be YYYY-MM."),
    "amount_format": ("Сумма — положительное число с двумя знаками после точки.",
                      "The amount must be a positive number with two decimals."),
    "alias_too_long": ("Название — не длиннее 64 символов.", "The name must be at most 64 characters."),
    "contract_unknown": ("Договор {number} не найден: проверьте номер.", "Contract {number} was not found: check the number."),
    "contract_supplier_ambiguous": (
        "Договор {number} есть у нескольких поставщиков ({suppliers}): укажите поставщика.",
        "Contract {number} exists at several suppliers ({suppliers}): choose the supplier."),
    "contract_already_added": ("Договор {number} уже добавлен.", "Contract {number} is already added."),
    "contract_not_found": ("Договор не найден среди ваших договоров.", "The contract is not among your contracts."),
    "contract_barcode_unknown": (
        "Договор технологического присоединения с таким штрихкодом не найден.",
        "No grid-connection contract has this barcode."),
})
