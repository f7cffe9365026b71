"""End to end in a real browser: upload, generate, watch, download, look back.

Each lip-sync job is real (about 15 s of CPU per short video here); the single job runs first
so that later tests reuse its cached face track and audio.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from heygem_core import media
from tests.paths import LANGUAGE_AUDIO, VIDEOS
from tests.webapp.conftest import UPLOAD_LIMIT_MB, screenshot

pytestmark = pytest.mark.slow

JOB_TIMEOUT_MS = 240_000


def _expect():
    from playwright.sync_api import expect

    return expect


def upload(page, elem_id: str, files) -> None:
    """Put files into an upload component and wait until the app has received each of them."""
    files = [files] if isinstance(files, (str, Path)) else list(files)
    page.locator(f"#{elem_id} input[type=file]").set_input_files([str(f) for f in files])
    for f in files:
        name = Path(f).name
        page.wait_for_selector(f"#{elem_id} [href*='{name}'], #{elem_id} [src*='{name}']", state="attached")


def choose_language(page, elem_id: str, label: str) -> None:
    box = page.locator(f"#{elem_id} input")
    box.click()
    page.get_by_role("option", name=label).click()
    _expect()(box).to_have_value(label)


def table_rows(table) -> list[list[str]]:
    """The data rows of a Gradio Dataframe (a virtualised grid), as cell texts."""
    rows = []
    for row in table.locator("[role=row]").all():
        cells = [c.inner_text().strip() for c in row.locator("[role=gridcell], td").all()]
        if any(cells):
            rows.append(cells)
    return rows


def download(page, selector: str, dest: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    path = dest / info.value.suggested_filename
    info.value.save_as(str(path))
    return path


# --------------------------------------------------------------------------------- single


def test_single_job_plays_the_result_with_the_audio_duration(page, tmp_path):
    expect = _expect()
    upload(page, "single-video", VIDEOS["katie_8s"])
    upload(page, "single-audio", LANGUAGE_AUDIO["de"])
    # checked on upload, before anything runs (this fixture is MPEG-4 part 2: no browser preview)
    expect(page.locator("#single-video-note")).to_contain_text("512×512, 25 fps, 8.0 s")
    expect(page.locator("#single-video-note")).to_contain_text("cannot preview this format")
    expect(page.locator("#single-audio-note")).to_contain_text("9.3 s of audio")
    choose_language(page, "single-language", "German (de)")
    page.click("#single-go")

    status = page.locator("#single-status")
    expect(status).to_contain_text("Working", timeout=60_000)  # live progress with stage names
    expect(status).to_contain_text("Done", timeout=JOB_TIMEOUT_MS)
    expect(status).to_contain_text("katie_8s_de.mp4")
    expect(page.locator("#single-status a[href*='/runs/flow-run/']")).to_have_count(1)

    page.wait_for_function(
        "() => { const v = document.querySelector('#single-result video');"
        " return v && v.readyState >= 1 && isFinite(v.duration) }",
        timeout=30_000,
    )
    duration = page.evaluate("() => document.querySelector('#single-result video').duration")
    audio = media.probe_audio(LANGUAGE_AUDIO["de"]).duration
    assert abs(duration - audio) < 0.3, (duration, audio)
    # it plays: the clock moves
    page.evaluate("() => { const v = document.querySelector('#single-result video'); v.muted = true; return v.play() }")
    page.wait_for_function("() => document.querySelector('#single-result video').currentTime > 0.2", timeout=15_000)

    expect(page.locator("#single-download")).to_be_visible()
    saved = download(page, "#single-download", tmp_path)
    assert saved.name == "katie_8s_de.mp4" and saved.stat().st_size > 100_000
    page.evaluate("() => document.querySelector('#single-result video').pause()")
    screenshot(page, "single_result", tmp_path)


def test_later_submissions_wait_their_turn_told_their_place_in_words(browser, web_app, tmp_path):
    """Three users at once with concurrency 1: the second is told it is next, the third that
    one job is ahead of its own, in the job panel; the three flow runs do not overlap and run
    in the order they were submitted. (Cached stages keep these jobs short.)"""
    expect = _expect()
    pages = []
    for _ in range(3):
        ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
        ctx.set_default_timeout(30_000)
        pg = ctx.new_page()
        pg.goto(web_app.url)
        upload(pg, "single-video", VIDEOS["katie_8s"])
        upload(pg, "single-audio", LANGUAGE_AUDIO["de"])
        choose_language(pg, "single-language", "German (de)")
        pages.append(pg)
    try:
        pages[0].click("#single-go")
        expect(pages[0].locator("#single-status")).not_to_contain_text("Progress and results appear here")
        pages[1].click("#single-go")
        expect(pages[1].locator("#single-status")).to_contain_text("Yours is next in line", timeout=10_000)
        pages[2].click("#single-go")
        expect(pages[2].locator("#single-status")).to_contain_text("1 job ahead of yours in line", timeout=10_000)
        expect(pages[2].locator("#single-status")).to_contain_text("at most 1 job runs at a time")
        screenshot(pages[2], "single_waiting_in_line", tmp_path)
        screenshot(pages[0], "single_working", tmp_path)
        # once the first is done, the third moves up
        expect(pages[2].locator("#single-status")).to_contain_text("Yours is next in line", timeout=JOB_TIMEOUT_MS)
        for pg in pages:
            expect(pg.locator("#single-status")).to_contain_text("Done", timeout=JOB_TIMEOUT_MS)
    finally:
        for pg in pages:
            pg.context.close()

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["web"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=3,
        )
    third, second, first = runs
    assert first.end_time <= second.start_time and second.end_time <= third.start_time, (
        "two jobs ran at once with HEYGEM_UI_CONCURRENCY=1"
    )


# --------------------------------------------------------------------------------- batch


def test_batch_with_a_broken_video_finishes_the_others_and_zips_them(page, tmp_path, media_factory):
    expect = _expect()
    broken = media_factory.truncated("chaplin_cut_short.mp4", VIDEOS["chaplin_7s"])
    page.get_by_role("tab", name="Many videos").click()
    upload(page, "batch-audio", LANGUAGE_AUDIO["de"])
    upload(page, "batch-videos", [VIDEOS["katie_8s"], VIDEOS["chaplin_7s"], broken])
    choose_language(page, "batch-language", "German (de)")
    page.click("#batch-go")

    status = page.locator("#batch-status")
    expect(status).to_contain_text(re.compile(r"\d/3: \S+\.mp4 — "), timeout=60_000)  # "k/N: name — stage"
    expect(status).to_contain_text("2 of 3 done", timeout=JOB_TIMEOUT_MS)
    expect(status).to_contain_text("1 failed")

    rows = {cells[1]: cells for cells in table_rows(page.locator("#batch-table"))}
    assert rows["katie_8s.mp4"][2] == "done" and rows["chaplin_7s.mp4"][2] == "done", rows
    assert rows["chaplin_cut_short.mp4"][2] == "failed", rows
    message = rows["chaplin_cut_short.mp4"][3]
    assert "chaplin_cut_short.mp4" in message and "truncated" in message, message
    assert "Traceback" not in page.locator("body").inner_text()

    expect(page.locator("#batch-gallery img")).to_have_count(2)
    saved = download(page, "#batch-zip", tmp_path)
    with zipfile.ZipFile(saved) as z:
        videos = sorted(n for n in z.namelist() if n.startswith("videos/"))
        report = z.read("report.csv").decode("utf-8")
        manifest = json.loads(z.read("manifest.json"))
    assert videos == ["videos/chaplin_7s_de.mp4", "videos/katie_8s_de.mp4"]
    # issue 27 item 6: the refused upload is a failed row of the run, in the report and the manifest too
    failed_lines = [line for line in report.splitlines() if "chaplin_cut_short" in line]
    assert len(failed_lines) == 1 and "failed" in failed_lines[0], report
    assert manifest["counts"]["failed"] == 1 and manifest["counts"]["done"] == 2, manifest["counts"]
    screenshot(page, "batch_table", tmp_path)

    # ... and History counts it, with the files' names and the language
    page.get_by_role("tab", name="History").click()
    history_row = page.locator("#history-runs [role=row]", has_text="katie_8s").first
    expect(history_row).to_contain_text("(de)", timeout=15_000)
    cells = [c.inner_text().strip() for c in history_row.locator("[role=gridcell], td").all()]
    assert cells[-3:-1] == ["2", "1"], cells  # made, failed


# --------------------------------------------------------------------------------- course


def _sheet(path: Path, rows: list[list[str]]) -> Path:
    lines = ["lecturer,video,language,audio,title"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_course_sheet_shows_the_bad_rows_before_anything_runs(page, tmp_path):
    expect = _expect()
    sheet = _sheet(
        tmp_path / "spring_course.csv",
        [
            ["Katie", str(VIDEOS["katie_8s"]), "de", str(LANGUAGE_AUDIO["de"]), "Intro"],
            ["Katie", "week2_missing.mp4", "klingonish", str(LANGUAGE_AUDIO["fr"]), "Week 2"],
        ],
    )
    page.get_by_role("tab", name="Course sheet").click()
    upload(page, "course-sheet", sheet)
    expect(page.locator("#course-check")).to_contain_text("2 problems in the sheet", timeout=30_000)
    problems = page.locator("#course-problems")
    expect(problems).to_contain_text("week2_missing.mp4")
    expect(problems).to_contain_text("klingonish")
    cells = table_rows(problems)
    assert {(c[0], c[1]) for c in cells} == {("3", "video"), ("3", "language")}, cells
    assert not any(str(tmp_path) in c[2] for c in cells)  # the user's names, not our private copies
    expect(page.locator("#course-go")).to_be_disabled()
    screenshot(page, "course_errors", tmp_path)


def test_course_sheet_with_its_files_runs_and_links_the_dashboard(page, tmp_path):
    """The sheet names files uploaded beside it (katie + German: cached by the single test)."""
    expect = _expect()
    sheet = _sheet(tmp_path / "intro_course.csv", [["Katie", "katie_8s.mp4", "de", "de_9s.wav", "Intro"]])
    page.get_by_role("tab", name="Course sheet").click()
    upload(page, "course-media", [VIDEOS["katie_8s"], LANGUAGE_AUDIO["de"]])
    upload(page, "course-sheet", sheet)
    expect(page.locator("#course-check")).to_contain_text("The sheet is fine: 1 video", timeout=30_000)
    expect(page.locator("#course-plan")).to_contain_text("Katie_de.mp4")
    page.click("#course-go")
    status = page.locator("#course-status")
    expect(status).to_contain_text("1 of 1 done", timeout=JOB_TIMEOUT_MS)
    link = page.locator("#course-status a[href*='/runs/flow-run/']")
    href = link.get_attribute("href")
    assert href.startswith("http://127.0.0.1:")
    saved = download(page, "#course-zip", tmp_path)
    assert saved.name.startswith("course-intro_course-")
    with zipfile.ZipFile(saved) as z:
        assert "videos/Katie_de.mp4" in z.namelist()
        manifest = json.loads(z.read("manifest.json"))
    assert manifest["flow_run_id"] in href
    screenshot(page, "course_run", tmp_path)


# --------------------------------------------------------------------------------- limits


def test_oversized_upload_is_refused_with_the_limit_in_words(page, tmp_path, media_factory):
    expect = _expect()
    big = media_factory.write_bytes("lecture_too_big.mp4", b"\0" * (UPLOAD_LIMIT_MB + 1) * 1024 * 1024)
    expect(page.locator("#formats")).to_contain_text(f"Each file up to {UPLOAD_LIMIT_MB} MB")
    page.locator("#single-video input[type=file]").set_input_files(str(big))
    toast = page.get_by_text(re.compile(r"exceed the maximum allowed size of 5(\.0)? ?MB", re.IGNORECASE))
    expect(toast.first).to_be_visible(timeout=15_000)
    expect(page.get_by_text("lecture_too_big.mp4").first).to_be_visible()
    page.wait_for_timeout(800)  # the toast has faded in
    screenshot(page, "upload_too_big", tmp_path)


def test_a_refused_upload_is_said_under_it_and_generate_stays_off_until_it_is_replaced(
    page, web_app, tmp_path, media_factory
):
    """Issue 27 item 8: an empty video is refused under the upload in words, with no pop-up of the
    browser's own ("Video not playable"), Generate is off while it is there (so no flow run can
    start), and on again once a good video replaces it."""
    expect = _expect()
    empty = media_factory.write_bytes("lecture_empty.mp4", b"")
    upload(page, "single-audio", LANGUAGE_AUDIO["de"])
    expect(page.locator("#single-audio-note")).to_contain_text("s of audio", timeout=15_000)
    expect(page.locator("#single-go")).to_be_enabled()
    page.locator("#single-video input[type=file]").set_input_files(str(empty))
    note = page.locator("#single-video-note")
    expect(note).to_contain_text("Cannot use this file", timeout=15_000)
    expect(note).to_contain_text("lecture_empty.mp4")
    expect(note).to_contain_text("empty")
    expect(page.locator("#single-go")).to_be_disabled()
    page.wait_for_timeout(1500)  # a pop-up would have shown by now
    expect(page.get_by_text("Video not playable")).to_have_count(0)
    expect(page.get_by_text(re.compile("traceback|Error", re.IGNORECASE))).to_have_count(0)
    screenshot(page, "single_refused_upload", tmp_path)

    page.locator("#single-video button[aria-label='Clear']").first.click()
    upload(page, "single-video", VIDEOS["katie_8s"])
    expect(note).to_contain_text("512×512", timeout=15_000)
    expect(page.locator("#single-go")).to_be_enabled()


# --------------------------------------------------------------------------------- history


def _seed_run(store_root: Path, run_id: str, created: str, video: Path) -> None:
    """A past run as the flows store it (videos, manifest, zip), written straight to the store."""
    from heygem_core.store import LocalStore

    store = LocalStore(store_root)
    name = f"{video.stem}_en.mp4"
    prefix = f"runs/{run_id}"
    store.put_file(f"{prefix}/videos/{name}", video)
    manifest = {
        "run_id": run_id,
        "created": created,
        "kind": "single",
        "counts": {"total": 1, "done": 1, "failed": 0, "flagged": 0},
        "entries": [{"output_name": name, "status": "done", "message": ""}],
    }
    store.put_bytes(f"{prefix}/manifest.json", json.dumps(manifest).encode())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("manifest.json", json.dumps(manifest))
        z.write(video, f"videos/{name}")
    store.put_bytes(f"{prefix}/{run_id}.zip", buf.getvalue())


def test_history_previews_downloads_deletes_and_cleans_up(page, web_app, tmp_path, media_factory):
    expect = _expect()
    # results are H.264 (as the flows write them; the fixtures themselves are MPEG-4 part 2)
    clip = media_factory.ffmpeg(
        "katie_8s.mp4",
        "-i",
        str(VIDEOS["katie_8s"]),
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
    )
    old_a, old_b = "single-20200105-120000-0000aaaa", "single-20200106-120000-0000bbbb"
    _seed_run(web_app.store, old_a, "2020-01-05T12:00:00+00:00", VIDEOS["chaplin_7s"])
    _seed_run(web_app.store, old_b, "2020-01-06T12:00:00+00:00", clip)
    page.get_by_role("tab", name="History").click()
    runs = page.locator("#history-runs")
    expect(runs).to_contain_text("2020-01-05", timeout=15_000)
    expect(page.locator("#history-usage")).to_contain_text("Disk used")

    page.locator("#history-runs [role=row]", has_text="2020-01-06").first.locator("[role=gridcell], td").first.click()
    expect(page.locator("#history-details")).to_contain_text("katie_8s_en.mp4", timeout=15_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('#history-preview video');"
        " return v && v.readyState >= 1 && v.src.includes('katie_8s_en.mp4') }",
        timeout=30_000,
    )
    saved = download(page, "#history-download-zip", tmp_path)
    assert saved.name == f"{old_b}.zip"
    screenshot(page, "history", tmp_path)

    page.click("#history-delete")
    page.click("#history-delete-yes")
    expect(page.locator("#history-message")).to_contain_text("Deleted the result", timeout=15_000)
    expect(runs).not_to_contain_text("2020-01-06")
    assert not (web_app.store / "runs" / old_b).exists()

    page.get_by_text("Clean up old results").click()
    days = page.locator("#history-days input")
    days.fill("365")
    days.press("Tab")  # Gradio takes a number field's value when it loses focus
    expect(days).to_have_value("365")
    page.click("#history-clean")
    page.click("#history-clean-yes")
    expect(page.locator("#history-message")).to_contain_text("older than 365 days", timeout=15_000)
    expect(runs).not_to_contain_text("2020-01-05")
    assert not (web_app.store / "runs" / old_a).exists()
