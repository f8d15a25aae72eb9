"""Suppliers, accounts, meters and bills written straight into a test database, as the
billing import would leave them; and customers linked to them."""
import itertools
import random
from datetime import date
from decimal import Decimal

from app.extensions import db
from app.models.accounts import Account, CustomerAccount, Supplier, SupplierService, Tariff
from app.models.billing import Bill, BillLine
from app.models.meters import Meter, Reading
from app.models.workflow import utcnow

# Shared session-wide databases: numbers in sequence from a random start never collide.
_SEQ = itertools.count(random.randrange(10**6, 9 * 10**6))


def next_number(prefix=""):
    return f"{prefix}{next(_SEQ):08d}"


def make_supplier(**values):
    """A supplier with an electricity (zones 1–2) and a cold water service and their tariffs."""
    code = values.pop("code", None) or next_number("s")
    supplier = Supplier(
        code=code, name=values.pop("name", f"ООО «Энергосбыт {code}»"), kind=values.pop("kind", "electricity"),
        inn="7701234567", kpp="770101001", bank_name="ПАО СБЕРБАНК", bic="044525225",
        correspondent_account="30101810400000000225", settlement_account="40702810938000012345",
        reading_window_start_day=values.pop("reading_window_start_day", 1),
        reading_window_end_day=values.pop("reading_window_end_day", 31), **values)
    electricity = SupplierService(code="electricity", name="Электроэнергия", unit="кВт·ч", meter_kind="electricity",
                                  calculation_rule="Объём × тариф зоны суток",
                                  legal_reference="Постановление Правительства РФ № 354, п. 42")
    water = SupplierService(code="cold_water", name="Холодное водоснабжение", unit="м³", meter_kind="cold_water",
                            calculation_rule="Объём × тариф", legal_reference="Постановление Правительства РФ № 354")
    supplier.services = [electricity, water]
    for service, zone, price in ((electricity, 1, "6.43"), (electricity, 2, "2.91"), (water, 1, "52.10")):
        service.tariffs.append(Tariff(zone=zone, price=Decimal(price), valid_from=date(2020, 1, 1)))
    db.session.add(supplier)
    db.session.flush()
    return supplier


def make_account(supplier, **values):
    account = Account(supplier=supplier, number=values.pop("number", None) or next_number(),
                      address=values.pop("address", "г. Москва, ул. Ленина, д. 1, кв. 5"),
                      holder_name=values.pop("holder_name", "Иванова Мария Петровна"), **values)
    db.session.add(account)
    db.session.flush()
    return account


def make_meter(account, kind="electricity", zones=1, **values):
    service = next((s for s in account.supplier.services if s.meter_kind == kind), None)
    meter = Meter(account=account, kind=kind, zones=zones, serial=values.pop("serial", None) or next_number("M"),
                  service=service, decimals=values.pop("decimals", 2), location=values.pop("location", "Кухня"),
                  **values)
    db.session.add(meter)
    db.session.flush()
    return meter


def make_reading(meter, period, value, zone=1, source="billing", **values):
    reading = Reading(meter=meter, period=period, zone=zone, value=Decimal(str(value)), source=source, **values)
    db.session.add(reading)
    db.session.flush()
    return reading


def make_bill(account, period, total_due, lines=None, **values):
    """A bill with ``lines`` of (service_code, volume, tariff) or one electricity line making up
    ``total_due`` (debt and payments zero unless given)."""
    total_due = Decimal(str(total_due))
    bill = Bill(account=account, period=period, issued_on=values.pop("issued_on", period),
                total_due=total_due, charged=values.pop("charged", total_due), **values)
    services = {service.code: service for service in account.supplier.services}
    for position, (code, volume, tariff) in enumerate(lines or [("electricity", None, None)]):
        service = services[code]
        charge = total_due if volume is None else (Decimal(str(volume)) * Decimal(str(tariff))).quantize(Decimal("0.01"))
        bill.lines.append(BillLine(position=position, service=service, service_code=code, service_name=service.name,
                                   unit=service.unit, volume=volume and Decimal(str(volume)),
                                   tariff=tariff and Decimal(str(tariff)), charge=charge, total=charge))
    db.session.add(bill)
    db.session.flush()
    return bill


def link(customer_id, account, verified=True, **values):
    """Link ``account`` to the customer (verified unless told otherwise)."""
    found = CustomerAccount(customer_id=customer_id, account=account, verified_at=utcnow() if verified else None,
                            **values)
    db.session.add(found)
    db.session.flush()
    return found
