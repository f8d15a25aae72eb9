"""Client API: the topics of appeals and callback orders (SPEC PR-6, PR-8), with search.

The chosen topic's ``id`` goes into the request's ``form_data.topic_id``; the last entry is
always «Другое» (``other``: no id, the customer's words in ``form_data.other_topic``).
"""
from flask import request
from flask_appbuilder.api import expose

from ...services import appeal_topics
from ..errors import language
from . import appeal_topics_messages  # noqa: F401  (register the error codes)
from .appeal_topics_schemas import TopicListSchema, TopicQuerySchema, TopicSchema
from .base import ClientApi, customer_required


class ClientAppealTopicsApi(ClientApi):
    resource_name = "client/appeal-topics"
    route_base = "/api/v1/client/appeal-topics"
    openapi_spec_tag = "Client: service requests"
    openapi_spec_component_schemas = (TopicSchema, TopicListSchema)

    @expose("/", methods=["GET"])
    @customer_required
    def list_topics(self):
        """Active topics in the staff's order, those containing ``q`` when given, and «Другое» last
        (always, whatever ``q`` is).
        ---
        get:
          summary: Appeal topics
          security: [{customer: []}]
          parameters:
          - {in: query, name: q, schema: {type: string, maxLength: 100}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/TopicListSchema'}}}
            401: {description: Not signed in}
            422: {description: Search text too long (appeal_topics_query_too_long)}
        """
        query = TopicQuerySchema().load(request.args.to_dict())
        topics = appeal_topics.client_list(query["q"], language())
        return self.response(200, **TopicListSchema().dump({"result": topics}))
