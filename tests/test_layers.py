"""The layers stay one-way: heygem_core (plain Python) imports none of the layers above it
(tasks, flows, webapp, cli) nor Prefect or Gradio; tasks/flows/webapp never import cli; and no
module of heygem_core is over 500 lines."""
import ast
from pathlib import Path

import pytest

from tests.paths import REPO

OUTER = {"cli", "flows", "tasks", "webapp", "prefect", "gradio"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package, forbidden", [
    ("heygem_core", OUTER),
    ("tasks", {"cli", "flows", "webapp"}),
    ("flows", {"cli", "webapp"}),
    ("webapp", {"cli"}),
])
def test_a_layer_imports_nothing_above_it(package, forbidden):
    wrong = {str(p.relative_to(REPO)): sorted(_imports(p) & forbidden)
             for p in sorted((REPO / package).rglob("*.py"))}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_console_script_is_the_cli_package():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'heygem = "cli:main"' in text


MAX_MODULE_LINES = 500


def _physical_lines(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def test_no_core_module_is_over_500_lines():
    # A module that long holds more than one thing: split it into modules named for each
    # (as store/ and intake/ were), keeping the old import path in the package's __init__.
    long = {str(p.relative_to(REPO)): n for p in sorted((REPO / "heygem_core").rglob("*.py"))
            if (n := _physical_lines(p)) > MAX_MODULE_LINES}
    assert long == {}
