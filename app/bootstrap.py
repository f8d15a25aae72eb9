"""Idempotent set-up shared by the CLI, the demo loader and the tests."""
import json
import os
import re

from .workflows import deployment

BPMN_DIR = os.path.join(os.path.dirname(__file__), "bpmn")



def shipped():
    """Every ``app/bpmn/*.bpmn`` with the DMN files whose decisions it calls and its forms
    directory ``forms/<file name>``: dropping a model and its forms in is enough to ship it."""
    def text(name):
        with open(os.path.join(BPMN_DIR, name), encoding="utf-8") as handle:
            return handle.read()

    decisions = {}
    for name in sorted(os.listdir(BPMN_DIR)):
        if name.endswith(".dmn"):
            for decision in re.findall(r'<(?:\w+:)?decision\s[^>]*\bid="([^"]+)"', text(name)):
                decisions[decision] = name
    entries = []
    for name in sorted(os.listdir(BPMN_DIR)):
        if name.endswith(".bpmn"):
            called = re.findall(r"calledDecisionId>\s*([^<\s]+)\s*<", text(name))
            dmn = sorted({decisions[d] for d in called if d in decisions})
            entries.append({"bpmn": name, "dmn": dmn, "forms": f"forms/{name[:-5]}"})
    return entries



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


def shipped_process(key):
    """The shipped entry of process ``key`` (its BPMN file is ``<key>.bpmn``)."""
    return next(entry for entry in shipped() if entry["bpmn"] == f"{key}.bpmn")


def read_shipped(entry):
    def read(name):
        with open(os.path.join(BPMN_DIR, name), encoding="utf-8") as handle:
            return handle.read()

    forms = {}
    forms_dir = os.path.join(BPMN_DIR, entry["forms"])
    for name in sorted(os.listdir(forms_dir) if os.path.isdir(forms_dir) else ()):
        if name.endswith(".json"):
            forms[name] = json.loads(read(os.path.join(entry["forms"], name)))
    return read(entry["bpmn"]), [read(name) for name in entry["dmn"]], forms


def deploy_shipped(deployed_by="system"):
    results = []
    for entry in shipped():
        bpmn, dmn, forms = read_shipped(entry)
        results.append(deployment.deploy(bpmn, dmn, forms, deployed_by=deployed_by))
    return results
