"""The OpenAPI 3 document, as the app serves it at /openapi.json."""

from __future__ import annotations

import tempfile
import typing as t

from .manifest import Manifest, dumps


def document() -> dict[str, t.Any]:
    """The OpenAPI document flask-smorest builds from the marshmallow schemas."""
    from .. import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/openapi.db"})
        spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
        app.extensions["connector"].close()
    return t.cast(dict[str, t.Any], spec)


def render(manifest: Manifest) -> dict[str, str]:
    return {"openapi.json": dumps(document())}
