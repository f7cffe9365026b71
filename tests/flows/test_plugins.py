"""A new store and a new flow, each added as the docs say (one new file, one registry line),
run for real: the store under the single flow on a real Prefect API, the flow from the CLI and
from the web app's jobs; and ``prefect.yaml`` deploys exactly the registered flows."""

from __future__ import annotations

import pytest
import yaml

from flows.registry import FLOWS, entrypoint
from heygem_core import media
from heygem_core.config import Settings
from heygem_core.plugins import STORES
from tests.paths import LANGUAGE_AUDIO, REPO, VIDEOS


@pytest.fixture
def memory_store(monkeypatch, heygem_env):
    monkeypatch.setitem(STORES.builtin, "memory", "tests.plugins.memory_store:MemoryStore")  # the one line
    monkeypatch.setenv("HEYGEM_STORE", "memory")
    monkeypatch.setenv("HEYGEM_MEMORY_LABEL", "the test's memory")  # its own setting, from its Options
    yield
    STORES.forget()


@pytest.fixture
def hello_flow(monkeypatch):
    monkeypatch.setitem(FLOWS.builtin, "hello", "tests.plugins.hello_flow:hello")  # the one line


@pytest.mark.slow
def test_a_new_store_holds_a_whole_run_of_the_single_flow(memory_store):
    from flows.single import single
    from heygem_core.store import shared_store

    summary = single(
        video=str(VIDEOS["chaplin_7s"]), audio=str(LANGUAGE_AUDIO["en"]), language="en", lecturer="Charlie Chaplin"
    )
    assert summary["done"] == 1 and summary["store"].startswith("the test's memory of process")
    store = shared_store(Settings.from_env())  # the tasks' own instance: the registry shares it
    key = summary["outputs"][0]
    assert key.endswith("/videos/Charlie_Chaplin_en.mp4")
    info = media.probe_video(store.local_path(key))
    assert info.height == 480 and abs(info.duration - media.probe_audio(LANGUAGE_AUDIO["en"]).duration) < 0.2
    kept = {o.key.rsplit("/", 1)[-1] for o in store.list(summary["run_prefix"])}
    assert {"manifest.json", "report.csv", f"{summary['run_id']}.zip"} <= kept


def test_a_new_flow_runs_from_the_cli_by_name(hello_flow, prefect_api, monkeypatch, capsys):
    import cli

    monkeypatch.setenv("PREFECT_API_URL", prefect_api["PREFECT_API_URL"])
    assert cli.main(["flow", "--list"]) == 0
    assert "hello" in capsys.readouterr().out
    assert cli.main(["flow", "hello", "-p", "who=lecturer", "-p", "times=2"]) == 0
    out = capsys.readouterr().out
    assert '"greeting": "hello lecturer hello lecturer"' in out and "/runs/flow-run/" in out
    assert cli.main(["flow", "hello", "-p", "whom=x"]) == 2
    assert "flow hello has no parameter 'whom' (it has: who, times)" in capsys.readouterr().err


def test_a_new_flow_runs_as_a_web_job(hello_flow, prefect_api, tmp_path):
    from heygem_core.store import LocalStore
    from webapp import jobs

    ctx = jobs.WebContext(
        settings=Settings(cache_dir=tmp_path / "c"),
        store=LocalStore(tmp_path / "s"),
        api_url=prefect_api["PREFECT_API_URL"],
        scratch=tmp_path / "w",
    )
    job = jobs.FlowJob(ctx, "hello", {"who": "web"}).start()
    assert job.done.wait(120) and job.error is None
    assert job.state.is_completed() and job.state.result()["greeting"] == "hello web"


def test_prefect_yaml_deploys_exactly_the_registered_flows():
    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    deployed = {d["entrypoint"] for d in deployments}
    assert deployed == {entrypoint(name) for name in FLOWS.builtin}
    for name in FLOWS.builtin:  # and each entrypoint is the flow the registry loads
        path, _, attr = entrypoint(name).partition(":")
        assert (REPO / path).is_file() and FLOWS.get(name).fn.__name__ == attr
