"""Idempotent set-up shared by the CLI, the demo loader and the tests."""
import json
import os

from .workflows import deployment

BPMN_DIR = os.path.join(os.path.dirname(__file__), "bpmn")

# Each shipped process: its BPMN file, the DMN files it calls and its forms directory.
SHIPPED = [
    {"bpmn": "meter_verification.bpmn", "dmn": ["verification_priority.dmn"], "forms": "forms/meter_verification"},
]


def init_security(app):
    appbuilder = app.appbuilder
    appbuilder.sm.sync_roles()
    appbuilder.add_permissions(update_perms=True)


def ensure_staff(app, accounts, password, domain):
    """Create the staff users that do not exist yet: ``accounts`` is ``[(login, role, first, last)]``.
    Returns how many were created."""
    sm = app.appbuilder.sm
    created = 0
    for username, role, first, last in accounts:
        if sm.find_user(username=username) is None:
            sm.add_user(username, first, last, f"{username}@{domain}", [sm.find_role(role)], password)
            created += 1
    return created


def read_shipped(entry):
    def read(name):
        with open(os.path.join(BPMN_DIR, name), encoding="utf-8") as handle:
            return handle.read()

    forms = {}
    forms_dir = os.path.join(BPMN_DIR, entry["forms"])
    for name in sorted(os.listdir(forms_dir)):
        if name.endswith(".json"):
            forms[name] = json.loads(read(os.path.join(entry["forms"], name)))
    return read(entry["bpmn"]), [read(name) for name in entry["dmn"]], forms


def deploy_shipped(deployed_by="system"):
    results = []
    for entry in SHIPPED:
        bpmn, dmn, forms = read_shipped(entry)
        results.append(deployment.deploy(bpmn, dmn, forms, deployed_by=deployed_by))
    return results
