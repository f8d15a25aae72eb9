"""Staff roles and the security-manager subclass (chosen by FAB_SECURITY_MANAGER_CLASS)."""
import time

from flask import current_app, request
from flask_appbuilder.api import expose, safe
from flask_appbuilder.const import (
    API_SECURITY_ACCESS_TOKEN_KEY,
    API_SECURITY_PROVIDER_DB,
    API_SECURITY_PROVIDER_LDAP,
    API_SECURITY_REFRESH_TOKEN_KEY,
)
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.decorators import limit
from flask_appbuilder.security.manager import BaseSecurityManager
from flask_appbuilder.security.schemas import login_post
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_jwt_extended import create_access_token, create_refresh_token
from flask_limiter.util import get_remote_address
from marshmallow import ValidationError

from .api.errors import domain_error_response
from .api.staff import two_factor_messages  # noqa: F401  (registers the error codes of the login)
from .errors import DomainError
from .services import staff_two_factor

STAFF_ROLES = ("Admin", "Operator", "Dispatcher", "Technician", "Billing", "Analyst", "ContentEditor")

# Permission names used by Kabinet's views and APIs (class_permission_name of each).
_READ = "can_read|can_list|can_show|menu_access"
_WORK_TASKS = [
    ["Tasks", "can_read|can_write|menu_access"],
    ["TaskInbox", "can_read|can_write|menu_access"],
    ["Work", "menu_access"],
]
_SEE_INSTANCES = [
    ["ProcessDefinitions", "can_read|can_start"],
    ["ProcessInstances", _READ],
    ["ProcessInstanceView", _READ],
    ["Processes", "menu_access"],
]
_OWN_ACCOUNT = [
    ["UserInfoEditView", "can_this_form_get|can_this_form_post"],
    ["ResetMyPasswordView", "can_this_form_get|can_this_form_post"],
    ["UserDBModelView", "can_userinfo|resetmypassword"],
    # Own two-factor sign-in: Безопасность → Двухфакторный вход (app/views/two_factor.py).
    ["TwoFactorView$", "can_read|can_write|menu_access"],
    ["Security$", "menu_access"],
]

_SEE_CUSTOMERS = [["CustomerView", "can_read|menu_access"], ["Customers", "menu_access"]]


def _requests(api, view):
    """Service requests on the staff API and the «Заявки» screens (app/services/staff_requests.py):
    read, write (the chat), file (in an office)."""
    return [["ServiceRequests$", api], ["ServiceRequestView$", view]]


_READ_REQUESTS = _requests("can_read", "can_read|menu_access")
_WORK_REQUESTS = _requests("can_read|can_write", "can_read|can_write|menu_access")
_FILE_REQUESTS = _requests("can_read|can_write|can_file", "can_read|can_write|can_file|menu_access")

# Счета и начисления (app/views/__init__.py register_billing_views). Anchored with "$": FAB
# matches these names as regex prefixes, and "BillView" must not grant some later "BillViewApi".
_SUPPLIER_SETUP = ("SupplierView", "TariffView", "ReadingWindowView")
_IMPORTED = ("AccountView", "CustomerAccountView", "ContractView", "ObjectEventView", "MeterView", "ReadingView",
             "AbnormalReadings", "BillView", "PaymentView", "InvoiceView", "SavedCardView", "AutopayView")


def _billing(views, permissions=_READ):
    return [[f"{view}$", permissions] for view in views] + [["Billing$", "menu_access"]]


# FAB_ROLES: regex pairs [view, permission], checked at request time, so a role's
# permissions live in code review, not in a database edit.
ROLE_PERMISSIONS = {
    # Call centre: sees every process and works its own lane's tasks.
    # Call centre also ends a customer's sessions when a phone is lost.
    "Operator": _WORK_TASKS + _FILE_REQUESTS + _SEE_INSTANCES + _SEE_CUSTOMERS + [["CustomerView", "can_write"],
                                                                   ["Messages", "can_write"]] + _OWN_ACCOUNT
    + [["OutboxView", _READ], ["Monitoring", "menu_access"]]  # outbound messages: read-only
    + [["SupportChatView$", "can_read|can_write|menu_access"]]  # answers and closes support chats (PR-11)
    + [["PaidServiceView$", _READ], ["PaidServiceCategoryView$", _READ], ["Content$", "menu_access"]]  # PR-5 prices
    + [["AppealTopicView$", _READ]]  # PR-6 topics
    + [["OfficeView$", _READ], ["AppointmentView$", _READ]]  # CT-3 offices, PR-10 booked visits
    + _billing(_SUPPLIER_SETUP + _IMPORTED),  # answers questions on accounts, bills and payments
    # Dispatchers may cancel/suspend/resume/retry, on the API and on the instance screen alike.
    "Dispatcher": _WORK_TASKS + _WORK_REQUESTS + _SEE_INSTANCES + [
        ["ProcessInstances", "can_write"],
        ["ProcessInstanceView", "can_write"],
    ] + _OWN_ACCOUNT + _billing(("MeterView", "ReadingView")),  # plans meter visits
    "Technician": _WORK_TASKS + _WORK_REQUESTS + [["Messages", "can_write"]] + _OWN_ACCOUNT
    + _billing(("MeterView",)),
    # Billing sets up suppliers, tariffs and windows; imported data changes only by import.
    "Billing": _WORK_TASKS + _READ_REQUESTS + _SEE_INSTANCES + _SEE_CUSTOMERS + [["Messages", "can_write"]]
    + _OWN_ACCOUNT
    + _billing(_SUPPLIER_SETUP, "can_read|can_write|can_list|can_show|menu_access") + _billing(_IMPORTED)
    + [["BillingImportView$", "can_read|can_write|menu_access"]],  # imports and exports (billing_import)
    # Analysts model and deploy processes and run the monitor.
    "Analyst": _WORK_TASKS + _SEE_INSTANCES + [
        ["ProcessDefinitions", "can_read|can_write|can_start|menu_access"],
        ["ProcessDefinitionView", ".*"],
        ["ProcessInstances", "can_write"],
        ["ProcessInstanceView", ".*"],
        ["IncidentView", ".*"],
        ["Incidents", "menu_access"],
        ["Messages", "can_write"],
    ] + _OWN_ACCOUNT + _billing(_SUPPLIER_SETUP + ("ReadingView", "AbnormalReadings", "BillView", "PaymentView",
                                                   "InvoiceView")),
    # Tariffs and reading windows are published content (SPEC AD-6): read here, set by Billing.
    "ContentEditor": [["Content", "menu_access"]] + _OWN_ACCOUNT + _billing(("TariffView", "ReadingWindowView"))
    + [["PaidServiceView$", f"{_READ}|can_write"], ["PaidServiceCategoryView$", f"{_READ}|can_write"]]  # PR-5
    + [["AppealTopicView$", f"{_READ}|can_write"]]  # PR-6
    + [["OfficeView$", f"{_READ}|can_write"], ["AppointmentView$", _READ]],  # CT-3, PR-10
}


def _login_doc():
    """FAB's OpenAPI text of the login, with the second factor's fields and refusals."""
    doc = SecurityApi.login.__doc__
    doc = doc.replace("""                    refresh:
""", """                    totp:
                      description: >-
                        The 6-digit code of the authenticator app; required when the user has
                        two-factor sign-in (else 401 two_factor_required)
                      example: "123456"
                      type: string
                    recovery_code:
                      description: A one-time recovery code, instead of totp
                      example: abcde-fghjk
                      type: string
                    refresh:
""", 1)
    return doc.replace("""            500:
""", """            403:
              description: >-
                two_factor_enrolment_required: the user's role requires two-factor sign-in
                and it is not set up (enrol in the web interface)
            429:
              description: too many sign-ins, or too many wrong second-factor codes
            500:
""", 1)


class StaffSecurityApi(SecurityApi):
    """FAB's JWT login with Kabinet's additions: its own rate limit (FAB's AUTH_RATE_LIMITED
    covers only the HTML login) and the second factor (``totp`` or ``recovery_code`` in the body)
    for users with two-factor sign-in."""

    @expose("/login", methods=["POST"])
    @limit(lambda: current_app.config["STAFF_API_LOGIN_RATE_LIMIT"], key_func=get_remote_address)
    @safe
    def login(self):
        if not request.is_json:
            return self.response_400(message="Request payload is not JSON")
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return self.response_400(message="Request payload is not JSON")
        payload = dict(payload)
        second_factor = {name: payload.pop(name, None) for name in ("totp", "recovery_code")}
        try:
            login_payload = login_post.load(payload)
        except ValidationError as error:
            return self.response_400(message=error.messages)
        user = None
        if login_payload.get("provider") == API_SECURITY_PROVIDER_DB:
            user = self.appbuilder.sm.auth_user_db(login_payload["username"], login_payload["password"])
        elif login_payload.get("provider") == API_SECURITY_PROVIDER_LDAP:
            user = self.appbuilder.sm.auth_user_ldap(login_payload["username"], login_payload["password"])
        if not user:
            return self.response_401()
        try:
            staff_two_factor.login_check(user, **second_factor)
        except DomainError as exc:
            return domain_error_response(exc)
        tokens = {API_SECURITY_ACCESS_TOKEN_KEY: create_access_token(identity=str(user.id), fresh=True)}
        if login_payload.get("refresh"):
            tokens[API_SECURITY_REFRESH_TOKEN_KEY] = create_refresh_token(identity=str(user.id))
        return self.response(200, **tokens)

    login.__doc__ = _login_doc()


PUBLIC_PERMISSIONS_TTL = 30.0


class KabinetSecurityManager(SecurityManager):
    security_api = StaffSecurityApi
    # authdbview (KabinetAuthDBView) is set in register_views
    _public_permissions = None  # (read at, frozenset of (view, permission))

    def is_item_public(self, permission_name, view_name):
        """FAB reads the Public role's permissions from the database on every request (two
        queries, ~40% of an authenticated API call); they change only when an admin edits that
        role, so they are kept for PUBLIC_PERMISSIONS_TTL seconds."""
        now = time.monotonic()
        cached = self._public_permissions
        if cached is None or now - cached[0] > PUBLIC_PERMISSIONS_TTL:
            names = frozenset((p.view_menu.name, p.permission.name) for p in self.get_public_permissions())
            self._public_permissions = cached = (now, names)
        return (view_name, permission_name) in cached[1]

    def register_views(self):
        # Imported here, not at the top: the screens import the engine (app.views.common →
        # app.workflows), whose lanes import STAFF_ROLES from this module.
        from .views.two_factor import KabinetAuthDBView, register_two_factor_views

        self.authdbview = KabinetAuthDBView  # the login form, then the second step
        super().register_views()
        if current_app.config.get("FAB_ADD_SECURITY_VIEWS", True):
            register_two_factor_views(self.appbuilder)

    def sync_roles(self):
        """Create the built-in roles (FAB_CREATE_DB is off: migrations own the tables)."""
        BaseSecurityManager.create_db(self)
        for role in STAFF_ROLES:
            self.add_role(role)
