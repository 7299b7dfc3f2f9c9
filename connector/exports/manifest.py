"""manifest.json, and what the exporters add to it from the marshmallow schemas.

manifest.json holds only facts written by hand: the connector's name and connection, and for
each trigger and action its wording, its requests, the argument schema it takes (``input``,
named as in the OpenAPI document), what platforms fill in themselves (``platform_inputs``)
and the record it answers (``output``). What the schemas already say is not written there
again; ``load`` adds it to every operation, for the exporters:

- ``input_fields``: the argument schema's fields that users fill in (all but the
  ``platform_inputs``), with the label, help text, type, choices and example their metadata
  gives (the same text the OpenAPI document shows);
- ``output_fields`` (key, label, type) from the output schema, and a ``sample`` dumped through
  it (see samples.py).

Nothing writes manifest.json: each fact lives in the file or in a schema, never in both, and
the generated platform descriptions are the only place where they meet.
"""

from __future__ import annotations

import json
import pathlib
import typing as t

from marshmallow import Schema, fields, validate

from .. import schemas
from .samples import OUTPUT_SCHEMAS, samples

Manifest = dict[str, t.Any]
DEFAULT_PATH = pathlib.Path("manifest.json")


def load(path: pathlib.Path = DEFAULT_PATH) -> Manifest:
    """manifest.json with each operation's input fields, output fields and sample added."""
    manifest = t.cast(Manifest, json.loads(path.read_text(encoding="utf-8")))
    generated = samples()
    for operation in operations(manifest):
        operation["input_fields"] = input_fields(operation)
        operation["output_fields"] = output_fields(OUTPUT_SCHEMAS[operation["output"]]())
        operation["sample"] = generated[operation["output"]]
    return manifest


def dumps(document: t.Any) -> str:
    """The one JSON layout every generated file uses: stable, so regeneration is byte-exact."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def operations(manifest: Manifest) -> list[dict[str, t.Any]]:
    return [*manifest["triggers"], *manifest["actions"]]


def find_trigger(manifest: Manifest, kind: str) -> dict[str, t.Any]:
    """The trigger of ``kind`` (polling or webhook): there is one of each."""
    return t.cast(dict[str, t.Any], next(op for op in manifest["triggers"] if op["type"] == kind))


def input_schema(operation: dict[str, t.Any]) -> Schema:
    """The argument schema named by ``input`` (``NewVideoArgs`` -> NewVideoArgsSchema)."""
    return t.cast(Schema, getattr(schemas, f"{operation['input']}Schema")())


def input_fields(operation: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """What users fill in: every argument the platforms do not fill in themselves."""
    platform_inputs = operation.get("platform_inputs", {})
    return [
        _input_field(name, field)
        for name, field in input_schema(operation).fields.items()
        if name not in platform_inputs
    ]


def _input_field(name: str, field: fields.Field) -> dict[str, t.Any]:
    described: dict[str, t.Any] = {
        "key": name,
        "label": field.metadata["title"],
        "type": _field_type(field),
        "required": field.required,
        "help_text": field.metadata["description"],
    }
    for rule in field.validators:
        if isinstance(rule, validate.OneOf):
            # A choice without a label of its own is shown as its value.
            described["choices"] = [
                {"value": value, "label": label or value} for value, label in rule.options()
            ]
    if "example" in field.metadata:
        described["example"] = field.metadata["example"]
    return described


def output_fields(schema: Schema) -> list[dict[str, str]]:
    """Output fields of a record schema, labelled as its fields' titles say."""
    return [
        {
            "key": name,
            "label": field.metadata.get("title", name.replace("_", " ").title()),
            "type": _field_type(field),
        }
        for name, field in schema.fields.items()
    ]


def _field_type(field: fields.Field) -> str:
    if field.metadata.get("format") == "date-time":
        return "datetime"
    if isinstance(field, fields.Boolean):
        return "boolean"
    if isinstance(field, fields.Integer):
        return "integer"
    if isinstance(field, fields.Float):
        return "number"
    if isinstance(field, fields.List):
        return "array"
    return "string"
