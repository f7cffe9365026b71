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


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("heygem_core", OUTER),
        ("tasks", {"cli", "flows", "webapp"}),
        ("flows", {"cli", "webapp"}),
        ("webapp", {"cli"}),
    ],
)
def test_a_layer_imports_nothing_above_it(package, forbidden):
    wrong = {str(p.relative_to(REPO)): sorted(_imports(p) & forbidden) for p in sorted((REPO / package).rglob("*.py"))}
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
    long = {
        str(p.relative_to(REPO)): n
        for p in sorted((REPO / "heygem_core").rglob("*.py"))
        if (n := _physical_lines(p)) > MAX_MODULE_LINES
    }
    assert long == {}


def _core_graph() -> dict[str, set[str]]:
    """heygem_core's modules and the core modules each imports, at any depth of the file
    (an import inside a function is an import all the same: it only hides a circle)."""
    core = REPO / "heygem_core"
    modules = {}
    for p in core.rglob("*.py"):
        parts = list(p.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = p
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                stem = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_core_has_no_import_circle():
    graph = _core_graph()
    assert "heygem_core.plugins" in graph and graph["heygem_core.config"]  # the graph was read
    assert _circles(graph) == []


def test_the_circle_finder_finds_one():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_reads_none_of_the_prefect_layers_settings():
    """Settings in the "flows" section (workers, retries, the gpu pool, the Prefect port) are
    read by flows/ and tasks/ only."""
    import re
    from dataclasses import fields

    from heygem_core.config import Settings

    knobs = [f.name for f in fields(Settings) if f.metadata.get("section") == "flows"]
    assert "workers" in knobs and "prefect_port" in knobs
    found = {}
    for path in sorted((REPO / "heygem_core").rglob("*.py")):
        if path.name == "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        used = [k for k in knobs if re.search(rf"[A-Za-z_)\]]\.{k}\b", text)]  # an attribute, not a module
        if used:
            found[str(path.relative_to(REPO))] = used
    assert found == {}
