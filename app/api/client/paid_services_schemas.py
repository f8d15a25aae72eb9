"""Schemas of the public paid services catalogue (SPEC PR-5) and the call-out prices (PR-4):
money as strings with two decimals ("1500.00"), roubles."""
from marshmallow import Schema, fields


def Money(**kwargs):  # noqa: N802  (reads as a field class)
    return fields.Decimal(as_string=True, places=2, **kwargs)


class PaidServiceSchema(Schema):
    id = fields.Integer(metadata={"description": "service_id of a `paid_service` request"})
    code = fields.String(allow_none=True, metadata={
        "description": "set on services a process finds by name, e.g. electrician_callout_urgent"})
    name = fields.String()
    description = fields.String(allow_none=True)
    min_price = Money(metadata={"description": "the lowest price; the provider sets the final one",
                                "example": "500.00"})
    unit = fields.String(metadata={"example": "шт."})


class PaidServiceCategorySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    min_price = Money(metadata={"description": "the lowest minimum price of its services (\"от …\")"})
    services = fields.List(fields.Nested(PaidServiceSchema))


class PaidServiceCatalogueSchema(Schema):
    count = fields.Integer(metadata={"description": "categories"})
    result = fields.List(fields.Nested(PaidServiceCategorySchema))


class CalloutPricesSchema(Schema):
    normal = Money(metadata={"description": "a visit within a day", "example": "1500.00"})
    urgent = Money(metadata={"description": "a visit within two hours", "example": "3000.00"})
    currency = fields.String(metadata={"example": "RUB"})
