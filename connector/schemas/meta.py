"""Shapes of the error payload and the service endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ErrorSchema(Schema):
    """Every error response: a readable message and a stable machine code."""

    error = fields.String(required=True, metadata={"description": "What went wrong, for people."})
    code = fields.String(required=True, metadata={"description": "Stable code, for programs."})
    details = fields.Raw(
        metadata={"description": "Field errors for invalid input: field name -> messages."}
    )


class HealthSchema(Schema):
    """Whether the connector serves, and with what store."""

    status = fields.String(required=True, metadata={"description": "'ok' when serving."})
    version = fields.String(required=True)
    store = fields.String(required=True, metadata={"description": "Store backend in use."})
    sandbox = fields.Boolean(
        required=True, metadata={"description": "True when the upstream is the built-in sandbox."}
    )


class AuthTestSchema(Schema):
    """The connection test's answer: the key works, for which provider and platform."""

    status = fields.String(required=True)
    provider = fields.String(required=True)
    request_source = fields.String(required=True)
    tenant = fields.String(
        required=True,
        metadata={"description": "Short fingerprint of the key, for a connection label."},
    )
    credits = fields.String(
        required=True,
        validate=validate.OneOf(["available", "exhausted", "unknown"]),
        metadata={
            "description": "What upstream's answer told of the account: exhausted means the "
            "key works but calls fail until the account is topped up."
        },
    )
    message = fields.String(
        required=True, allow_none=True, metadata={"description": "For people, when not null."}
    )


class ProviderInfoSchema(Schema):
    """One upstream provider this server can call, and how."""

    name = fields.String(required=True, metadata={"description": "Value for X-Provider."})
    label = fields.String(required=True)
    capabilities = fields.List(fields.String(), required=True)
    default = fields.Boolean(
        required=True, metadata={"description": "Used when the caller names no provider."}
    )
    server_key = fields.Boolean(
        required=True, metadata={"description": "Whether this server holds a key for it."}
    )
    failover_rank = fields.Integer(
        allow_none=True,
        metadata={"description": "Position in the server's failover order (1 = first)."},
    )
    concurrency_limit = fields.Integer(
        allow_none=True,
        metadata={"description": "Simultaneous requests per key upstream allows, if limited."},
    )
    key_check = fields.String(
        required=True,
        metadata={"description": "What GET /v1/auth/test sends this provider, and its cost."},
    )
