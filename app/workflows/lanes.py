"""Lanes name roles: a user task's lane decides who may work it."""
from ..security import STAFF_ROLES

CUSTOMER = "Customer"
_ALIASES = {"customer": CUSTOMER, "клиент": CUSTOMER, "заявитель": CUSTOMER, "потребитель": CUSTOMER}
_ROLES = {role.lower(): role for role in STAFF_ROLES}


def lane_role(lane):
    """The staff role (or ``CUSTOMER``) a lane names, matched case-insensitively; None if none."""
    if not lane:
        return None
    name = lane.strip().lower()
    return _ROLES.get(name) or _ALIASES.get(name)
