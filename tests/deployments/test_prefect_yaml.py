"""prefect.yaml and the scripts in deployments/: what `prefect deploy` and the workers will do
with them, checked without a server; then (slow) setup.sh and a worker against a real one."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import subprocess
import typing
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from prefect import Flow
from pydantic import TypeAdapter

from tests.paths import REPO

PREFECT_YAML = REPO / "prefect.yaml"
SETUP = REPO / "deployments" / "setup.sh"
START_WORKER = REPO / "deployments" / "start_worker.sh"
SCRIPTS = (SETUP, START_WORKER)

# deployment -> (entrypoint, flow name, work pool)
EXPECTED = {
    "course-matrix": ("flows/course_matrix.py:course_matrix", "course_matrix", "cpu"),
    "batch": ("flows/batch.py:batch", "batch", "cpu"),
    "single": ("flows/single.py:single", "single", "cpu"),
    "nightly-gc": ("flows/gc.py:gc", "gc", "cpu"),
    "gpu-lipsync": ("flows/lipsync_row.py:lipsync_row", "lipsync_row", "gpu"),
}
# Deployments whose flow is still to be written (deployments/README.md says what it must be);
# their checks run as soon as the file exists.
PENDING: set[str] = set()


@pytest.fixture(scope="module")
def doc() -> dict:
    return yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))


def deployment(doc: dict, name: str) -> dict:
    return next(d for d in doc["deployments"] if d["name"] == name)


def load_flow(name: str) -> Flow:
    """The flow a deployment names, imported the way a worker finds it (path:function)."""
    file, func = EXPECTED[name][0].split(":")
    if name in PENDING and not (REPO / file).is_file():
        pytest.skip(f"{file} is not written yet (see deployments/README.md)")
    module = importlib.import_module(file.removesuffix(".py").replace("/", "."))
    return getattr(module, func)


def script_array(path: Path, var: str) -> list[str]:
    m = re.search(rf"^{var}=\(([^)]*)\)", path.read_text(encoding="utf-8"), re.M)
    assert m, f"{path.name} defines no {var}=(...)"
    return m.group(1).split()


def script_value(path: Path, var: str) -> str:
    m = re.search(rf"^{var}=(\S+)", path.read_text(encoding="utf-8"), re.M)
    assert m, f"{path.name} defines no {var}="
    return m.group(1)


# -- the file as a whole -------------------------------------------------------------------
def test_prefect_accepts_the_file(doc):
    # `prefect deploy` validates with this model and, on an error, skips the whole file with
    # only a yellow warning: so the model must accept it here.
    from prefect.cli.deploy._models import PrefectYamlModel

    model = PrefectYamlModel.model_validate(doc)
    assert model.name == "heygem"
    assert model.prefect_version == "3.9.1"
    assert [d.name for d in model.deployments] == list(EXPECTED)


def test_code_is_not_shipped_but_started_in_the_checkout(doc):
    assert not doc.get("build") and not doc.get("push")
    assert doc["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $HEYGEM_REPO }}"}}]
    assert all("pull" not in d for d in doc["deployments"])
    # ... and every worker has HEYGEM_REPO, set by the script that starts it.
    assert re.search(r"^export HEYGEM_REPO=", START_WORKER.read_text(encoding="utf-8"), re.M)


def test_deployments_use_the_shared_pool_settings(doc):
    pools = doc["definitions"]["work_pools"]
    for name, (_, _, pool) in EXPECTED.items():
        # The YAML alias makes the very same mapping: one place to change a pool's settings.
        assert deployment(doc, name)["work_pool"] is pools[pool], name
        assert pools[pool]["name"] == pool


def test_pools_are_the_ones_setup_creates_and_workers_accept(doc):
    created = set(script_array(SETUP, "POOLS"))
    used = {d["work_pool"]["name"] for d in doc["deployments"]}
    assert used == created == {"cpu", "gpu"}
    accepted = re.search(r"^\s*([\w|]+)\) shift ;;", START_WORKER.read_text(encoding="utf-8"), re.M)
    assert accepted and set(accepted.group(1).split("|")) == created


def test_the_limited_tag_is_the_lipsync_tasks_tag(doc):
    from tasks.stages import lipsync

    tag = script_value(SETUP, "GPU_TAG")
    assert tag in lipsync.tags
    # Deployment tags only label flow runs in the UI; none claims the limited tag.
    assert all(tag not in d.get("tags", []) for d in doc["deployments"])
    assert all("heygem" in d["tags"] for d in doc["deployments"])


# -- each deployment -----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(EXPECTED))
def test_entrypoint_names_a_flow(doc, name):
    d = deployment(doc, name)
    assert d["entrypoint"] == EXPECTED[name][0]
    flow = load_flow(name)
    assert isinstance(flow, Flow)
    # run_deployment() and the UI address it as "<flow name>/<deployment name>".
    assert flow.name == EXPECTED[name][1]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_parameters_fit_the_flow(doc, name):
    d = deployment(doc, name)
    flow = load_flow(name)
    sig = inspect.signature(flow.fn)
    hints = typing.get_type_hints(flow.fn)
    params = d.get("parameters") or {}
    for key, value in params.items():
        assert key in sig.parameters, f"{name}: the flow has no parameter {key!r}"
        TypeAdapter(hints.get(key, typing.Any)).validate_python(value)
    required = {k for k, p in sig.parameters.items() if p.default is p.empty}
    for schedule in d.get("schedules") or []:
        # A scheduled run has nobody to ask for a missing parameter.
        merged = {**params, **(schedule.get("parameters") or {})}
        assert required <= set(merged), f"{name}: a schedule lacks {required - set(merged)}"
        flow.validate_parameters(merged)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_description_documents_every_parameter(doc, name):
    description = deployment(doc, name)["description"]
    for key in inspect.signature(load_flow(name).fn).parameters:
        assert f"`{key}`" in description, f"{name}: parameter {key!r} is not described"


def test_nightly_course_matrix_schedule(doc):
    from prefect.client.schemas.schedules import CronSchedule

    schedules = deployment(doc, "course-matrix")["schedules"]
    assert len(schedules) == 1
    s = schedules[0]
    assert (s["cron"], s["timezone"], s["active"]) == ("0 2 * * *", "UTC", False)
    CronSchedule(cron=s["cron"], timezone=s["timezone"])  # what `prefect deploy` builds
    try:
        from croniter import croniter
    except ImportError:
        from prefect._vendor.croniter import croniter
    after = datetime(2024, 3, 9, 12, 30, tzinfo=timezone.utc)
    nxt = croniter(s["cron"], after)
    assert [nxt.get_next(datetime) for _ in range(2)] == [
        datetime(2024, 3, 10, 2, 0, tzinfo=timezone.utc),
        datetime(2024, 3, 11, 2, 0, tzinfo=timezone.utc),
    ]
    assert all(not d.get("schedules") for d in doc["deployments"] if d["name"] not in ("course-matrix", "nightly-gc"))
    (gc,) = deployment(doc, "nightly-gc")["schedules"]
    assert (gc["cron"], gc["active"]) == ("0 4 * * *", False)
    CronSchedule(cron=gc["cron"], timezone=gc["timezone"])


# -- the scripts ---------------------------------------------------------------------------
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_and_is_executable(script):
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No Prefect profile, no store settings: only what the test gives."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **extra,
    }


def test_worker_refuses_to_start_without_its_environment(tmp_path):
    done = subprocess.run(
        ["bash", str(START_WORKER), "gpu"], env=_bare_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "PREFECT_API_URL" in done.stderr and "HEYGEM_STORE=s3" in done.stderr

    done = subprocess.run(
        ["bash", str(START_WORKER), "cpu"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_bare_env(
            tmp_path,
            PREFECT_API_URL="http://127.0.0.1:9/api",
            HEYGEM_STORE="s3",
            MINIO_ENDPOINT="minio:9000",
            MINIO_BUCKET="heygem",
        ),
    )
    assert done.returncode == 2
    assert "MINIO_ACCESS_KEY MINIO_SECRET_KEY" in done.stderr and "PREFECT_API_URL" not in done.stderr


def test_worker_wants_a_known_pool(tmp_path):
    done = subprocess.run(
        ["bash", str(START_WORKER), "gpus"], env=_bare_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "usage" in done.stderr


# -- against a real server (slow) ----------------------------------------------------------
@pytest.fixture(scope="module")
def prefect_server():
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        from prefect.settings import PREFECT_API_URL

        yield PREFECT_API_URL.value()


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def deployed(prefect_server, tmp_path_factory):
    """setup.sh run once against the server; its environment and output."""
    home = tmp_path_factory.mktemp("deployments")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEM_", "MINIO_"))}
    env.update(
        PREFECT_API_URL=prefect_server, PREFECT_HOME=str(home / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false"
    )
    return env, home, _run(["bash", str(SETUP)], env).stdout


def _ready() -> list[str]:
    return sorted(n for n, (entry, _, _) in EXPECTED.items() if (REPO / entry.split(":")[0]).is_file())


@pytest.mark.slow
def test_setup_creates_pools_limit_and_deployments(deployed):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import DeploymentSort

    _, _, out = deployed
    for name in set(EXPECTED) - set(_ready()):
        assert f"skipping deployment '{name}'" in out
    with get_client(sync_client=True) as client:
        for pool in ("cpu", "gpu"):
            assert client.read_work_pool(pool).type == "process"
        assert client.read_concurrency_limit_by_tag("gpu").concurrency_limit >= 1
        deployments = client.read_deployments(limit=50, sort=DeploymentSort.NAME_ASC)
        assert sorted(d.name for d in deployments) == _ready()
        for d in deployments:
            assert d.work_pool_name == EXPECTED[d.name][2]
        cm = client.read_deployment_by_name("course_matrix/course-matrix")
        assert cm.parameters == {"sheet": "store:sheets/course.csv"}
        assert cm.pull_steps == [
            {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $HEYGEM_REPO }}"}}
        ]
        [nightly] = cm.schedules
        assert (nightly.schedule.cron, nightly.schedule.timezone) == ("0 2 * * *", "UTC")
        assert "sheet" in cm.parameter_openapi_schema["properties"]


@pytest.mark.slow
def test_setup_again_changes_only_what_it_is_told(deployed):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import DeploymentSort

    env, _, _ = deployed
    with get_client(sync_client=True) as client:
        before = client.read_deployments(limit=50, sort=DeploymentSort.NAME_ASC)
        cm = client.read_deployment_by_name("course_matrix/course-matrix")
        [nightly] = cm.schedules
        assert nightly.active is False
        client.update_deployment_schedule(cm.id, nightly.id, active=True)  # someone turns it on
        client.create_concurrency_limit(tag="gpu", concurrency_limit=2)  # ... and grows the fleet

    _run(["bash", str(SETUP)], env)  # without HEYGEM_GPU_SLOTS
    with get_client(sync_client=True) as client:
        assert client.read_concurrency_limit_by_tag("gpu").concurrency_limit == 2  # left as it was
        after = client.read_deployments(limit=50, sort=DeploymentSort.NAME_ASC)
        assert [(d.name, d.id) for d in after] == [(d.name, d.id) for d in before]  # updated in place
        # prefect.yaml wins over the UI, as deployments/README.md says.
        [again] = client.read_deployment_by_name("course_matrix/course-matrix").schedules
        assert again.id == nightly.id and again.active is False


@pytest.mark.slow
def test_worker_runs_a_deployment_in_the_checkout(deployed):
    """start_worker.sh's worker runs a flow run of a deployment in this checkout (the pull step)
    with its own store settings. The sheet does not exist, so the run fails at validation, after
    the whole path server -> worker -> new process -> flow has been taken."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    env, home, _ = deployed
    run = run_deployment("course_matrix/course-matrix", parameters={"sheet": "/nonexistent/course.csv"}, timeout=0)
    worker_env = {
        **env,
        "HEYGEM_STORE": "local",
        "HEYGEM_ARTIFACT_DIR": str(home / "store"),
        "HEYGEM_CACHE_DIR": str(home / "cache"),
        "HEYGEM_WORKER_NAME": "test-worker",
    }
    worked = _run(["bash", str(START_WORKER), "cpu", "--run-once"], worker_env)
    # No HTTP 422 from the API (a run id may hold the digits "422", as in "...-422e-...").
    assert not re.search(r"\b422\b", worked.stdout + worked.stderr)
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run.id).state
        assert state.is_failed() and "sheet not found" in state.message, state
        assert "test-worker" in {w.name for w in client.read_workers_for_work_pool("cpu", limit=10, offset=0)}


def test_shellcheck_if_available():
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck not installed")
    done = subprocess.run(["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
