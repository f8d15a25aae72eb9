"""Client REST API for customers' apps: /api/v1/client/…, in the same OpenAPI document."""


def register_client_api(appbuilder):
    from .auth import ClientAuthApi
    from .devices import ClientDevicesApi
    from .oidc import ClientOidcApi
    from .profile import ClientProfileApi

    for api in (ClientAuthApi, ClientDevicesApi, ClientOidcApi, ClientProfileApi):
        appbuilder.add_api(api)
