"""Staff REST API: the engine's resources, all under /api/v1 and in /api/v1/_openapi."""


def register_staff_api(appbuilder):
    from .messages import MessagesApi
    from .process_definitions import ProcessDefinitionsApi
    from .process_instances import ProcessInstancesApi
    from .requests import StaffRequestsApi
    from .tasks import TasksApi

    for api in (ProcessDefinitionsApi, ProcessInstancesApi, TasksApi, MessagesApi, StaffRequestsApi):
        appbuilder.add_api(api)
