"""What a worker process loads: every module is memory in each of ``connector serve``'s
workers (the issue's budget is 80 MB per process)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


@pytest.mark.skipif(
    importlib.util.find_spec("rich") is None, reason="httpx loads its CLI only with rich"
)
def test_the_connector_never_loads_httpx_command_line_client() -> None:
    # httpx/__init__.py: ``try: from ._main import main`` - which imports rich, pygments
    # and click whenever they are installed (here, through the test dependencies).
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, connector, httpx; httpx.Client().close();"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'pygments'}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert loaded.strip() == "[]"
