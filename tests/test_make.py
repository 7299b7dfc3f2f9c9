"""The generated Make custom app, validated with the JSON Schemas of Make's Apps SDK."""

from __future__ import annotations

import json
import pathlib
import typing as t

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = pathlib.Path(__file__).parent.parent
APP = ROOT / "make_app"
SCHEMAS = pathlib.Path(__file__).parent / "make_schemas"

# Which schema checks which code file (as Make's Apps SDK extension pairs them).
SCHEMA_OF_CODE = {
    "communication": "api.json",
    "attach": "api.json",
    "detach": "api.json",
    "epoch": "epoch.json",
    "params": "parameters.json",
    "staticParams": "parameters.json",
    "mappableParams": "parameters.json",
    "interface": "parameters.json",
    "samples": "samples.json",
    "scope": "scope.json",
}
GENERAL = {"base": "base.json", "groups": "groups.json", "common": "common.json"}


def validator(schema_file: str) -> jsonschema.Draft7Validator:
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text()), DRAFT7))
        for path in SCHEMAS.glob("*.json")
    ]
    registry: Registry[t.Any] = Registry().with_resources(resources)
    return jsonschema.Draft7Validator({"$ref": schema_file}, registry=registry)


def errors(schema_file: str, document: t.Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(schema_file).iter_errors(document)
    ]


def code_files() -> list[tuple[str, str, str]]:
    """(component, code, path) for every code file makecomapp.json lists."""
    app = json.loads((APP / "makecomapp.json").read_text())
    listed = [("general", code, path) for code, path in app["generalCodeFiles"].items() if path]
    for kind, components in app["components"].items():
        for key, component in components.items():
            for code, path in component["codeFiles"].items():
                listed.append((f"{kind}/{key}", code, path))
    return listed


def test_makecomapp_json_is_valid() -> None:
    app = json.loads((APP / "makecomapp.json").read_text())
    assert errors("makecomapp.schema.json", app) == []
    modules = app["components"]["module"]
    assert {key: m["moduleType"] for key, m in modules.items()} == {
        "new_video": "trigger",
        "new_video_instant": "instant_trigger",
        "get_video": "action",
        "get_profile": "action",
    }
    assert modules["new_video_instant"]["webhook"] in app["components"]["webhook"]


@pytest.mark.parametrize(
    ("component", "code", "path"),
    [c for c in code_files() if c[1] in SCHEMA_OF_CODE or c[1] in GENERAL],
    ids=lambda v: str(v),
)
def test_every_code_file_is_valid(component: str, code: str, path: str) -> None:
    document = json.loads((APP / path).read_text())
    schema = GENERAL.get(code) if component == "general" else SCHEMA_OF_CODE[code]
    assert schema is not None
    assert errors(schema, document) == []


def test_every_listed_file_exists_and_nothing_else() -> None:
    listed = {path for _, _, path in code_files()} | {"makecomapp.json"}
    present = {str(p.relative_to(APP)) for p in APP.rglob("*") if p.is_file()}
    assert listed == present


def test_the_schemas_bite() -> None:
    assert errors("api.json", {"url": 5, "method": "FETCH"})
    trigger = json.loads((APP / "modules/new_video/new_video.communication.iml.json").read_text())
    del trigger["response"]["trigger"]["id"]
    assert errors("api.json", trigger)


def test_requests_carry_makes_request_source_and_the_key() -> None:
    base = json.loads((APP / "general/base.iml.json").read_text())
    assert base["headers"]["X-Request-Source"] == "MAKE_DOT_COM"
    assert base["headers"]["Authorization"] == "Bearer {{connection.apiKey}}"
    connection = json.loads((APP / "connections/tiktok/tiktok.communication.iml.json").read_text())
    assert connection["headers"]["X-Request-Source"] == "MAKE_DOT_COM"
    polling = json.loads((APP / "modules/new_video/new_video.communication.iml.json").read_text())
    assert polling["response"]["trigger"] == {"type": "id", "order": "desc", "id": "{{item.id}}"}
    assert polling["body"]["consumer"] == "{{scenario.id}}"
    attach = json.loads(
        (APP / "webhooks/new_video_instant/new_video_instant.attach.iml.json").read_text()
    )
    assert attach["body"]["target_url"] == "{{webhook.url}}"
