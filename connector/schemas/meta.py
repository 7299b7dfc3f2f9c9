"""Shapes of the error payload and the service endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields


class ErrorSchema(Schema):
    """Every error response: a readable message and a stable machine code."""

    error = fields.String(required=True, metadata={"description": "What went wrong, for people."})
    code = fields.String(required=True, metadata={"description": "Stable code, for programs."})
    details = fields.Raw(
        metadata={"description": "Field errors for invalid input: field name -> messages."}
    )


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "'ok' when serving."})
    version = fields.String(required=True)
    store = fields.String(required=True, metadata={"description": "Store backend in use."})
    sandbox = fields.Boolean(
        required=True, metadata={"description": "True when the upstream is the built-in sandbox."}
    )


class AuthTestSchema(Schema):
    status = fields.String(required=True)
    provider = fields.String(required=True)
    request_source = fields.String(required=True)
    tenant = fields.String(
        required=True,
        metadata={"description": "Short fingerprint of the key, for a connection label."},
    )
