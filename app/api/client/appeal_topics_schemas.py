"""Schemas of the appeal topics list (PR-6)."""
from marshmallow import RAISE, Schema, fields, validate

from ...services.appeal_topics import QUERY_MAX


class TopicQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    q = fields.String(load_default=None, validate=validate.Length(max=QUERY_MAX, error="appeal_topics_query_too_long"),
                      metadata={"description": "a part of the title, any case (ё = е)", "example": "счёт"})


class TopicSchema(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "send as form_data.topic_id; null for «Другое»"})
    title = fields.String()
    other = fields.Boolean(metadata={
        "description": "«Другое»: send no topic_id and describe the topic in form_data.other_topic"})


class TopicListSchema(Schema):
    result = fields.List(fields.Nested(TopicSchema))
