"""The course matrix end to end on the fixtures: 3 lecturers × 3 of the languages (the whole 3 × 5
sample course is examples/course_sample.csv)."""

from __future__ import annotations

import json
import subprocess
import zipfile

import pytest

from heygem_core.errors import SheetError
from tests.flows.conftest import cached, matrix_rows, ran, read_flow_run, task_runs, write_sheet
from tests.paths import LANGUAGE_AUDIO, VIDEOS


@pytest.mark.slow
def test_matrix_completes_tracks_once_per_video_and_reruns_only_what_changed(heygem_env):
    from flows.course_matrix import course_matrix
    from heygem_core.config import Settings
    from heygem_core.store import open_store

    rows = matrix_rows(languages={lang: LANGUAGE_AUDIO[lang] for lang in ("de", "fr")})
    sheet = write_sheet(heygem_env / "course.csv", rows)
    first = course_matrix(str(sheet))

    assert first["done"] == 6 and first["failed"] == 0, first["failures"]
    # Face tracking of the sources ran once per video (QA tracks each output on top of that).
    assert ran(first["flow_run_id"])["track_faces"] == 3
    # the learned mouth is adapted to each lecturer once, for all their languages
    assert ran(first["flow_run_id"])["adapt_mouth"] == 3
    assert len(store_keys := open_store(Settings.from_env()).list("cache/adapt_mouth/")) == 3, store_keys
    assert ran(first["flow_run_id"])["lipsync"] == 6
    store = open_store(Settings.from_env())
    assert len(store.list("cache/track_faces/")) == 3

    names = zipfile.ZipFile(store.local_path(first["zip"])).namelist()
    assert sum(n.startswith("videos/") for n in names) == 6
    manifest = json.loads(store.get_bytes(first["manifest.json"]))
    assert len(manifest["entries"]) == 6
    assert all(e["qa"]["coverage"] > 0.9 for e in manifest["entries"])

    # New French audio (same words, a little faster): only the French rows are redone.
    new_fr = heygem_env / "fr_new.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(LANGUAGE_AUDIO["fr"]),
            "-af",
            "atempo=1.1",
            str(new_fr),
        ],
        check=True,
    )
    for r in rows:
        if r["language"] == "fr":
            r["audio"] = str(new_fr)
    write_sheet(sheet, rows)
    second = course_matrix(str(sheet))

    assert second["done"] == 6
    did, hit = ran(second["flow_run_id"]), cached(second["flow_run_id"])
    assert len(store.list("cache/track_faces/")) == 3
    assert did["track_faces"] == 0 and hit["track_faces"] == 3
    assert did["adapt_mouth"] == 0 and hit["adapt_mouth"] == 3
    assert did["normalize_audio"] == 1 and hit["normalize_audio"] == 1
    for stage in ("lipsync", "blend", "mux", "qa"):
        assert did[stage] == 3, (stage, did)
        assert hit[stage] == 3, (stage, hit)


def test_bad_rows_are_all_reported_before_any_work(heygem_env):
    from flows.course_matrix import course_matrix

    rows = matrix_rows({"katie_8s": VIDEOS["katie_8s"]}, {"de": LANGUAGE_AUDIO["de"], "fr": LANGUAGE_AUDIO["fr"]})
    rows += [
        {
            "lecturer": "katie",
            "video": str(heygem_env / "missing.mp4"),
            "language": "en",
            "audio": str(LANGUAGE_AUDIO["en"]),
        },
        {
            "lecturer": "katie",
            "video": str(VIDEOS["katie_8s"]),
            "language": "xx-nonsense",
            "audio": str(LANGUAGE_AUDIO["ja"]),
        },
        {
            "lecturer": "katie",
            "video": str(VIDEOS["katie_8s"]),
            "language": "zh",
            "audio": str(LANGUAGE_AUDIO["zh"]),
            "output": "katie_de.mp4",
        },
    ]
    sheet = write_sheet(heygem_env / "bad.csv", rows)
    state = course_matrix(str(sheet), return_state=True)
    assert state.is_failed()
    err = state.result(raise_on_failure=False)
    assert isinstance(err, SheetError)
    text = str(err)
    for row in ("row 4", "row 5", "row 6"):
        assert row in text
    assert "missing.mp4" in text and "xx-nonsense" in text and "duplicate output" in text
    runs = task_runs(str(state.state_details.flow_run_id))
    assert {tr.task_key.rsplit("-", 1)[0] for tr in runs} == {"validate_sheet"}


@pytest.mark.slow
def test_a_corrupt_video_fails_its_row_only(heygem_env, media_factory):
    from flows.course_matrix import course_matrix
    from flows.outcome import summary_of
    from heygem_core.config import Settings
    from heygem_core.store import open_store

    broken = media_factory.truncated("chaplin_cut.mp4", VIDEOS["chaplin_7s"], 0.3)
    corrupt = heygem_env / "chaplin_cut.mp4"
    corrupt.write_bytes(broken.read_bytes())
    rows = [
        {"lecturer": "katie", "video": str(VIDEOS["katie_8s"]), "language": "de", "audio": str(LANGUAGE_AUDIO["de"])},
        {"lecturer": "chaplin", "video": str(corrupt), "language": "de", "audio": str(LANGUAGE_AUDIO["de"])},
    ]
    state = course_matrix(str(write_sheet(heygem_env / "one_bad.csv", rows)), return_state=True)
    # a failed row makes the run Failed (red in the dashboard), with the row named, as the API says
    run = read_flow_run(str(state.state_details.flow_run_id))
    assert run.state.type.value == "FAILED", run.state
    assert "1 of 2 output(s) failed" in run.state.message and "chaplin_cut.mp4" in run.state.message
    summary = summary_of(state)
    assert summary["done"] == 1 and summary["failed"] == 1
    failure = summary["failures"][0]
    assert failure["row"] == 3 and "chaplin_cut.mp4" in failure["message"]
    assert "Traceback" not in failure["message"]

    store = open_store(Settings.from_env())
    report = store.get_bytes(summary["report.csv"]).decode()
    assert "failed" in report and "chaplin_cut.mp4" in report
    names = zipfile.ZipFile(store.local_path(summary["zip"])).namelist()
    assert [n for n in names if n.startswith("videos/")] == ["videos/katie_de.mp4"]
