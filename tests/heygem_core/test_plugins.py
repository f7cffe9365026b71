"""The one plug-in mechanism (``heygem_core.plugins``): lazy specs, one unknown-name error, one
instance cache, and entry points, so an installed package adds an engine, planner, tracker or
store with no line in heygem at all."""

from __future__ import annotations

import sys

import pytest

from heygem_core import plugins
from heygem_core.config import Settings, SettingsError
from heygem_core.plugins import ENGINES, PLANNERS, REGISTRIES, STORES, TRACKERS, Registry, UnknownPlugin


@pytest.fixture
def fresh_entry_points():
    plugins._entry_points.cache_clear()
    yield
    plugins._entry_points.cache_clear()
    for registry in REGISTRIES:
        registry.forget()


def _installed(tmp_path, monkeypatch, group: str, lines: list[str]) -> None:
    """A package "installed" as pip leaves one: a dist-info folder with its entry points, on sys.path."""
    info = tmp_path / "site" / "heygem_extra-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: heygem-extra\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n" + "\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def test_a_plug_in_is_imported_only_when_first_used(monkeypatch):
    monkeypatch.delitem(sys.modules, "tests.plugins.memory_store", raising=False)
    reg = Registry("store", "heygem.nothing", {"memory": "tests.plugins.memory_store:MemoryStore"})
    assert "memory" in reg and reg.names() == ("memory",)
    assert "tests.plugins.memory_store" not in sys.modules  # knowing the name imports nothing
    cls = reg.get("memory")
    assert cls.__name__ == "MemoryStore" and "tests.plugins.memory_store" in sys.modules


def test_an_unknown_or_broken_plug_in_is_one_line_naming_the_choices():
    with pytest.raises(UnknownPlugin, match=r"^unknown engine 'wav3lip' \(HEYGEM_ENGINE\); choose one of: exemplar$"):
        ENGINES.get("wav3lip")
    broken = Registry("planner", "heygem.nothing", {"gone": "tests.plugins.no_such_module:Planner"})
    with pytest.raises(
        UnknownPlugin,
        match=r"planner 'gone' \(HEYGEM_PLANNER\) cannot be loaded from "
        r"tests.plugins.no_such_module:Planner: No module named",
    ):
        broken.get("gone")
    with pytest.raises(SettingsError, match="unknown tracker 'nope'"):
        Settings(tracker="nope").check()


def test_every_registry_names_its_built_in_plug_ins_and_each_loads():
    assert PLANNERS.names() == ("learned", "phones") and STORES.names() == ("local", "s3")
    assert TRACKERS.names() == ("dlib", "insightface") and "exemplar" in ENGINES
    for registry in REGISTRIES:
        for name in registry.builtin:
            cls = registry.get(name)
            # the class is the plug-in its line names (a store calls itself by its kind)
            assert getattr(cls, "name", None) == name or getattr(cls, "kind", None) == name, (registry.kind, name, cls)


def test_build_shares_one_instance_per_plug_in_options_and_key(tmp_path):
    a = Settings(cache_dir=tmp_path / "a")
    assert PLANNERS.build("learned", a) is PLANNERS.build("learned", a.replace(crf=30))
    assert ENGINES.build("exemplar", a) is ENGINES.build("exemplar", a)
    # the engines' key is their cache folder: another folder, another instance
    assert ENGINES.build("exemplar", a) is not ENGINES.build("exemplar", Settings(cache_dir=tmp_path / "b"))
    assert PLANNERS.create("learned", a) is not PLANNERS.build("learned", a)


def test_an_installed_package_adds_an_engine_with_no_line_in_heygem(tmp_path, monkeypatch, fresh_entry_points):
    _installed(
        tmp_path,
        monkeypatch,
        "heygem.engines",
        [
            "loudness = tests.heygem_core.engines.loudness_engine:LoudnessEngine",
            "exemplar = tests.plugins.memory_store:MemoryStore",  # may not take a built-in's name
        ],
    )
    assert ENGINES.names() == ("exemplar", "loudness")
    assert ENGINES.get("exemplar").__name__ == "ExemplarEngine"
    settings = Settings.from_env({"HEYGEM_ENGINE": "loudness", "HEYGEM_LOUDNESS_FLOOR": "0.05"}).check()
    assert ENGINES.options("loudness", settings.engine_options).floor == 0.05
    engine = ENGINES.build("loudness", settings, ENGINES.options("loudness", settings.engine_options))
    assert engine.version == "loudness-1"


def test_an_installed_package_adds_a_store(tmp_path, monkeypatch, fresh_entry_points):
    _installed(tmp_path, monkeypatch, "heygem.stores", ["memory = tests.plugins.memory_store:MemoryStore"])
    from heygem_core.store import open_store, shared_store

    settings = Settings(store="memory", cache_dir=tmp_path / "cache").check()
    store = shared_store(settings)
    store.put_bytes("runs/r1/a.txt", b"hello")
    assert shared_store(settings).get_bytes("runs/r1/a.txt") == b"hello"  # the same instance
    assert open_store(settings).list() == []  # a new one knows nothing
    assert store.local_path("runs/r1/a.txt").read_bytes() == b"hello"
