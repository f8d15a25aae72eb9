"""The bare baselines of bench/client_api_bench.py: Flask + SQLAlchemy doing the database work of
Kabinet's two endpoints with none of the platform (no Flask-AppBuilder, Flask-Limiter,
Flask-SQLAlchemy, marshmallow, error catalogue or service layer). ``BARE_MODE`` chooses:

  orm   Kabinet's own statement objects and models, run on a plain SQLAlchemy Session: exactly
        the same SQL and the same loading (ORM entities for the session and the customer, plain
        rows for the rest), so the difference is the platform's overhead.
  core  hand-written SQL text on a Core connection, rows as tuples: the least Python there can
        be around the same database work (one more statement for the reading: Kabinet finds the
        meter and the link together).

Per request (counted with a statement listener):
  auth      JWT check (PyJWT, same key), then the session joined with its customer
  summary   links with accounts and suppliers; latest bills with what was paid since; their lines
  reading   the meter with its supplier's window and the customer's link; the meter's recent
            readings; the INSERT or UPDATE of the period's row; COMMIT
"""
import hashlib
import hmac
import os
from datetime import date, datetime, timezone
from decimal import Decimal

import jwt
import sqlalchemy as sa
from flask import Flask, abort, g, jsonify, request

SUMMARY_LINKS = sa.text("""
    SELECT ca.account_id, ca.alias, ca.verified_at, ca.ebill, a.number, a.address, a.closed,
           s.code, s.name, s.kind
    FROM customer_account ca JOIN account a ON a.id = ca.account_id JOIN supplier s ON s.id = a.supplier_id
    WHERE ca.customer_id = :customer_id ORDER BY ca.linked_at, ca.id""")
LATEST_BILLS = sa.text("""
    SELECT b.account_id, b.id, b.period, b.total_due,
           (SELECT coalesce(sum(pi.amount), 0) FROM payment_item pi JOIN payment p ON p.id = pi.payment_id
            WHERE pi.account_id = b.account_id AND pi.invoice_id IS NULL AND p.status = 'succeeded'
              AND p.confirmed_at >= b.issued_on) AS paid
    FROM bill b JOIN (SELECT account_id, max(period) AS period FROM bill
                      WHERE account_id IN :account_ids GROUP BY account_id) latest
      ON latest.account_id = b.account_id AND latest.period = b.period""").bindparams(
    sa.bindparam("account_ids", expanding=True))
BILL_LINES = sa.text("""
    SELECT bill_id, service_name FROM bill_line WHERE bill_id IN :bill_ids ORDER BY bill_id, position, id""").bindparams(
    sa.bindparam("bill_ids", expanding=True))
METER = sa.text("""
    SELECT m.id, m.account_id, m.zones, m.decimals, m.active, s.reading_window_start_day AS opens,
           s.reading_window_end_day AS closes, s.abnormal_consumption_factor AS factor
    FROM meter m JOIN account a ON a.id = m.account_id JOIN supplier s ON s.id = a.supplier_id
    WHERE m.id = :meter""")
LINK = sa.text("SELECT verified_at FROM customer_account WHERE customer_id = :customer AND account_id = :account")
RECENT = sa.text("""
    SELECT id, period, zone, value FROM reading WHERE meter_id = :meter AND period <= :period
    ORDER BY period DESC LIMIT :limit""")
UPDATE = sa.text("""
    UPDATE reading SET value = :value, previous_value = :previous, consumption = :consumption, abnormal = :abnormal,
           source = 'customer', customer_id = :customer, updated_at = :now, exported_at = NULL WHERE id = :id""")
INSERT = sa.text("""
    INSERT INTO reading (meter_id, period, zone, value, previous_value, consumption, source, customer_id, abnormal,
                         submitted_at, updated_at)
    VALUES (:meter, :period, :zone, :value, :previous, :consumption, 'customer', :customer, :abnormal, :now, :now)""")
SESSION = sa.text("""
    SELECT s.customer_id, s.revoked_at, s.expires_at, c.status FROM customer_session s
    JOIN customer c ON c.id = s.customer_id WHERE s.public_id = :sid""")


def create_app():
    mode = os.environ.get("BARE_MODE", "core")
    return {"core": _core_app, "orm": _orm_app}[mode]()


def _key():
    return hmac.new(os.environ["SECRET_KEY"].encode(), b"kabinet:customer-access", hashlib.sha256).digest()


def _claims(key):
    _scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        return jwt.decode(token, key, algorithms=["HS256"], audience="kabinet-client")
    except jwt.PyJWTError:
        abort(401)


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _orm_app():
    """The same statements and models as Kabinet's services, on a plain Session."""
    from sqlalchemy.orm import sessionmaker

    from app.services.accounts import _LATEST_BILLS, _LINKED, _SERVICES
    from app.services.customer_sessions import _SESSION_WITH_CUSTOMER
    from app.services.meters import _SUBMITTABLE
    from app.services.readings import _INSERT, _RECENT, _UPDATE

    app = Flask(__name__)
    engine = sa.create_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=10)
    Session = sessionmaker(engine)
    key = _key()

    @app.get("/health")
    def health():
        return {"status": "ok"}

    def authenticate(session):
        claims = _claims(key)
        found = session.execute(_SESSION_WITH_CUSTOMER, {"sid": claims["sid"]}).one_or_none()
        if found is None or found[0].revoked_at or found[0].expires_at <= _now() or found[1].status != "active":
            abort(401)
        return found[1]

    @app.get("/api/v1/client/accounts/summary")
    def summary():
        with Session() as session:
            customer = authenticate(session)
            return jsonify(_summary(session, (_LINKED, _LATEST_BILLS, _SERVICES), customer.id))

    @app.post("/api/v1/client/meters/<int:meter_id>/readings")
    def submit(meter_id):
        values = _values(request.get_json())
        today = date.today()
        period = today.replace(day=1)
        with Session() as session:
            customer = authenticate(session)
            meter = session.execute(_SUBMITTABLE, {"meter_id": meter_id, "customer_id": customer.id}).one_or_none()
            if meter is None:
                abort(404)
            if meter.verified_at is None or not meter.active or not (
                    meter.reading_window_start_day <= today.day <= meter.reading_window_end_day):
                abort(409)
            recent = session.execute(_RECENT, {"meter_id": meter.id, "period": period, "rows": 8 * meter.zones}).all()
            shown, now = [], _now()
            for zone, value in values.items():
                current = next((r for r in recent if r.zone == zone and r.period == period), None)
                previous = next((r.value for r in recent if r.zone == zone and r.period < period), None)
                if previous is not None and value < previous:
                    abort(422)
                consumption = value - previous if previous is not None else None
                changes = {"value": value, "previous_value": previous, "consumption": consumption, "abnormal": False,
                           "source": "customer", "customer_id": customer.id, "updated_at": now, "exported_at": None}
                if current is None:
                    session.execute(_INSERT, {"meter_id": meter.id, "period": period, "zone": zone,
                                              "submitted_at": now, "photo_path": None, **changes})
                else:
                    session.execute(_UPDATE, {"row_id": current.id, **changes})
                shown.append({"zone": zone, "value": f"{value}", "consumption": f"{consumption}"})
            session.commit()
        return jsonify(meter_id=meter_id, period=period.isoformat()[:7], readings=shown)

    return app


def _values(body):
    return {int(entry["zone"]): Decimal(str(entry["value"])) for entry in body["values"]}


def _summary(conn, statements, customer_id):
    """The summary's three statements (links, latest bills with payments, their lines) and its answer."""
    linked, latest, lines = statements
    links = conn.execute(linked, {"customer_id": customer_id}).all()
    bills = {row.account_id: row for row in conn.execute(
        latest, {"account_ids": [link.account_id for link in links]})} if links else {}
    services = {}
    if bills:
        for bill_id, name in conn.execute(lines, {"bill_ids": [bill.id for bill in bills.values()]}):
            services.setdefault(bill_id, []).append(name)
    accounts, total = [], Decimal(0)
    for link in links:
        bill = bills.get(link.account_id)
        due = max(Decimal(bill.total_due) - Decimal(str(bill.paid)), Decimal(0)) if bill else Decimal(0)
        total += due
        accounts.append({"id": link.account_id, "number": link.number, "address": link.address,
                         "supplier": {"code": link.code, "name": link.name}, "amount_due": f"{due:.2f}",
                         "services": services.get(bill.id, []) if bill else []})
    return {"accounts": accounts, "total": {"amount_due": f"{total:.2f}", "accounts": len(accounts)}}


def _core_app():
    """Hand-written SQL on a Core connection."""
    app = Flask(__name__)
    engine = sa.create_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=10)
    key = _key()

    @app.get("/health")
    def health():
        return {"status": "ok"}

    def authenticate(conn):
        row = conn.execute(SESSION, {"sid": _claims(key)["sid"]}).first()
        if row is None or row.revoked_at or row.expires_at <= _now() or row.status != "active":
            abort(401)
        g.customer = row.customer_id

    @app.get("/api/v1/client/accounts/summary")
    def summary():
        with engine.connect() as conn:
            authenticate(conn)
            return jsonify(_summary(conn, (SUMMARY_LINKS, LATEST_BILLS, BILL_LINES), g.customer))

    @app.post("/api/v1/client/meters/<int:meter_id>/readings")
    def submit(meter_id):
        values = _values(request.get_json())
        today = date.today()
        period = today.replace(day=1)
        now = _now()
        with engine.begin() as conn:
            authenticate(conn)
            meter = conn.execute(METER, {"meter": meter_id}).first()
            if meter is None:
                abort(404)
            link = conn.execute(LINK, {"customer": g.customer, "account": meter.account_id}).first()
            if link is None or link.verified_at is None or not meter.active:
                abort(404)
            if not meter.opens <= today.day <= meter.closes:
                abort(409)
            recent = conn.execute(RECENT, {"meter": meter_id, "period": period, "limit": 8 * meter.zones}).all()
            shown = []
            for zone, value in values.items():
                current = next((r for r in recent if r.zone == zone and r.period == period), None)
                earlier = [r for r in recent if r.zone == zone and r.period < period]
                previous = earlier[0].value if earlier else None
                if previous is not None and value < previous:
                    abort(422)
                consumption = value - previous if previous is not None else None
                params = {"value": value, "previous": previous, "consumption": consumption, "abnormal": False,
                          "customer": g.customer, "now": now}
                if current is None:
                    conn.execute(INSERT, {**params, "meter": meter_id, "period": period, "zone": zone})
                else:
                    conn.execute(UPDATE, {**params, "id": current.id})
                shown.append({"zone": zone, "value": f"{value}", "consumption": f"{consumption}"})
        return jsonify(meter_id=meter_id, period=period.isoformat()[:7], readings=shown)

    return app
