"""Staff roles and the security-manager subclass (chosen by FAB_SECURITY_MANAGER_CLASS)."""
import time

from flask import current_app
from flask_appbuilder.api import expose, safe
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.decorators import limit
from flask_appbuilder.security.manager import BaseSecurityManager
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_limiter.util import get_remote_address

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
]

# FAB_ROLES: regex pairs [view, permission], checked at request time, so a role's
# permissions live in code review, not in a database edit.
ROLE_PERMISSIONS = {
    # Call centre: sees every process and works its own lane's tasks.
    "Operator": _WORK_TASKS + _SEE_INSTANCES + [["Messages", "can_write"]] + _OWN_ACCOUNT,
    # Dispatchers may cancel/suspend/resume/retry, on the API and on the instance screen alike.
    "Dispatcher": _WORK_TASKS + _SEE_INSTANCES + [
        ["ProcessInstances", "can_write"],
        ["ProcessInstanceView", "can_write"],
    ] + _OWN_ACCOUNT,
    "Technician": _WORK_TASKS + [["Messages", "can_write"]] + _OWN_ACCOUNT,
    "Billing": _WORK_TASKS + _SEE_INSTANCES + [["Messages", "can_write"]] + _OWN_ACCOUNT,
    # Analysts model and deploy processes and run the monitor.
    "Analyst": _WORK_TASKS + _SEE_INSTANCES + [
        ["ProcessDefinitions", "can_read|can_write|can_start|menu_access"],
        ["ProcessDefinitionView", ".*"],
        ["ProcessInstances", "can_write"],
        ["ProcessInstanceView", ".*"],
        ["IncidentView", ".*"],
        ["Incidents", "menu_access"],
        ["Messages", "can_write"],
    ] + _OWN_ACCOUNT,
    "ContentEditor": [["Content", "menu_access"]] + _OWN_ACCOUNT,
}


class StaffSecurityApi(SecurityApi):
    """FAB's AUTH_RATE_LIMITED covers only the HTML login; the JWT login gets its own limit."""

    @expose("/login", methods=["POST"])
    @limit(lambda: current_app.config["STAFF_API_LOGIN_RATE_LIMIT"], key_func=get_remote_address)
    @safe
    def login(self):
        return super().login()

    login.__doc__ = SecurityApi.login.__doc__


PUBLIC_PERMISSIONS_TTL = 30.0


class KabinetSecurityManager(SecurityManager):
    security_api = StaffSecurityApi
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

    def sync_roles(self):
        """Create the built-in roles (FAB_CREATE_DB is off: migrations own the tables)."""
        BaseSecurityManager.create_db(self)
        for role in STAFF_ROLES:
            self.add_role(role)
