"""Demo suppliers, accounts, meters, readings, bills and payments for `make run` (SPEC AC, MT, BL).

As the billing import would leave them, plus what customers did in Kabinet: Мария has verified
accounts at three suppliers (electricity with a two-zone meter and a debt, water overpaid and on
autopay, prepaid security with object events), Пётр one unverified link, and a few hundred
accounts nobody linked yet (for linking by number, registration by bill and pay-by-QR; README
lists some). Loaded once; every run re-centres the reading windows on today, so that the
electricity window is open and the water one closed whenever the demo starts.

DEMO ONLY: the bank details are real-looking (valid control digits) but fictional.
"""
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from .extensions import db
from .models.accounts import Account, Contract, CustomerAccount, ObjectEvent, Supplier, SupplierService, Tariff
from .models.billing import Autopay, AutopayRun, Bill, BillLine, Invoice, Payment, PaymentItem, SavedCard
from .models.customers import Customer
from .models.meters import Meter, Reading
from .models.workflow import utcnow
from .services.periods import add_months, label, month_start

CENT = Decimal("0.01")
MARIA_PHONE, PETR_PHONE = "+79161234567", "+79031112233"
SBER = {"bank_name": "ПАО СБЕРБАНК", "bic": "044525225", "correspondent_account": "30101810400000000225"}
ALFA = {"bank_name": "АО «АЛЬФА-БАНК»", "bic": "044525593", "correspondent_account": "30101810200000000593"}
SUPPLIERS = {
    "demo-energo": dict(name="АО «Столичный энергосбыт»", kind="electricity", inn="7709000010", kpp="770901001",
                        settlement_account="40702810238000001001", insurance_amount=Decimal("45.00"),
                        phone="+74959810000", email="info@energo.example.ru", **SBER),
    "demo-voda": dict(name="АО «Столичный водоканал»", kind="water", inn="7702000029", kpp="770201001",
                      settlement_account="40702810838000002002", insurance_amount=Decimal("30.00"),
                      phone="+74959520000", email="info@voda.example.ru", **SBER),
    "demo-ohrana": dict(name="ООО ЧОП «Охрана-Центр»", kind="security", inn="7710000030", kpp="771001001",
                        settlement_account="40702810601000003003", phone="+74956660000",
                        email="pult@ohrana.example.ru", **ALFA),
}
# code, name, unit, meter kind, calculation rule, legal reference, {zone: (price before, price since) July 1}
LAW = "Постановление Правительства РФ от 06.05.2011 № 354"
SERVICES = {
    "demo-energo": [("electricity", "Электроэнергия", "кВт·ч", "electricity",
                     "Объём по показаниям каждой зоны суток × тариф зоны", f"{LAW}, п. 42, прил. 2",
                     {1: ("6.85", "7.22"), 2: ("2.89", "3.05")})],
    "demo-voda": [("cold_water", "Холодное водоснабжение", "м³", "cold_water", "Объём по показаниям × тариф",
                   f"{LAW}, п. 42", {1: ("49.63", "52.10")}),
                  ("hot_water", "Горячее водоснабжение", "м³", "hot_water", "Объём по показаниям × тариф",
                   f"{LAW}, п. 42", {1: ("243.15", "255.30")}),
                  ("wastewater", "Водоотведение", "м³", None, "Объём холодной и горячей воды × тариф",
                   f"{LAW}, п. 42(4)", {1: ("39.26", "41.22")})],
    "demo-ohrana": [("security", "Охрана квартиры (пультовая)", "мес.", None,
                     "Абонентская плата за месяц по договору", "Договор на охрану, п. 4.1",
                     {1: ("850.00", "890.00")})],
}
STREETS = ["ул. Ленина", "ул. Гагарина", "Профсоюзная ул.", "ул. Вавилова", "Ленинский пр-т", "ул. Строителей",
           "Мичуринский пр-т", "ул. Академика Королёва"]
SURNAMES = ["Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров",
            "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов"]
OTHERS = {"demo-energo": ("77100", 120), "demo-voda": ("50100", 120), "demo-ohrana": ("90100", 60)}
# Accounts of the demo (README): Мария's three, Пётр's unverified one, and the first unlinked ones.
MARIA_ACCOUNTS = {"demo-energo": "7712345678", "demo-voda": "5012345678", "demo-ohrana": "9012345678"}
PETR_ACCOUNT = "7711223344"
MARIA_ADDRESS = "г. Москва, ул. Вавилова, д. 19, кв. 42"
ZONE_NAMES = {1: "день", 2: "ночь", 3: "полупик"}


def load_demo_billing(today=None):
    """Once (re-centring the reading windows on every run); returns a line for the demo's report."""
    today = today or date.today()
    suppliers = {s.code: s for s in db.session.execute(
        select(Supplier).where(Supplier.code.in_(SUPPLIERS))).scalars()}
    if suppliers:
        _centre_windows(suppliers, today)
        db.session.commit()
        return "demo billing data already present (reading windows re-centred on today)"
    Demo(today).load()
    db.session.commit()
    accounts = db.session.scalar(select(func.count(Account.id)))
    return (f"demo billing: 3 suppliers, {accounts} accounts; Мария's accounts "
            f"{', '.join(MARIA_ACCOUNTS.values())}, unlinked e.g. 7710000001, 5010000001, 9010000001")


def _centre_windows(suppliers, today):
    """Electricity accepts readings today (5 days either side), water does not."""
    energo, voda = suppliers.get("demo-energo"), suppliers.get("demo-voda")
    if energo:
        energo.reading_window_start_day = max(1, today.day - 5)
        energo.reading_window_end_day = min(31, today.day + 5)
    if voda:
        voda.reading_window_start_day, voda.reading_window_end_day = (1, 10) if today.day > 10 else (20, 25)


def _money(value):
    return Decimal(value).quantize(CENT)


class Demo:
    def __init__(self, today):
        self.today = today
        self.rng = random.Random(2026)  # the same demo on every machine (README quotes its numbers)
        self.current = month_start(today)
        self.periods = [add_months(self.current, -n) for n in range(12, 0, -1)]  # 12 closed months, oldest first
        # Tariffs are indexed on July 1: the last indexation before today.
        self.indexation = date(today.year if today.month >= 7 else today.year - 1, 7, 1)
        self.suppliers = {}
        self.services = {}

    def load(self):
        for code, values in SUPPLIERS.items():
            self.suppliers[code] = self._supplier(code, values)
        _centre_windows(self.suppliers, self.today)
        customers = {c.phone: c for c in db.session.execute(
            select(Customer).where(Customer.phone.in_([MARIA_PHONE, PETR_PHONE]))).scalars()}
        maria, petr = customers.get(MARIA_PHONE), customers.get(PETR_PHONE)
        energo, voda, ohrana = self._maria_electricity(maria), self._maria_water(maria), self._maria_security()
        petr_account = self._account("demo-energo", PETR_ACCOUNT, "г. Москва, ул. Гагарина, д. 3, кв. 7",
                                     "Сидоров Пётр Алексеевич", phone=PETR_PHONE)
        self._simple_history(petr_account)
        for code, (prefix, count) in OTHERS.items():
            for index in range(1, count + 1):
                self._other_account(code, f"{prefix}{index:05d}")
        db.session.flush()
        if maria is not None:
            for account, alias, ebill in ((energo, "Квартира", True), (voda, "Квартира", False),
                                          (ohrana, "Охрана квартиры", False)):
                db.session.add(CustomerAccount(customer_id=maria.id, account=account, alias=alias, ebill=ebill,
                                               verified_at=utcnow()))
            self._maria_payments(maria, energo, voda)
        if petr is not None:  # linked by number, never proved a bill: may look, may not pay (ID-2)
            db.session.add(CustomerAccount(customer_id=petr.id, account=petr_account, verified_at=None))
        db.session.flush()

    # --- suppliers ------------------------------------------------------------------------------
    def _supplier(self, code, values):
        supplier = Supplier(code=code, **values)
        for service_code, name, unit, meter_kind, rule, law, prices in SERVICES[code]:
            service = SupplierService(code=service_code, name=name, unit=unit, meter_kind=meter_kind,
                                      calculation_rule=rule, legal_reference=law)
            for zone, (before, since) in prices.items():
                service.tariffs += [
                    Tariff(zone=zone, price=Decimal(before), valid_from=add_months(self.indexation, -12),
                           valid_to=self.indexation - timedelta(days=1)),
                    Tariff(zone=zone, price=Decimal(since), valid_from=self.indexation)]
            supplier.services.append(service)
            self.services[(code, service_code)] = service
        db.session.add(supplier)
        return supplier

    def _price(self, supplier_code, service_code, period, zone=1):
        before, since = dict((s[0], s[6]) for s in SERVICES[supplier_code])[service_code][zone]
        return Decimal(since if period >= self.indexation else before)

    # --- accounts, meters, readings, bills ------------------------------------------------------
    def _account(self, code, number, address, holder, **values):
        account = Account(supplier=self.suppliers[code], number=number, address=address, holder_name=holder,
                          **values)
        db.session.add(account)
        return account

    def _meter(self, account, kind, serial, zones=1, decimals=2, **values):
        meter = Meter(account=account, kind=kind, serial=serial, zones=zones, decimals=decimals,
                      service=self.services[(account.supplier.code, kind)], **values)
        db.session.add(meter)
        return meter

    def _readings(self, meter, zone, start, monthly, periods, abnormal_period=None, customer=None):
        """A reading per period; returns {period: consumption}. ``abnormal_period``'s consumption
        is five times the usual, submitted by the customer with confirmation (MT-2)."""
        value, used = Decimal(start), {}
        places = Decimal(1).scaleb(-meter.decimals)
        for period in periods:
            consumption = Decimal(self.rng.uniform(*monthly)).quantize(places)
            if period == abnormal_period:
                consumption *= 5
            previous, value = value, value + consumption
            recent = customer is not None and period >= self.periods[-3]
            db.session.add(Reading(
                meter=meter, period=period, zone=zone, value=value, previous_value=previous, consumption=consumption,
                abnormal=period == abnormal_period, source="customer" if recent or period == abnormal_period else
                "billing", customer_id=customer.id if customer and (recent or period == abnormal_period) else None,
                submitted_at=datetime.combine(period + timedelta(days=19), time(9, 30)),
                exported_at=utcnow()))
            used[period] = consumption
        return used

    def _bills(self, account, charges, paid=lambda period, due: due, insurance=None):
        """Bills for the periods of ``charges`` ({period: [(service_code, zone, volume)]}); each
        period pays what ``paid(period, previous total due)`` says."""
        due = Decimal("0.00")
        bills = {}
        for period, lines in charges.items():
            bill = Bill(account=account, period=period, issued_on=add_months(period, 1) + timedelta(days=2),
                        due_on=add_months(period, 1) + timedelta(days=24), debt_at_start=due,
                        paid_in_period=_money(paid(period, due)), insurance_amount=insurance)
            zoned = {service_code for service_code, zone, _volume in lines if zone > 1}
            for position, (service_code, zone, volume) in enumerate(lines):
                service = self.services[(account.supplier.code, service_code)]
                tariff = self._price(account.supplier.code, service_code, period, zone)
                charge = _money(Decimal(volume) * tariff)
                name = f"{service.name} ({ZONE_NAMES[zone]})" if service_code in zoned else service.name
                bill.lines.append(BillLine(position=position, service=service, service_code=service_code,
                                           service_name=name, zone=zone, unit=service.unit, tariff=tariff,
                                           volume=Decimal(volume), charge=charge, total=charge))
            bill.charged = sum((line.total for line in bill.lines), Decimal("0.00"))
            bill.total_due = due = bill.debt_at_start - bill.paid_in_period + bill.charged
            db.session.add(bill)
            bills[period] = bill
        return bills

    def _maria_electricity(self, maria):
        account = self._account("demo-energo", MARIA_ACCOUNTS["demo-energo"], MARIA_ADDRESS,
                                "Иванова Мария Петровна", phone=MARIA_PHONE)
        meter = self._meter(account, "electricity", "ЦЭ6850М-0154871", zones=2, decimals=1, location="Прихожая",
                            custom_name="Счётчик в прихожей", installed_on=date(2019, 3, 14),
                            last_verified_on=date(2019, 3, 14), verification_interval_years=16,
                            next_verification_on=date(2035, 3, 14))
        db.session.add(Contract(supplier=self.suppliers["demo-energo"], number="ЭС-2019-0154871", kind="supply",
                                account=account, holder_name=account.holder_name, phone=MARIA_PHONE,
                                concluded_on=date(2019, 3, 1)))
        day = self._readings(meter, 1, "12034.5", (180, 260), self.periods, self.periods[-5], maria)
        night = self._readings(meter, 2, "5410.2", (90, 140), self.periods, customer=maria)
        charges = {p: [("electricity", 1, day[p]), ("electricity", 2, night[p])] for p in self.periods}
        # Paid every month but the last two: a current debt of two months.
        self._bills(account, charges, insurance=self.suppliers["demo-energo"].insurance_amount,
                    paid=lambda period, due: Decimal(0) if period >= self.periods[-2] else due)
        return account

    def _maria_water(self, maria):
        account = self._account("demo-voda", MARIA_ACCOUNTS["demo-voda"], MARIA_ADDRESS, "Иванова Мария Петровна",
                                phone=MARIA_PHONE, insurance_opt_out=True)
        soon = self.today + timedelta(days=20)  # the verification reminder is due
        verified = soon - timedelta(days=6 * 365)
        cold = self._meter(account, "cold_water", "ВСХ-15-2231907", decimals=3, location="Кухня",
                           custom_name="Кухня, холодная", installed_on=verified, last_verified_on=verified,
                           verification_interval_years=6, next_verification_on=soon)
        verified = self.today - timedelta(days=2 * 365)
        hot = self._meter(account, "hot_water", "ВСГ-15-2231908", decimals=3, location="Кухня",
                          custom_name="Кухня, горячая", installed_on=verified, last_verified_on=verified,
                          verification_interval_years=4, next_verification_on=verified + timedelta(days=4 * 365))
        cold_used = self._readings(cold, 1, "345.120", (5, 8), self.periods, customer=maria)
        hot_used = self._readings(hot, 1, "210.450", (3, 5), self.periods, customer=maria)
        charges = {p: [("cold_water", 1, cold_used[p]), ("hot_water", 1, hot_used[p]),
                       ("wastewater", 1, cold_used[p] + hot_used[p])] for p in self.periods}
        # On autopay, and the last payment was 2,000 roubles more than due: overpaid.
        self._bills(account, charges,
                    paid=lambda period, due: due + 2000 if period == self.periods[-1] else due)
        return account

    def _maria_security(self):
        account = self._account("demo-ohrana", MARIA_ACCOUNTS["demo-ohrana"], MARIA_ADDRESS,
                                "Иванова Мария Петровна", phone=MARIA_PHONE, prepaid=True)
        db.session.add(Contract(supplier=self.suppliers["demo-ohrana"], number="ДО-2023-0042", kind="supply",
                                account=account, holder_name=account.holder_name, phone=MARIA_PHONE,
                                concluded_on=date(2023, 2, 10)))
        # Prepaid: a quarter paid in advance every three months, so the balance stays positive.
        self._bills(account, {p: [("security", 1, 1)] for p in self.periods},
                    paid=lambda period, due: Decimal(0) if period.month % 3 else due + 3 * 890)
        start = datetime.combine(self.today - timedelta(days=45), time(8, 5))
        for day in range(45):
            morning = start + timedelta(days=day, minutes=self.rng.randint(0, 40))
            evening = morning.replace(hour=19) + timedelta(minutes=self.rng.randint(0, 90))
            events = [(morning, "Квартира", "armed", "Поставлено на охрану с брелока"),
                      (evening, "Квартира", "disarmed", "Снято с охраны кодом хозяина")]
            if day == 30:
                events.insert(1, (morning + timedelta(hours=4), "Квартира", "alarm",
                                  "Сработал датчик двери; группа прибыла через 7 минут, ложная тревога"))
            for at, name, event, details in events:
                db.session.add(ObjectEvent(account=account, occurred_at=at, object_name=name, event=event,
                                           details=details))
        return account

    def _simple_history(self, account):
        """One meter with its last reading and the last three bills (enough for ID-2 and MT-2)."""
        code = account.supplier.code
        if code == "demo-ohrana":
            self._bills(account, {p: [("security", 1, 1)] for p in self.periods[-3:]})
            return
        kinds = ["electricity"] if code == "demo-energo" else ["cold_water", "hot_water"]
        charges = {p: [] for p in self.periods[-3:]}
        for kind in kinds:
            meter = self._meter(account, kind, f"{kind[:2].upper()}-{account.number}", decimals=2,
                                next_verification_on=date(2027 + self.rng.randint(0, 8), self.rng.randint(1, 12), 1))
            usual = {"electricity": (150, 320), "cold_water": (4, 9), "hot_water": (2, 6)}[kind]
            used = self._readings(meter, 1, str(self.rng.randint(1000, 40000)), usual, self.periods[-3:])
            for period in charges:
                charges[period].append((kind, 1, used[period]))
        if code == "demo-voda":
            for lines in charges.values():
                lines.append(("wastewater", 1, sum(volume for _code, _zone, volume in lines)))
        self._bills(account, charges, paid=lambda period, due: due if self.rng.random() < 0.7 else Decimal(0))

    def _other_account(self, code, number):
        surname = self.rng.choice(SURNAMES)
        address = (f"г. Москва, {self.rng.choice(STREETS)}, д. {self.rng.randint(1, 60)}, "
                   f"кв. {self.rng.randint(1, 240)}")
        phone = f"+7916{self.rng.randint(0, 9999999):07d}"
        account = self._account(code, number, address, f"{surname} {self.rng.choice('АВГДЕИМНОП')}. "
                                f"{self.rng.choice('АВГДЕИМНОП')}.", phone=phone, prepaid=code == "demo-ohrana")
        if code == "demo-ohrana":  # the security seed signs in by contract number (ID-3)
            db.session.add(Contract(supplier=account.supplier, number=f"ДО-2024-{number[-4:]}", account=account,
                                    holder_name=account.holder_name, phone=phone, concluded_on=date(2024, 1, 15)))
        self._simple_history(account)

    # --- payments, card, autopay, invoice -------------------------------------------------------
    def _maria_payments(self, maria, energo, voda):
        bills = {(b.account_id, b.period): b for b in db.session.execute(
            select(Bill).where(Bill.account_id.in_([energo.id, voda.id]))).scalars()}
        card = SavedCard(public_id="card_demo_maria_1", customer_id=maria.id, provider="sandbox",
                         token="sandbox_tok_5f0c9e2a7b3d41c8a6e1d2f3", masked_number="•••• 4242", brand="VISA",
                         expires="12/28", status="active")
        db.session.add(card)
        db.session.flush()
        # Paid in Kabinet: the electricity bill three months ago.
        paid = bills[(energo.id, self.periods[-3])]
        self._payment(f"pay_demo_maria_{label(paid.period)}", maria, "bills", paid.total_due,
                      add_months(paid.period, 1) + timedelta(days=5), card,
                      [PaymentItem(account=energo, bill_id=paid.id, amount=paid.total_due)])
        # Autopay of the water account on the 10th, from next month on; last month's run paid.
        autopay = Autopay(public_id="autopay_demo_maria_1", customer_id=maria.id, account=voda, card=card,
                          amount=None, day_of_month=10, starts_on=add_months(self.current, -2).replace(day=10),
                          next_run_on=add_months(self.current, 1).replace(day=10))
        db.session.add(autopay)
        for period in self.periods[-3:-1]:
            bill = bills[(voda.id, period)]
            payment = self._payment(f"pay_demo_autopay_{label(period)}", maria, "autopay", bill.total_due,
                                    add_months(period, 1) + timedelta(days=9), card,
                                    [PaymentItem(account=voda, bill_id=bill.id, amount=bill.total_due)])
            db.session.add(AutopayRun(autopay=autopay, period=add_months(period, 1), payment_id=payment.id,
                                      status="succeeded", run_at=payment.created_at))
        # Paid at a bank and reported by the billing system.
        last = bills[(voda.id, self.periods[-1])]
        db.session.add(Payment(
            public_id="pay_demo_billing_1", purpose="bills", source="billing", status="succeeded",
            amount=last.paid_in_period, external_id=f"BANK-{label(last.period)}-000731",
            created_at=datetime.combine(last.period + timedelta(days=12), time(14, 2)),
            confirmed_at=datetime.combine(last.period + timedelta(days=12), time(14, 2)),
            items=[PaymentItem(account=voda, bill_id=None, amount=last.paid_in_period)]))
        db.session.add(Invoice(number="INV-DEMO-0001", customer_id=maria.id, account_id=energo.id,
                               description="Замена однофазного прибора учёта электроэнергии",
                               amount=Decimal("3200.00"), status="open"))

    def _payment(self, public_id, customer, purpose, amount, day, card, items):
        at = datetime.combine(day, time(10, 15))
        payment = Payment(public_id=public_id, customer_id=customer.id, purpose=purpose, source="kabinet",
                          status="succeeded", amount=amount, provider="sandbox", provider_payment_id=f"sbx_{public_id}",
                          card_id=card.id, receipt_email=customer.email, receipt_sent_at=at, created_at=at,
                          confirmed_at=at, exported_at=at, items=items)
        db.session.add(payment)
        db.session.flush()
        return payment
