"""The core installs without the orchestration, web and S3 stacks (pyproject.toml's extras):
``heygem lipsync`` works with Prefect, Gradio, FastAPI and MinIO's SDK absent, and a command
that needs one of them says which extra to install, in one line."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from heygem_core import media
from tests.paths import LANGUAGE_AUDIO, REPO, VIDEOS

STACKS = ("prefect", "gradio", "fastapi", "minio")


def _without_stacks(args: list[str], tmp_path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """``heygem ARGS`` in a process where none of the stacks can be imported (as if not installed)."""
    code = f"import sys\nfor m in {STACKS!r}: sys.modules[m] = None\nimport cli\nsys.exit(cli.main(sys.argv[1:]))"
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEM_", "PREFECT_", "MINIO_"))}
    env.update(
        {
            "HEYGEM_CACHE_DIR": str(tmp_path / "cache"),
            "HEYGEM_ARTIFACT_DIR": str(tmp_path / "store"),
            "HEYGEM_PREFECT_PORT": "1",
            **(env_extra or {}),
        }
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=600
    )


def test_the_core_dependencies_hold_none_of_the_stacks():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(project["dependencies"]).lower()
    assert not [s for s in STACKS if s in core], core
    extras = project["optional-dependencies"]
    assert any(d.startswith("prefect") for d in extras["flows"])
    assert any(d.startswith("gradio") for d in extras["web"]) and any(d.startswith("prefect") for d in extras["web"])
    assert any(d.startswith("minio") for d in extras["s3"])
    assert "heygem[flows,web,s3]" in extras["all"]
    assert '".[all,test]"' in (REPO / "scripts" / "install.sh").read_text(encoding="utf-8")


@pytest.mark.slow
def test_lipsync_runs_with_no_stack_installed(tmp_path):
    out = tmp_path / "katie_de.mp4"
    done = _without_stacks(
        ["lipsync", "--video", str(VIDEOS["katie_8s"]), "--audio", str(LANGUAGE_AUDIO["de"]), "-o", str(out)], tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert abs(media.probe_video(out).duration - media.probe_audio(LANGUAGE_AUDIO["de"]).duration) < 0.2


@pytest.mark.parametrize(
    "args, extra",
    [
        (["run", "sheet.csv"], "flows"),
        (["flow", "single"], "flows"),
        (["ui"], "web"),
    ],
)
def test_a_command_whose_stack_is_missing_names_the_extra(args, extra, tmp_path):
    done = _without_stacks(args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"pip install 'heygem[{extra}]'" in done.stderr, done.stderr


def test_the_s3_store_without_its_sdk_names_the_extra(tmp_path):
    done = _without_stacks(["store", "ls"], tmp_path, {"HEYGEM_STORE": "s3", "HEYGEM_S3_ENDPOINT": "127.0.0.1:9"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "pip install 'heygem[s3]'" in done.stderr, done.stderr
