"""manifest.json: load it, check it, and refresh its generated parts.

The manifest is written by hand except two parts per trigger and action, which
``connector export manifest`` generates from the marshmallow output schemas: ``output_fields``
(key, label, type) and ``sample``.
"""

from __future__ import annotations

import json
import pathlib
import typing as t

from marshmallow import fields

from .samples import OUTPUT_SCHEMAS, samples

Manifest = dict[str, t.Any]
DEFAULT_PATH = pathlib.Path("manifest.json")


def load(path: pathlib.Path = DEFAULT_PATH) -> Manifest:
    return t.cast(Manifest, json.loads(path.read_text(encoding="utf-8")))


def dumps(document: t.Any) -> str:
    """The one JSON layout every generated file uses: stable, so regeneration is byte-exact."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def operations(manifest: Manifest) -> list[dict[str, t.Any]]:
    return [*manifest["triggers"], *manifest["actions"]]


def output_fields(shape: str) -> list[dict[str, str]]:
    """Output fields of a shape, labelled as the schema's field titles say."""
    described = []
    for name, field in OUTPUT_SCHEMAS[shape]().fields.items():
        described.append(
            {
                "key": name,
                "label": field.metadata.get("title", name.replace("_", " ").title()),
                "type": _field_type(field),
            }
        )
    return described


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


def refresh(manifest: Manifest) -> Manifest:
    """The manifest with every generated part regenerated; hand-written parts are kept."""
    generated = samples()
    for operation in operations(manifest):
        shape = operation["output"]
        operation["output_fields"] = output_fields(shape)
        operation["sample"] = generated[shape]
    return manifest


def render(manifest: Manifest) -> dict[str, str]:
    return {"manifest.json": dumps(manifest)}
