"""Import ``"package.module:Name"`` strings, so registries load backends on first use."""

from __future__ import annotations

import importlib
import typing as t


def import_string(target: str) -> t.Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
