"""Staff REST: deploy and read process definitions."""
from flask import request
from flask_appbuilder.api import expose, protect
from sqlalchemy import select

from ...extensions import db
from ...models.workflow import ProcessDefinition
from ...workflows import deployment, instances
from ..base import KabinetApi
from .schemas import DefinitionSchema, DefinitionSourceSchema, DeploySchema, InstanceSchema, StartSchema

deploy_schema = DeploySchema()
start_schema = StartSchema()


def _dump(definition, schema_class=DefinitionSchema, **extra):
    definition.form_names = sorted(definition.forms or {})
    for name, value in extra.items():
        setattr(definition, name, value)
    return schema_class().dump(definition)


class ProcessDefinitionsApi(KabinetApi):
    resource_name = "process-definitions"
    route_base = "/api/v1/process-definitions"
    class_permission_name = "ProcessDefinitions"
    method_permission_name = {"deploy": "write", "list_definitions": "read", "show": "read", "start": "start"}
    openapi_spec_tag = "Process definitions"
    openapi_spec_component_schemas = (DeploySchema, DefinitionSchema, DefinitionSourceSchema, StartSchema)

    @expose("/", methods=["POST"])
    @protect()
    def deploy(self):
        """Deploy BPMN (plus DMN and task forms) as a new version.
        ---
        post:
          summary: Deploy a new version
          requestBody:
            required: true
            content:
              application/json:
                schema: {$ref: '#/components/schemas/DeploySchema'}
          responses:
            201:
              description: Deployed as a new version
              content: {application/json: {schema: {$ref: '#/components/schemas/DefinitionSchema'}}}
            200:
              description: Identical to the latest version, which is returned unchanged
            422:
              description: Invalid model; the message names the element and the fault
        """
        payload = deploy_schema.load(self.json_body())
        definition, created = deployment.deploy(
            payload["bpmn"], payload["dmn"], payload["forms"], key=payload["key"], deployed_by=self.actor()
        )
        return self.response(201 if created else 200, **_dump(definition))

    @expose("/", methods=["GET"])
    @protect()
    def list_definitions(self):
        """List process keys with their versions.
        ---
        get:
          summary: Keys and versions
          responses:
            200:
              description: One entry per key, with all its versions
        """
        rows = db.session.execute(
            select(ProcessDefinition.key, ProcessDefinition.version, ProcessDefinition.name, ProcessDefinition.deployed_at)
            .order_by(ProcessDefinition.key, ProcessDefinition.version)
        ).all()
        result = {}
        for key, version, name, deployed_at in rows:
            entry = result.setdefault(key, {"key": key, "name": name, "versions": []})
            entry["versions"].append(version)
            entry.update(name=name, latest_version=version, deployed_at=deployed_at.isoformat())
        return self.response(200, result=list(result.values()), count=len(result))

    @expose("/<key>", methods=["GET"])
    @protect()
    def show(self, key):
        """The latest version of a process (or ?version=N) with its source.
        ---
        get:
          summary: A definition and its source
          parameters:
          - {in: path, name: key, required: true, schema: {type: string}}
          - {in: query, name: version, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/DefinitionSourceSchema'}}}
            404: {description: Unknown key or version}
        """
        version = request.args.get("version", type=int)
        definition = instances.get_definition(key, version)
        versions = db.session.execute(
            select(ProcessDefinition.version).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version)
        ).scalars().all()
        return self.response(200, **_dump(definition, DefinitionSourceSchema, versions=versions))

    @expose("/<key>/start", methods=["POST"])
    @protect()
    def start(self, key):
        """Start an instance of the latest version (or `version`).
        ---
        post:
          summary: Start an instance
          parameters:
          - {in: path, name: key, required: true, schema: {type: string}}
          requestBody:
            content:
              application/json:
                schema: {$ref: '#/components/schemas/StartSchema'}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/InstanceSchema'}}}
            404: {description: Unknown key}
            422: {description: Invalid input}
        """
        payload = start_schema.load(self.json_body())
        instance = instances.start(key, payload["business_key"], payload["data"], actor=self.actor(),
                                   version=payload["version"])
        return self.response(201, **InstanceSchema().dump(instance))
