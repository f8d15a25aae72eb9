"""Schemas of the power calculator (CL-1): kW as strings with three decimals ("7.400"), the
recommended capacity in whole kW ("12").

Request schemas parse types only; the limits (count, power, simultaneity, number of lines) are
checked in ``services/power_calculator.py`` and answer with codes per ``items.N.field``.
"""
from marshmallow import RAISE, Schema, fields, validate


def Kw(**kwargs):  # noqa: N802  (reads as a field class)
    return fields.Decimal(as_string=True, places=3, **kwargs)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ItemInSchema(_Strict):
    appliance = fields.String(load_default=None, metadata={
        "description": "a key of the catalogue (its name, power and simultaneity are the defaults)",
        "example": "electric_stove"})
    name = fields.String(load_default=None, metadata={
        "description": "the appliance's name (≤ 100 characters); required without `appliance`"})
    power_kw = fields.Decimal(load_default=None, allow_nan=False, metadata={
        "description": "kW, 0 < p ≤ 100, at most 3 decimals; required without `appliance`", "example": "2.2"})
    count = fields.Integer(strict=True, required=True, metadata={"description": "1..100"})
    simultaneity = fields.Decimal(load_default=None, allow_nan=False, metadata={
        "description": "0 < s ≤ 1, at most 2 decimals; the catalogue's default or 1", "example": "0.5"})


class CalculationInSchema(_Strict):
    items = fields.List(fields.Nested(ItemInSchema), required=True, metadata={"description": "1..100 lines"})
    phases = fields.Integer(strict=True, load_default=None, allow_none=True,
                            validate=validate.OneOf([1, 3], error="phases_invalid"),
                            metadata={"description": "the connection the customer has in mind, if any"})


class ApplianceSchema(Schema):
    key = fields.String()
    name = fields.String()
    power_kw = Kw()
    simultaneity = fields.Decimal(as_string=True, places=2)


class ApplianceListSchema(Schema):
    count = fields.Integer()
    result = fields.List(fields.Nested(ApplianceSchema))


class LineSchema(Schema):
    appliance = fields.String(allow_none=True)
    name = fields.String()
    power_kw = Kw()
    count = fields.Integer()
    simultaneity = fields.Decimal(as_string=True, places=2)
    installed_kw = Kw(metadata={"description": "power × count"})
    load_kw = Kw(metadata={"description": "power × count × simultaneity"})


class NoteSchema(Schema):
    code = fields.String(metadata={"enum": ["power_over_pr1_limit", "power_three_phase",
                                            "power_single_phase_too_small"]})
    message = fields.String()


class CalculationSchema(Schema):
    items = fields.List(fields.Nested(LineSchema))
    installed_kw = Kw(metadata={"description": "Σ power × count"})
    demand_kw = Kw(metadata={"description": "Σ power × count × simultaneity"})
    recommended_kw = fields.Decimal(as_string=True, places=0, metadata={
        "description": "the demand rounded up to 3, 5, 7, 10, 12, 15 kW (above 15: the next whole kW)"})
    limit_kw = fields.Decimal(as_string=True, places=0, metadata={"description": "PR-1's limit, 15 kW"})
    exceeds_limit = fields.Boolean(metadata={"description": "demand above 15 kW: PR-1 does not apply"})
    phases = fields.Integer(allow_none=True)
    suggested_phases = fields.Integer(metadata={"enum": [1, 3]})
    notes = fields.List(fields.Nested(NoteSchema))


class CalculationSentSchema(Schema):
    sent = fields.Boolean()
    email = fields.String()
