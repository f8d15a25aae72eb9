"""GET /health: the database, Redis and queue depths, as JSON for load balancers and people."""
import time

from flask import current_app, jsonify
from sqlalchemy import text

from ..extensions import db, redis_connection
from ..services import outbox
from ..workflows import jobs


def _check(func):
    started = time.perf_counter()
    try:
        detail = func()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **(detail or {})}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def _database():
    db.session.execute(text("SELECT 1"))
    return {"dialect": db.engine.dialect.name}


def _redis():
    conn = redis_connection()
    if conn is None:
        return {"configured": False}
    conn.ping()
    return {"configured": True}


def register(app):
    @app.route("/health")
    def health():
        checks = {"database": _check(_database), "redis": _check(_redis)}
        checks["queues"] = _check(lambda: {"depths": jobs.queue_depths(current_app), "jobs_backend":
                                           current_app.config["JOBS_BACKEND"]})
        checks["timers"] = _check(lambda: {"due": jobs.due_instances_count()})
        checks["outbox"] = _check(outbox.backlog)  # messages not yet sent, by status
        healthy = all(check["ok"] for check in checks.values())
        body = {"status": "ok" if healthy else "degraded", **checks}
        return jsonify(body), 200 if healthy else 503
