"""Client REST API for customers' apps: /api/v1/client/…, in the same OpenAPI document."""
from . import st00012_messages  # noqa: F401  (QR payload errors are raised by several features)


def register_client_api(appbuilder):
    from ..support_chat import ClientSupportChatApi, PublicSupportChatApi
    from .accounts import ClientAccountsApi, ClientContractsApi
    from .appeal_topics import ClientAppealTopicsApi
    from .appointments import ClientAppointmentsApi
    from .auth import ClientAuthApi
    from .autopay import ClientAutopayApi
    from .bills import ClientBillsApi
    from .cards import ClientCardsApi
    from .devices import ClientDevicesApi
    from .meters import ClientMetersApi
    from .oidc import ClientOidcApi
    from .paid_services import PublicPaidServicesApi
    from .payments import ClientInvoicesApi, ClientPaymentsApi, ClientTopUpApi
    from .power_calculator import ClientPowerCalculatorApi, PublicPowerCalculatorApi
    from .profile import ClientProfileApi
    from .registration import ClientRegistrationApi
    from .requests import ClientRequestsApi
    from .subscriptions import ClientSubscriptionsApi

    for api in (ClientAuthApi, ClientDevicesApi, ClientOidcApi, ClientProfileApi, ClientBillsApi, ClientMetersApi,
                ClientPaymentsApi, ClientTopUpApi, ClientInvoicesApi, ClientCardsApi, ClientAutopayApi,
                ClientAccountsApi, ClientContractsApi, ClientRegistrationApi, ClientRequestsApi,
                PublicPowerCalculatorApi, ClientPowerCalculatorApi, PublicSupportChatApi, ClientSupportChatApi,
                ClientSubscriptionsApi, ClientAppointmentsApi, PublicPaidServicesApi, ClientAppealTopicsApi):
        appbuilder.add_api(api)
