"""Staff and integration REST: deliver a BPMN message."""
from flask_appbuilder.api import expose, protect

from ...workflows import messages
from ..base import KabinetApi
from .schemas import InstanceSchema, MessageResultSchema, MessageSchema

message_schema = MessageSchema()


class MessagesApi(KabinetApi):
    resource_name = "messages"
    route_base = "/api/v1/messages"
    class_permission_name = "Messages"
    method_permission_name = {"send": "write"}
    openapi_spec_tag = "Messages"
    openapi_spec_component_schemas = (MessageSchema, MessageResultSchema)

    @expose("/<name>", methods=["POST"])
    @protect()
    def send(self, name):
        """Deliver a message to the instances waiting for it with these correlation values
        (or start instances of processes with a message start event of this name).
        ---
        post:
          summary: Send a message
          parameters:
          - {in: path, name: name, required: true, schema: {type: string}}
          requestBody:
            required: true
            content:
              application/json:
                schema: {$ref: '#/components/schemas/MessageSchema'}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/MessageResultSchema'}}}
            409: {description: Nobody waits for this message with this correlation}
            422: {description: Invalid input}
        """
        payload = message_schema.load(self.json_body())
        received = messages.send(name, payload["correlation"], payload["payload"], actor=self.actor())
        return self.response(200, message=name, instances=InstanceSchema(many=True).dump(received))
