"""The paid services catalogue (SPEC PR-5) and the electrician call-out's advance price (PR-4).

Customers see only active services of active categories; only those can be ordered. A category
shows its lowest minimum price ("от 500 ₽", as on the category pictures of the app the seeds
describe). The call-out's price per urgency is the catalogue service with the code
``electrician_callout_<urgency>``, or :data:`CALLOUT_DEFAULT_PRICES` when the catalogue has none.
"""
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..errors import Invalid
from ..extensions import db
from ..models.paid_services import PaidService, PaidServiceCategory

URGENCIES = ("normal", "urgent")
# Used when the catalogue has no active "electrician_callout_<urgency>" service.
CALLOUT_DEFAULT_PRICES = {"normal": Decimal("1500.00"), "urgent": Decimal("3000.00")}


def catalogue():
    """Active categories with their active services, in sort order; categories with no active
    service are left out. ``[(category, [services], lowest minimum price)]``."""
    categories = db.session.execute(
        select(PaidServiceCategory).where(PaidServiceCategory.active.is_(True))
        .options(selectinload(PaidServiceCategory.services))
        .order_by(PaidServiceCategory.sort_order, PaidServiceCategory.name)
    ).scalars().all()
    result = []
    for category in categories:
        services = sorted((s for s in category.services if s.active), key=lambda s: (s.sort_order, s.name))
        if services:
            result.append((category, services, min(s.min_price for s in services)))
    return result


def orderable(service_id):
    """The service a customer may order (active, in an active category); else 422
    ``paid_service_unavailable`` on ``form_data.service_id``."""
    service = db.session.get(PaidService, service_id) if isinstance(service_id, int) else None
    if service is None or not service.active or not service.category.active:
        raise Invalid("paid_service_unavailable", fields={"form_data.service_id": ["paid_service_unavailable"]},
                      id=service_id)
    return service


def callout_prices():
    """``{"normal": Decimal, "urgent": Decimal}``: what an electrician's visit costs, shown
    before the customer orders it."""
    codes = {f"electrician_callout_{urgency}": urgency for urgency in URGENCIES}
    found = db.session.execute(
        select(PaidService.code, PaidService.min_price)
        .join(PaidServiceCategory, PaidServiceCategory.id == PaidService.category_id)
        .where(PaidService.code.in_(codes), PaidService.active.is_(True), PaidServiceCategory.active.is_(True))
    ).all()
    return {**CALLOUT_DEFAULT_PRICES, **{codes[code]: price for code, price in found}}


# (category, description, [(code, name, description, min price, unit)]) — the demo catalogue and a
# starting point for a new installation; staff edit it in Контент → Платные услуги.
DEMO_CATALOGUE = [
    ("Вызов электрика", "Выезд электрика по адресу: диагностика и устранение неисправностей.", [
        ("electrician_callout_normal", "Вызов электрика (в течение суток)",
         "Выезд в течение рабочего дня, диагностика включена в стоимость.", "1500.00", "вызов"),
        ("electrician_callout_urgent", "Срочный вызов электрика (в течение 2 часов)",
         "Выезд в течение двух часов, круглосуточно.", "3000.00", "вызов"),
    ]),
    ("Электромонтажные работы", "Монтаж и замена электроустановочных изделий и проводки.", [
        (None, "Установка розетки или выключателя", "Открытая или скрытая установка, без штробления.",
         "500.00", "шт."),
        (None, "Замена автоматического выключателя", "Замена автомата в квартирном щитке.", "800.00", "шт."),
        (None, "Монтаж квартирного электрощита", "Сборка и подключение щита до 12 модулей.", "6000.00", "щит"),
    ]),
    ("Приборы учёта", "Работы с приборами учёта электроэнергии сверх обязательных.", [
        (None, "Перенос прибора учёта", "Перенос счётчика на новое место в пределах помещения.", "2500.00",
         "прибор"),
        (None, "Опломбировка после ремонта", "Повторная установка пломб по заявке клиента.", "700.00", "пломба"),
    ]),
    ("Консультации", "Выезд специалиста для консультации и замеров.", [
        (None, "Замер сопротивления изоляции", "Измерения с протоколом.", "3500.00", "объект"),
        (None, "Энергоаудит квартиры", "Рекомендации по снижению расхода.", "4000.00", "объект"),
    ]),
]


def seed_catalogue():
    """Add the catalogue above when there is none yet (idempotent); returns services added."""
    if db.session.execute(select(PaidServiceCategory.id).limit(1)).first():
        return 0
    added = 0
    for position, (name, description, services) in enumerate(DEMO_CATALOGUE):
        category = PaidServiceCategory(name=name, description=description, sort_order=position * 10, active=True)
        db.session.add(category)
        for order, (code, title, text, price, unit) in enumerate(services):
            db.session.add(PaidService(category=category, code=code, name=title, description=text,
                                       min_price=Decimal(price), unit=unit, sort_order=order * 10, active=True))
            added += 1
    db.session.flush()
    return added
