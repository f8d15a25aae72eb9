"""Marshmallow schemas of the staff engine API (input validation and OpenAPI components)."""
from marshmallow import Schema, ValidationError, fields, validate


class JsonObject(fields.Dict):
    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("Must be an object.")
        return super()._deserialize(value, attr, data, **kwargs)


class DeploySchema(Schema):
    bpmn = fields.String(required=True, validate=validate.Length(min=1, max=2_000_000),
                         metadata={"description": "BPMN 2.0 XML"})
    dmn = fields.List(fields.String(validate=validate.Length(max=2_000_000)), load_default=list,
                      metadata={"description": "DMN XML documents the process calls"})
    forms = JsonObject(keys=fields.String(), values=fields.Dict(), load_default=dict,
                       metadata={"description": "Task forms: file name → JSON Schema"})
    key = fields.String(load_default=None, metadata={"description": "Process id, when the file has several"})


class DefinitionSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    checksum = fields.String()
    message_starts = fields.List(fields.String())
    forms = fields.List(fields.String(), attribute="form_names")
    deployed_by = fields.String(allow_none=True)
    deployed_at = fields.DateTime()


class DefinitionSourceSchema(DefinitionSchema):
    bpmn = fields.String(attribute="bpmn_xml")
    dmn = fields.List(fields.String(), attribute="dmn_xml")
    form_schemas = fields.Dict(attribute="forms")
    versions = fields.List(fields.Integer())


class StartSchema(Schema):
    business_key = fields.String(load_default=None, validate=validate.Length(max=128))
    data = JsonObject(load_default=dict)
    version = fields.Integer(load_default=None, validate=validate.Range(min=1))


class HumanTaskSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    process_key = fields.String()
    name = fields.String()
    title = fields.String()
    lane = fields.String(allow_none=True)
    candidate_role = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    status = fields.String()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    form_schema = fields.Dict(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)


class EventSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    task_name = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    data = fields.Raw(allow_none=True)
    created_at = fields.DateTime()


class IncidentSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    task_name = fields.String(allow_none=True)
    message = fields.String()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)


class InstanceSchema(Schema):
    id = fields.Integer()
    process_key = fields.String()
    version = fields.Integer(attribute="definition.version")
    business_key = fields.String(allow_none=True)
    status = fields.String()
    current_activities = fields.Method("_activities")
    next_timer_at = fields.DateTime(allow_none=True)
    started_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)

    def _activities(self, instance):
        return [a for a in (instance.current_activities or "").split("|") if a]


class InstanceDetailSchema(InstanceSchema):
    data = fields.Dict()
    open_tasks = fields.List(fields.Nested(HumanTaskSchema))
    events = fields.List(fields.Nested(EventSchema))
    incidents = fields.List(fields.Nested(IncidentSchema))


class MigrateSchema(Schema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))


class CompleteSchema(Schema):
    data = JsonObject(load_default=dict)


class MessageSchema(Schema):
    correlation = JsonObject(required=True, metadata={"description": "Correlation property → value"})
    payload = JsonObject(load_default=dict)


class MessageResultSchema(Schema):
    message = fields.String()
    instances = fields.List(fields.Nested(InstanceSchema))
