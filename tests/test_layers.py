"""The layers stay one-way: heygem_core (plain Python) imports none of the layers above it
(tasks, flows, webapp, cli) nor Prefect or Gradio; tasks/flows/webapp never import cli."""
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
