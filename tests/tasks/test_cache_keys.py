"""Stage cache keys follow the declared versions of what made each stage's output."""

import pytest

pytest.importorskip("prefect")

from heygem_core import engines  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.store import open_store  # noqa: E402
from tasks import runtime  # noqa: E402


class _Versioned:
    name = "versioned"
    version = "v1"

    def __init__(self, settings, options=None):
        pass


@pytest.fixture
def versioned(monkeypatch):
    monkeypatch.setitem(engines.ENGINES.builtin, "versioned", _Versioned)
    engines.ENGINES.forget()
    yield _Versioned
    engines.ENGINES.forget()


def _keys(settings):
    store = open_store(settings)
    return {
        stage: runtime.stage_key(stage, settings, store, video="v" * 64, audio="a" * 64) for stage in runtime.STAGES
    }


def test_an_engine_version_changes_its_own_stages_only(tmp_path, versioned, monkeypatch):
    settings = Settings(cache_dir=tmp_path / "c", artifact_dir=tmp_path / "a", engine="versioned")
    before = _keys(settings)
    monkeypatch.setattr(versioned, "version", "v2")
    engines.ENGINES.forget()
    after = _keys(settings)
    changed = {stage for stage in before if before[stage] != after[stage]}
    assert changed == {"lipsync", "blend"}


def test_an_engine_that_reads_the_sound_itself_has_no_planner_in_its_keys(tmp_path, versioned, monkeypatch):
    settings = Settings(cache_dir=tmp_path / "c", artifact_dir=tmp_path / "a", engine="versioned")
    other_plan = settings.replace(mouth_lead_ms=40, adapt="off", planner="phones")
    assert _keys(settings)["lipsync"] != _keys(other_plan)["lipsync"]  # a planned engine: the plan is its input
    monkeypatch.setattr(versioned, "needs_plan", False, raising=False)
    assert _keys(settings)["lipsync"] == _keys(other_plan)["lipsync"]
    assert runtime.STAGE_PRODUCERS["lipsync"]["planner"](settings) == "none"


def test_a_new_mouth_model_changes_the_adaptation_and_lipsync_keys_only(tmp_path):
    import shutil

    import numpy as np

    from heygem_core.soundmouth import net

    w = net.load()
    other = tmp_path / "other.npz"
    arrays = dict(w.arrays, **{"head.b": w.arrays["head.b"] + np.float32(0.01)})
    net.save(other, arrays, w.arch, w.manifest)
    same = tmp_path / "same.npz"
    shutil.copy(net.DEFAULT_PATH, same)
    base = Settings(cache_dir=tmp_path / "c", artifact_dir=tmp_path / "a")
    shipped, copied, retrained = (_keys(base.replace(mouth_model=m)) for m in (None, same, other))
    assert shipped == copied  # the weights' content is the key, not their path
    # the plan and the lecturer's head come from the model; QA judges with its own fixed model
    assert {s for s in shipped if shipped[s] != retrained[s]} == {"adapt_mouth", "lipsync"}
    phones = _keys(base.replace(planner="phones"))
    assert phones["lipsync"] != shipped["lipsync"] and phones["track_faces"] == shipped["track_faces"]


def test_the_mouths_lead_and_the_lecturer_adaptation_change_their_stages_keys_only(tmp_path):
    base = Settings(cache_dir=tmp_path / "c", artifact_dir=tmp_path / "a")
    before = _keys(base)
    # the lead moves the plan and QA's expectation alike, not the lecturer's head
    for changed, stages in (
        (base.replace(mouth_lead_ms=40.0), {"lipsync", "qa"}),
        (base.replace(adapt="off"), {"adapt_mouth", "lipsync"}),
    ):
        after = _keys(changed)
        assert {s for s in before if before[s] != after[s]} == stages


def test_an_engines_own_setting_changes_its_stages_only(tmp_path):
    base = Settings(cache_dir=tmp_path / "c", artifact_dir=tmp_path / "a")
    before = _keys(base)
    after = _keys(base.replace(engine_options={"exemplar_max_open_stretch": "1.2"}))
    assert {s for s in before if before[s] != after[s]} == {"lipsync", "blend"}


def test_the_trackers_declared_version_changes_the_track_key_only(tmp_path, monkeypatch):
    from heygem_core.track import backends, tracker

    base = Settings(cache_dir=tmp_path / "c", artifact_dir=tmp_path / "a")
    before = _keys(base)
    monkeypatch.setattr(tracker, "VERSION", tracker.VERSION + "-next")
    after = _keys(base)
    assert {s for s in before if before[s] != after[s]} == {"track_faces"}
    monkeypatch.undo()
    monkeypatch.setattr(backends.DlibBackend, "version", "dlib-next")
    assert {s for s in before if before[s] != _keys(base)[s]} == {"track_faces"}


def test_keys_name_the_store_not_where_its_folder_is(tmp_path):
    import shutil

    from heygem_core.store import LocalStore

    settings = Settings(cache_dir=tmp_path / "c", artifact_dir=tmp_path / "a")
    first = _keys(settings)
    assert first == _keys(settings)
    assert str(tmp_path) not in LocalStore(tmp_path / "a").identity()  # the store, not its folder
    shutil.move(tmp_path / "a", tmp_path / "moved")  # the same store, mounted elsewhere
    assert _keys(settings.replace(artifact_dir=tmp_path / "moved")) == first
    other = _keys(settings.replace(artifact_dir=tmp_path / "another"))  # another store
    assert all(other[stage] != first[stage] for stage in first)
    assert LocalStore(tmp_path / "moved").identity() != LocalStore(tmp_path / "another").identity()
    assert LocalStore(tmp_path / "moved").list() == []  # the id is no object of the store
