"""Every table, registered on Flask-AppBuilder's ``Model.metadata`` (the migration target)."""
from flask_appbuilder.security.sqla import models as security  # noqa: F401

from .customers import (  # noqa: F401
    Customer,
    CustomerDevice,
    CustomerSession,
    FederatedIdentity,
    OidcLogin,
    OneTimeCode,
    RefreshToken,
    SecurityEvent,
)
from .notifications import OutboxMessage  # noqa: F401
from .staff import StaffTwoFactor  # noqa: F401
from .workflow import (  # noqa: F401
    HumanTask,
    Incident,
    MessageSubscription,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ServiceJob,
)
