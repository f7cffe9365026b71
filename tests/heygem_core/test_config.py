"""Every setting with a bad value stops the command before any work: one line naming the
variable, the value and what is allowed, exit 2, no traceback, no output."""

from dataclasses import fields

import pytest

from cli import main
from heygem_core.config import Settings, SettingsError
from tests.paths import LANGUAGE_AUDIO, VIDEOS

S3 = {"HEYGEM_STORE": "s3", "HEYGEM_S3_ENDPOINT": "127.0.0.1:9"}

# variable -> (bad value, words the message must hold, other variables it needs)
BAD = {
    "CACHE_DIR": ("{file}", ["is a file"], {}),
    "TARGET_LUFS": ("loud", ["must be a number"], {}),
    "CRF": ("abc", ["must be a whole number"], {}),
    "X264_PRESET": ("warp", ["choose one of", "veryfast"], {}),
    "AUDIO_BITRATE": ("lots", ["192k"], {}),
    "ENGINE": ("nobody", ["choose one of", "exemplar"], {}),
    "PLANNER": ("nobody", ["choose one of", "learned"], {}),
    "MOUTH_MODEL": ("{missing}", ["no such file"], {}),
    "MOUTH_LEAD_MS": ("500", ["from -200 to 200"], {}),
    "ADAPT": ("always", ["choose one of", "auto", "off"], {}),
    "TRACKER": ("nope", ["choose one of", "dlib"], {}),
    "DETECT_EVERY": ("0", ["from 1"], {}),
    "DETECT_MAX_SIDE": ("big", ["whole number"], {}),
    "SPEAKER": ("nobody", ["largest", "central"], {}),
    "INSIGHTFACE_ROOT": ("{missing}", ["no such folder"], {}),
    "TRACKING_PROCESSES": ("-1", ["from 0"], {}),
    "EXTEND_MODE": ("bogus", ["pingpong", "loop"], {}),
    "EXEMPLAR_MAX_OPEN_STRETCH": ("9", ["from 1 to 3"], {}),
    "STORE": ("ftp", ["choose one of", "local", "s3"], {}),
    "ARTIFACT_DIR": ("{file}", ["is a file"], {}),
    "S3_ENDPOINT": ("http://a/b", ["host:port"], {"HEYGEM_STORE": "s3"}),
    "S3_BUCKET": ("Bad_Bucket", ["bucket name"], S3),
    "S3_SECURE": ("maybe", ["true or false"], {}),
    "LINK_EXPIRY_HOURS": ("0", ["from 1"], {}),
    "INPUT_ROOTS": ("{missing}", ["is not a folder"], {}),
    "MAX_SHEET_ROWS": ("0", ["from 1"], {}),
    "WORKERS": ("0", ["from 1"], {}),
    "RETRY_DELAY_S": ("soon", ["must be a number"], {}),
    "LIPSYNC_DEPLOYMENT": ("justaname", ["flow/deployment"], {}),
    "GPU_QUEUE_S": ("forever", ["must be a number"], {}),
    "GPU_START_S": ("0", ["from 1"], {}),
    "GPU_RUN_S": ("-5", ["from 1"], {}),
    "QA_MIN_COVERAGE": ("2", ["from 0 to 1"], {}),
    "QA_MIN_SYNC": ("high", ["must be a number"], {}),
    "PREFECT_PORT": ("70000", ["from 1 to 65535"], {}),
}
# Any value is a valid one (credentials, a region name).
FREE_FORM = {"S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION"}


def test_every_setting_has_a_bad_value_case():
    names = {f.name.upper() for f in fields(Settings)} - {"ENGINE_OPTIONS", "STORE_OPTIONS"}
    names |= {f"{plugin}_{f.name}".upper() for plugin, model in _builtin_options() for f in fields(model)}
    assert "S3_ENDPOINT" in names and "EXEMPLAR_MAX_OPEN_STRETCH" in names
    assert names - FREE_FORM - set(BAD) == set(), "a new setting needs a bad-value case here"


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_setting_stops_the_command_with_one_line(name, tmp_path, capsys, monkeypatch):
    value, words, needs = BAD[name]
    (tmp_path / "file").write_text("not a folder")
    value = value.format(file=tmp_path / "file", missing=tmp_path / "missing")
    for var, v in {**needs, f"HEYGEM_{name}": value}.items():
        monkeypatch.setenv(var, v)
    out = tmp_path / "out.mp4"
    code = main(["lipsync", "--video", str(VIDEOS["katie_8s"]), "--audio", str(LANGUAGE_AUDIO["de"]), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert f"HEYGEM_{name}" in err and all(w in err for w in words), err
    assert not out.exists()


def test_good_values_are_read_with_their_types(tmp_path):
    s = Settings.from_env(
        {
            "HEYGEM_CRF": " 20 ",
            "HEYGEM_S3_SECURE": "yes",
            "HEYGEM_TARGET_LUFS": "-23",
            "HEYGEM_INPUT_ROOTS": str(tmp_path),
            "MINIO_BUCKET": "lectures",
        }
    )
    from heygem_core.store.s3 import s3_options

    opts = s3_options(s)
    assert (s.crf, opts.secure, s.target_lufs, s.input_roots, opts.bucket) == (20, True, -23.0, (tmp_path,), "lectures")
    with pytest.raises(SettingsError, match="HEYGEM_CRF=52"):
        s.replace(crf=52)  # flags and flow parameters are checked as the environment is


def test_every_setting_is_documented():
    """docs/configuration.md names every setting's variable (issue 28: the hand-written table
    had lost HEYGEM_AUDIO_BITRATE and the HEYGEM_S3_* names)."""
    from heygem_core.config import variable
    from tests.paths import REPO

    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    names = [f.name for f in fields(Settings) if f.name not in ("engine_options", "store_options")]
    names += [f"{plugin}_{f.name}" for plugin, model in _builtin_options() for f in fields(model)]
    missing = [variable(name) for name in names if variable(name) not in doc]
    assert "s3_endpoint" in names and "exemplar_max_open_stretch" in names
    assert missing == [], f"add these to docs/configuration.md: {missing}"


def _builtin_options():
    """(name, Options) of every built-in engine and store that declares its own settings."""
    from heygem_core.plugins import ENGINES, STORES

    return ENGINES.builtin_options() + STORES.builtin_options()


def test_the_settings_table_is_made_from_the_fields_own_metadata():
    """docs/configuration.md's table is what scripts/settings_doc.py writes from each field's
    section, default, limits and doc: run it after changing a setting."""
    import importlib.util

    from tests.paths import REPO

    spec = importlib.util.spec_from_file_location("settings_doc", REPO / "scripts" / "settings_doc.py")
    doc_script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(doc_script)
    text = doc_script.DOC.read_text(encoding="utf-8")
    assert doc_script.updated(text) == text, "run: .venv/bin/python scripts/settings_doc.py"
    for f in fields(Settings):
        if f.name not in ("engine_options", "store_options"):
            assert f.metadata.get("doc") and f.metadata.get("section"), (
                f"{f.name}: give it setting(doc=..., section=...)"
            )
    for plugin, model in _builtin_options():  # a plug-in's own settings are in the table too
        for f in fields(model):
            assert f.metadata.get("doc"), f"{plugin} {f.name}: give it setting(doc=..., section=...)"


def test_cli_flags_take_their_choices_and_defaults_from_the_settings():
    import argparse

    from cli import FLAG_SETTINGS, build_parser
    from heygem_core.config import shown_default, variable

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lipsync = sub.choices["lipsync"]
    flags = {opt: a for a in lipsync._actions for opt in a.option_strings}
    by_name = {f.name: f for f in fields(Settings)}
    for name, _, flag in FLAG_SETTINGS:
        action, field_ = flags[flag], by_name[name]
        assert f"default {shown_default(field_)}" in action.help and variable(name) in action.help, (flag, action.help)
        if "choices" in field_.metadata:
            assert tuple(action.choices) == field_.metadata["choices"], flag


def test_a_stores_own_setting_misspelt_is_named_with_the_ones_it_has():
    with pytest.raises(SettingsError, match=r"HEYGEM_S3_BUCKETT: store s3 has no setting 'buckett' \(it has: endpoint"):
        Settings.from_env({"HEYGEM_S3_BUCKETT": "lectures"}).check()


def test_minio_names_are_the_s3_stores_settings_and_its_own_names_win():
    from heygem_core.store.s3 import s3_options

    env = {"MINIO_ENDPOINT": "minio:9000", "MINIO_BUCKET": "a", "HEYGEM_S3_BUCKET": "b", "MINIO_SECRET_KEY": "s3cr3t"}
    settings = Settings.from_env(env)
    opts = s3_options(settings)
    assert (opts.endpoint, opts.bucket, opts.secret_key) == ("minio:9000", "b", "s3cr3t")
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in repr(opts)
