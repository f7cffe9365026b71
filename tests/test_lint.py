"""Pyflakes over every package of the project (ruff, rule set F): no unused import or variable,
no undefined name, no redefinition; the code as `ruff format` writes it (pyproject.toml
[tool.ruff]); mypy over every layer. Fast; a finding names its file and line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO

PACKAGES = ("heygem_core", "tasks", "flows", "webapp", "cli", "deployments", "benchmarks", "scripts", "tests")


def test_pyflakes_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a test dependency (pyproject.toml [test]): run scripts/install.sh"
    done = subprocess.run(
        [ruff, "check", "--select", "F", "--output-format", "concise", "--no-cache", *PACKAGES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_code_is_formatted():
    """`ruff format` would change nothing: run it (same PACKAGES) to fix a finding."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a test dependency (pyproject.toml [test]): run scripts/install.sh"
    done = subprocess.run(
        [ruff, "format", "--check", "--no-cache", *PACKAGES], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_layer_type_checks():
    """mypy over the core, the tasks, the flows, the CLI and the web app (pyproject.toml
    [tool.mypy]; torch, Prefect and Gradio are not followed, so their returns are Any)."""
    pytest = __import__("pytest")
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("mypy is a test dependency (pyproject.toml [test]): run scripts/install.sh")
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
