"""Every table, registered on Flask-AppBuilder's ``Model.metadata`` (the migration target)."""
from flask_appbuilder.security.sqla import models as security  # noqa: F401

from .accounts import (  # noqa: F401
    Account,
    Contract,
    CustomerAccount,
    CustomerContract,
    ImportBatch,
    ObjectEvent,
    Supplier,
    SupplierService,
    Tariff,
)
from .appeals import AppealTopic, RequestAnswer  # noqa: F401
from .billing import (  # noqa: F401
    Autopay,
    AutopayRun,
    Bill,
    BillLine,
    Invoice,
    Payment,
    PaymentCallback,
    PaymentItem,
    SavedCard,
)
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
from .meters import Meter, Reading, Reminder  # noqa: F401
from .notifications import OutboxMessage  # noqa: F401
from .offices import Appointment, Office  # noqa: F401
from .paid_services import PaidService, PaidServiceCategory  # noqa: F401
from .requests import RequestAttachment, RequestMessage, RequestStatusChange, ServiceRequest  # noqa: F401
from .schedule import DailyRun  # noqa: F401
from .staff import StaffTwoFactor  # noqa: F401
from .subscriptions import Subscription  # noqa: F401
from .support_chat import SupportChat  # noqa: F401
from .workflow import (  # noqa: F401
    HumanTask,
    Incident,
    MessageSubscription,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ServiceJob,
)
