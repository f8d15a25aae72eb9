"""Kabinet: the application factory."""
import logging
import os

from flask import Flask
from flask_appbuilder import AppBuilder
from werkzeug.middleware.proxy_fix import ProxyFix

from config import INSTANCE_DIR, Config

from .extensions import db, migrate


def create_app(config=None):
    """Build a fresh app: its own AppBuilder, engine binding and job runner.

    ``config`` is a mapping of overrides on top of :class:`config.Config`; many apps with
    different databases can live in one process (the tests do this).
    """
    app = Flask(__name__, instance_path=INSTANCE_DIR)
    app.config.from_object(Config)
    app.json.ensure_ascii = False  # Russian messages readable on the wire
    if config:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)
    if app.config["TRUSTED_PROXIES"]:
        # Behind a load balancer the client's address is in X-Forwarded-For; per-IP limits and
        # the security log need it, and only the trusted hops may set it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"],
                                x_proto=app.config["TRUSTED_PROXIES"])
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    logging.getLogger("spiff").setLevel(logging.WARNING)  # one line per task state change
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # fpdf2 subsetting fonts: a line per table

    from . import models  # noqa: F401  (registers every table on Model.metadata)
    from .security import ROLE_PERMISSIONS

    app.config.setdefault("FAB_ROLES", ROLE_PERMISSIONS)
    # Migrations own the schema; permissions are synced by `flask kabinet init`, so the app
    # can start before the tables exist (e.g. for `flask db upgrade`).
    app.config.setdefault("FAB_CREATE_DB", False)
    app.config["FAB_UPDATE_PERMS"] = app.config.get("FAB_UPDATE_PERMS_ON_START", False)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))

    with app.app_context():
        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)
        _register(app, appbuilder)

    from .services import oidc
    from .workflows import jobs

    with app.app_context():
        oidc.providers()  # a misconfigured OpenID Connect provider stops the start, not a sign-in

    jobs.init_app(app)
    return app


def _register(app, appbuilder):
    from .api import errors, health
    from .api.client import register_client_api
    from .api.staff import register_staff_api
    from .cli import register_cli
    from .views import register_views
    from .views.email_confirmation import blueprint as email_confirmation_page
    from .api.payment_callbacks import PaymentCallbackApi
    from .api.public_requests import PublicRequestStatusApi
    from .views.sandbox_payments import blueprint as sandbox_payment_page

    errors.register(app)
    errors.register_jwt_errors(appbuilder.sm.jwt_manager)
    health.register(app)
    register_staff_api(appbuilder)
    register_client_api(appbuilder)
    register_views(appbuilder)
    app.register_blueprint(email_confirmation_page)  # the public page of email links
    appbuilder.add_api(PaymentCallbackApi)  # signed by the provider, no token
    appbuilder.add_api(PublicRequestStatusApi)  # no sign-in, limited per IP
    if app.config["PAYMENT_PROVIDER"] == "sandbox":
        # The sandbox provider's hosted page (a bank's page, not ours): absent with a real provider.
        app.register_blueprint(sandbox_payment_page)
        if app.extensions.get("csrf"):
            app.extensions["csrf"].exempt(sandbox_payment_page)
    register_cli(app)
