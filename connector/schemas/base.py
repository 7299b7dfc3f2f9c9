"""Shared bases for request and record schemas."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from marshmallow import RAISE, Schema, fields, pre_load


class ArgsSchema(Schema):
    """Base of request-body schemas: unknown keys are errors, so typos surface.

    Zapier sends an optional input the user left empty as ``""`` (and a template naming
    something the bundle lacks, such as ``{{bundle.meta.zap.id}}`` in the editor, renders
    to ``""``); Make and n8n may send ``null``. Both are treated as absent, so that "not
    given" means one thing whichever platform called. Not for lists, which no platform
    fills in on its own: an explicit list input must be a list (``"ids": ""`` meaning "all"
    would be a dangerous reading).
    """

    class Meta:
        unknown = RAISE

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        # null and blank text mean "not given" (see drop_empty_values): the OpenAPI
        # document says so for every optional field.
        for field in self.fields.values():
            if not field.required and not isinstance(field, fields.List):
                field.allow_none = True
                if "pattern" in field.metadata:
                    field.metadata = {
                        **field.metadata,
                        "pattern": rf"^\s*$|{field.metadata['pattern']}",
                    }

    @pre_load
    def drop_empty_values(self, data: t.Any, **kwargs: t.Any) -> t.Any:
        # A JSON body is a dict; query parameters come as a mapping of their own (webargs'
        # MultiDictProxy), and mean the same. Only declared inputs may be left empty: an
        # unknown key is refused whatever its value.
        if isinstance(data, Mapping):
            declared = {
                field.data_key or name
                for name, field in self.fields.items()
                if not isinstance(field, fields.List)
            }
            return {k: v for k, v in data.items() if not (k in declared and _is_empty(v))}
        return data


class RecordSchema(Schema):
    """Base of normalized output records.

    Providers map their payload to these field names and ``load`` validates the result:
    a field the provider does not give becomes null (``load_default=None``), never missing,
    and a value of the wrong type raises, which the provider layer reports as malformed
    upstream data. Unknown keys raise too: they would be a mapping bug.
    """

    class Meta:
        unknown = RAISE
        ordered = True


def nullable(
    field_cls: type[fields.Field],
    label: str,
    description: str,
    *,
    fmt: str | None = None,
    **kw: t.Any,
) -> t.Any:
    """A record field that is null when the provider does not give it.

    ``label`` is its title (the platforms' output field label); ``fmt`` an OpenAPI format.
    """
    metadata = {"title": label, "description": description}
    if fmt is not None:
        metadata["format"] = fmt
    return field_cls(load_default=None, allow_none=True, metadata=metadata, **kw)


def _is_empty(value: t.Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
