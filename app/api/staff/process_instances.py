"""Staff REST: search, inspect and act on process instances."""
from flask import request
from flask_appbuilder.api import expose, protect

from ...workflows import instances
from ..base import KabinetApi
from .schemas import EventSchema, IncidentSchema, InstanceDetailSchema, InstanceSchema, MigrateSchema
from .tasks import dump_task

STATUSES = ("running", "waiting", "completed", "error", "cancelled", "suspended")


def instance_detail(instance):
    """The InstanceDetailSchema document (its parts dumped by their own schemas)."""
    return {
        **InstanceSchema().dump(instance),
        "data": instances.data_of(instance),
        "open_tasks": [dump_task(t) for t in instances.open_tasks(instance.id)],
        "events": EventSchema(many=True).dump(instances.history(instance.id)),
        "incidents": IncidentSchema(many=True).dump(instances.incidents(instance.id)),
    }


class ProcessInstancesApi(KabinetApi):
    resource_name = "process-instances"
    route_base = "/api/v1/process-instances"
    class_permission_name = "ProcessInstances"
    method_permission_name = {
        "search": "read", "detail": "read", "cancel": "write", "suspend": "write", "resume": "write", "retry": "write",
        "migrate": "write",
    }
    openapi_spec_tag = "Process instances"
    # HumanTask, Event and Incident schemas come in nested in InstanceDetailSchema.
    openapi_spec_component_schemas = (InstanceSchema, InstanceDetailSchema, MigrateSchema)

    @expose("/", methods=["GET"])
    @protect()
    def search(self):
        """Instances filtered by key, status, business key and current activity.
        ---
        get:
          summary: Search instances
          parameters:
          - {in: query, name: key, schema: {type: string}}
          - {in: query, name: status, schema: {type: string, enum: [running, waiting, completed, error, cancelled, suspended]}}
          - {in: query, name: business_key, schema: {type: string}}
          - {in: query, name: activity, schema: {type: string}, description: name of an activity the instance stands at}
          - {in: query, name: page, schema: {type: integer, minimum: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200:
              description: A page of instances
        """
        args = request.args
        status = args.get("status")
        if status and status not in STATUSES:
            return self.response_error(422, {"status": [f"one of {', '.join(STATUSES)}"]})
        page, page_size = self.page_args()
        rows, total = instances.search(args.get("key"), status, args.get("business_key"), args.get("activity"),
                                       page, page_size)
        return self.response(200, result=InstanceSchema(many=True).dump(rows), count=total, page=page,
                             page_size=page_size)

    @expose("/<int:instance_id>", methods=["GET"])
    @protect()
    def detail(self, instance_id):
        """Status, data, current activities, open tasks, incidents and history.
        ---
        get:
          summary: One instance
          parameters:
          - {in: path, name: instance_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/InstanceDetailSchema'}}}
            404: {description: No such instance}
        """
        return self.response(200, **instance_detail(instances.get(instance_id)))

    def _act(self, action, instance_id):
        instance = action(instance_id, self.actor())
        return self.response(200, **instance_detail(instance))

    @expose("/<int:instance_id>/cancel", methods=["POST"])
    @protect()
    def cancel(self, instance_id):
        """Cancel a running, waiting, failed or suspended instance.
        ---
        post:
          summary: Cancel
          parameters:
          - {in: path, name: instance_id, required: true, schema: {type: integer}}
          responses:
            200: {description: The cancelled instance}
            404: {description: No such instance}
            409: {description: Already completed or cancelled}
        """
        return self._act(instances.cancel, instance_id)

    @expose("/<int:instance_id>/suspend", methods=["POST"])
    @protect()
    def suspend(self, instance_id):
        """Suspend: no timers fire, no task or message is taken until it is resumed.
        ---
        post:
          summary: Suspend
          parameters:
          - {in: path, name: instance_id, required: true, schema: {type: integer}}
          responses:
            200: {description: The suspended instance}
            409: {description: Not active}
        """
        return self._act(instances.suspend, instance_id)

    @expose("/<int:instance_id>/resume", methods=["POST"])
    @protect()
    def resume(self, instance_id):
        """Resume a suspended instance and run it on.
        ---
        post:
          summary: Resume
          parameters:
          - {in: path, name: instance_id, required: true, schema: {type: integer}}
          responses:
            200: {description: The resumed instance}
            409: {description: Not suspended}
        """
        return self._act(instances.resume, instance_id)

    @expose("/<int:instance_id>/retry", methods=["POST"])
    @protect()
    def retry(self, instance_id):
        """Retry after incidents: failed service tasks are queued again, failed scripts rerun.
        ---
        post:
          summary: Retry
          parameters:
          - {in: path, name: instance_id, required: true, schema: {type: integer}}
          responses:
            200: {description: The instance after the retry}
            409: {description: Nothing to retry}
        """
        return self._act(instances.retry, instance_id)

    @expose("/<int:instance_id>/migrate", methods=["POST"])
    @protect()
    def migrate(self, instance_id):
        """Move an instance to another version of its process.
        ---
        post:
          summary: Migrate to a version
          parameters:
          - {in: path, name: instance_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema: {$ref: '#/components/schemas/MigrateSchema'}
          responses:
            200: {description: The instance on the new version}
            404: {description: No such instance or version}
            409: {description: Same version, or the target lacks a step the instance stands at}
        """
        version = MigrateSchema().load(self.json_body())["version"]
        instance = instances.migrate(instance_id, version, self.actor())
        return self.response(200, **instance_detail(instance))
