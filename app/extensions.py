"""The few process-wide objects.

Flask-SQLAlchemy and Flask-Migrate support ``init_app`` on many apps, so one instance of each
serves every app the factory builds; AppBuilder cannot, so the factory makes one per app.
"""
import sqlite3

import redis
from flask import current_app
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from sqlalchemy import event
from sqlalchemy.engine import Engine

db = SQLA()
migrate = Migrate(render_as_batch=True, compare_type=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """The embedded default: WAL lets readers go on while a change commits, and NORMAL sync
    is durable across application crashes (commits cost a journal fsync less)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def redis_connection(app=None):
    """The app's Redis connection (one pool per app), or None in the embedded default."""
    app = app or current_app
    conn = app.extensions.get("kabinet_redis")
    if conn is None and app.config.get("REDIS_URL"):
        conn = redis.Redis.from_url(app.config["REDIS_URL"])
        app.extensions["kabinet_redis"] = conn
    return conn
