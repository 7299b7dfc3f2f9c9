"""manifest.json and the generated platform descriptions: valid, consistent, no drift."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import typing as t

import jsonschema
import pytest

from connector import exports
from connector.exports import manifest as manifest_module
from connector.exports.openapi import document
from connector.schemas import ProfileSchema, VideoSchema
from connector.schemas.base import ArgsSchema

ROOT = pathlib.Path(__file__).parent.parent
# The file as written, and as the exporters see it (with what the schemas add).
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
LOADED = manifest_module.load(ROOT / "manifest.json")


def test_manifest_is_valid_against_its_json_schema() -> None:
    schema = json.loads((ROOT / "manifest.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(MANIFEST)


def test_the_manifest_schema_rejects_what_platforms_would() -> None:
    schema = json.loads((ROOT / "manifest.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    broken = json.loads(json.dumps(MANIFEST))
    broken["triggers"][0]["key"] = "new-video"  # Zapier keys cannot hold dashes
    broken["triggers"][1]["description"] = "Fires on new videos."
    del broken["actions"][0]["generic_http"]
    broken["actions"][1]["sample"] = {"id": "1"}  # generated, never written by hand
    messages = [e.message for e in validator.iter_errors(broken)]
    assert len(messages) >= 4


def test_manifest_keys_are_the_products_triggers_and_actions() -> None:
    assert [t["key"] for t in MANIFEST["triggers"]] == ["new_video", "new_video_instant"]
    assert [a["key"] for a in MANIFEST["actions"]] == ["get_video", "get_profile"]
    assert MANIFEST["request_sources"] == {
        "zapier": "ZAPIER",
        "make": "MAKE_DOT_COM",
        "n8n": "N8N",
        "other": "API",
    }


def _requests(operation: dict[str, t.Any]) -> list[tuple[str, str]]:
    if operation.get("type") == "webhook":
        return [
            (operation[step]["method"], operation[step]["path"])
            for step in ("subscribe", "unsubscribe", "list")
        ]
    return [(operation["method"], operation["path"])]


@pytest.mark.parametrize("operation", manifest_module.operations(LOADED), ids=lambda o: o["key"])
def test_each_operation_matches_the_api(operation: dict[str, t.Any]) -> None:
    spec = document()
    for method, path in _requests(operation):
        openapi_path = path.replace("{id}", "{subscription_id}")
        assert method.lower() in spec["paths"][openapi_path], (method, path)
    method, path = _requests(operation)[0]
    body = spec["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    assert operation["input"] == name
    request_schema = spec["components"]["schemas"][name]
    for field in operation["input_fields"]:
        assert field["key"] in request_schema["properties"], field["key"]
        assert field["required"] == (field["key"] in request_schema.get("required", [])), field
    for platform_input in operation.get("platform_inputs", {}):
        assert platform_input in request_schema["properties"], platform_input


@pytest.mark.parametrize("operation", manifest_module.operations(LOADED), ids=lambda o: o["key"])
def test_input_fields_are_the_argument_schemas_words(operation: dict[str, t.Any]) -> None:
    schema = manifest_module.input_schema(operation)
    users = [name for name in schema.fields if name not in operation.get("platform_inputs", {})]
    assert [f["key"] for f in operation["input_fields"]] == users
    assert users, "a trigger or action with nothing to fill in"
    for field in operation["input_fields"]:
        metadata = schema.fields[field["key"]].metadata
        assert (field["label"], field["help_text"]) == (metadata["title"], metadata["description"])
        assert field.get("example") == metadata.get("example")
        if "example" in field:  # what the platforms' examples send is taken
            schema.fields[field["key"]].deserialize(field["example"])
            assert re.search(metadata.get("pattern", ""), field["example"]), field


def test_input_choices_come_from_a_one_of_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    from marshmallow import fields, validate

    class Args(ArgsSchema):
        order = fields.String(
            validate=validate.OneOf(["new", "old"], labels=["Newest first", "Oldest first"]),
            metadata={"title": "Order", "description": "Which videos come first."},
        )

    monkeypatch.setattr(manifest_module.schemas, "OrderArgsSchema", Args, raising=False)
    (field,) = manifest_module.input_fields({"input": "OrderArgs"})
    assert field == {
        "key": "order",
        "label": "Order",
        "type": "string",
        "required": False,
        "help_text": "Which videos come first.",
        "choices": [
            {"value": "new", "label": "Newest first"},
            {"value": "old", "label": "Oldest first"},
        ],
    }


@pytest.mark.parametrize("operation", manifest_module.operations(LOADED), ids=lambda o: o["key"])
def test_outputs_and_samples_come_from_the_schemas(operation: dict[str, t.Any]) -> None:
    schema = {"Video": VideoSchema, "Profile": ProfileSchema}[operation["output"]]()
    assert [f["key"] for f in operation["output_fields"]] == list(schema.fields)
    for field in operation["output_fields"]:
        assert field["label"] == schema.fields[field["key"]].metadata["title"]
    assert schema.load(operation["sample"]) == operation["sample"]
    assert isinstance(operation["sample"]["id"], str) and operation["sample"]["id"].isdigit()


@pytest.mark.parametrize("target", list(exports.TARGETS))
def test_committed_exports_match_a_fresh_export(target: str) -> None:
    folder = ROOT / exports.TARGETS[target][1]
    files = exports.render(target, ROOT / "manifest.json")
    assert files, target
    stale = [name for name, text in files.items() if (folder / name).read_text() != text]
    assert stale == [], f"run `connector export {target}` and commit: {stale}"
    if exports.TARGETS[target][1] != ".":
        # A file the exporter no longer writes must not linger in its folder either.
        orphans = sorted(set(_tracked(folder)) - set(files))
        assert orphans == [], f"no longer generated, remove them: {orphans}"


def _tracked(folder: pathlib.Path) -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot list the committed files")
    listed = subprocess.run(
        ["git", "ls-files", "--", str(folder.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        str(pathlib.PurePosixPath(path).relative_to(folder.relative_to(ROOT))) for path in listed
    ]


def test_generated_files_are_marked_as_such() -> None:
    attributes = (ROOT / ".gitattributes").read_text()
    for target, (_, folder) in exports.TARGETS.items():
        for name in exports.render(target, ROOT / "manifest.json"):
            path = name if folder == "." else f"{folder}/{name}"
            assert path in attributes or f"{folder}/**" in attributes, path


def test_export_cli_writes_into_a_folder(tmp_path: pathlib.Path) -> None:
    from click.testing import CliRunner

    from connector.cli import cli

    result = CliRunner().invoke(
        cli,
        ["export", "openapi", "--out", str(tmp_path), "--manifest", str(ROOT / "manifest.json")],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "openapi.json").read_text())["openapi"] == "3.0.3"
