"""The page: four tabs (one video, many videos, course sheet, history) over ``webapp.jobs``.

Handlers never raise into Gradio for bad input: they show the plain message of the heygem
error in the tab's status box (a sheet's problems as a table), so a user never sees a
traceback. Job handlers are generators: they yield progress while the flow runs in a worker
thread, and share one Gradio concurrency group, so jobs of every kind wait in one queue
(Gradio shows each waiting user their place in it).
"""
from __future__ import annotations

import functools
import html
import logging
from pathlib import Path

import gradio as gr

from heygem_core.errors import HeygemError, InputError, SheetError
from heygem_core.intake import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

from . import jobs
from .auth import UISettings
from .jobs import FlowJob, WebContext

log = logging.getLogger("heygem.webapp")

JOBS_QUEUE = "heygem-jobs"  # one Gradio concurrency group for every kind of job

LANGUAGES = [
    ("English (en)", "en"), ("German (de)", "de"), ("French (fr)", "fr"), ("Spanish (es)", "es"),
    ("Italian (it)", "it"), ("Portuguese (pt)", "pt"), ("Portuguese, Brazil (pt-BR)", "pt-BR"),
    ("Dutch (nl)", "nl"), ("Polish (pl)", "pl"), ("Swedish (sv)", "sv"), ("Russian (ru)", "ru"),
    ("Ukrainian (uk)", "uk"), ("Turkish (tr)", "tr"), ("Arabic (ar)", "ar"), ("Hindi (hi)", "hi"),
    ("Chinese (zh)", "zh"), ("Japanese (ja)", "ja"), ("Korean (ko)", "ko"),
]
TABLE_HEADERS = ["#", "Video", "Status", "Details"]
WAITING_TEXT = ("Progress and results appear here. When another job is running, yours waits its turn; "
                "your place in the queue is shown here.")
STATUS_WORDS = {"waiting": "waiting", "working": "working…", "done": "done", "failed": "failed"}
STATUS_HTML = {"waiting": "<span style='color:#6b7280'>waiting</span>",
               "working": "<span style='color:#1d4ed8'>working…</span>",
               "done": "<span style='color:#15803d;font-weight:600'>done</span>",
               "failed": "<span style='color:#b91c1c;font-weight:600'>failed</span>"}
TABLE_TYPES = ["str", "str", "html", "str"]

CSS = """
.hg-status { padding: 0.4em 0.8em; }
.hg-error { color: #b91c1c; }
.hg-ok { color: #15803d; }
.hg-note { font-size: 0.92em; color: #555; }
footer { display: none !important; }
"""


# ----------------------------------------------------------------------------- helpers


def _esc(text: str) -> str:
    return html.escape(str(text), quote=False)


def _error_md(title: str, err: BaseException | str, problems: list[str] | None = None) -> str:
    lines = [f"<div class='hg-error'><b>{_esc(title)}</b></div>", ""]
    if problems:
        lines += [f"- {_esc(p)}" for p in problems]
    else:
        lines.append(_esc(str(err)))
    return "\n".join(lines)


def _job_problems(err: SheetError, names: list[str]) -> list[str]:
    """A sheet-style problem list in the words of the page (video 2 “name”, not row 2)."""
    out = []
    for p in err.problems:
        what = p.column or ""
        if p.row is not None and len(names) > 1 and 0 < p.row <= len(names):
            what = f"{what} {p.row} “{names[p.row - 1]}”".strip()
        out.append(f"{what}: {p.message}" if what else p.message)
    return out


def _progress_md(snap: jobs.Snapshot, ctx: WebContext, link: bool) -> str:
    if snap.waiting_for_slot:
        return ("**Waiting for an earlier job to finish…** "
                f"(at most {ctx.concurrency} job{'s' if ctx.concurrency != 1 else ''} run at a time)")
    n = len(snap.items)
    head = f"**Working… {snap.finished} of {n} finished**" if n > 1 else "**Working…**"
    lines = [head, ""]
    lines += [f"- {_esc(line)}" for line in snap.lines()] or ["- starting…"]
    if not ctx.models_warm:
        lines += ["", f"<span class='hg-note'>{_esc(jobs.FIRST_USE_NOTICE)}</span>"]
    if link and snap.flow_run_id:
        lines += ["", _dashboard_md(ctx, snap.flow_run_id)]
    return "\n".join(lines)


def _dashboard_md(ctx: WebContext, flow_run_id: str) -> str:
    url = ctx.dashboard_link(flow_run_id)
    return f"<span class='hg-note'>This run in the Prefect dashboard: <a href='{_esc(url)}' target='_blank'>{_esc(url)}</a></span>"


def _table(items: list[jobs.Item]) -> list[list[str]]:
    rows = []
    for it in items:
        if it.status == "failed":
            details = it.message or "failed"
        elif it.status == "done":
            details = f"{it.output} ({it.message})" if it.message else it.output
        else:
            details = it.stage
        rows.append([str(it.number), it.title, STATUS_HTML.get(it.status, _esc(it.status)), details])
    return rows


def _example_sheet(ctx: WebContext) -> Path:
    path = ctx.scratch / "example" / "course_example.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("lecturer,video,language,audio,transcript,title,output\n"
                    "Ada Lovelace,lecture1.mp4,de,lecture1_de.wav,,Lecture 1 (German),\n"
                    "Ada Lovelace,lecture1.mp4,fr,lecture1_fr.mp3,lecture1_fr.txt,Lecture 1 (French),\n"
                    "Alan Turing,store:uploads/intro.mp4,de,intro_de.m4a,,Welcome,turing_welcome_de.mp4\n",
                    encoding="utf-8")
    return path


def _guarded(n_outputs: int):
    """A job handler never shows a traceback: an unexpected error becomes a plain line in the
    status box (and a full entry in the app's log)."""
    def wrap(fn):
        @functools.wraps(fn)
        def handler(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:
                log.exception("web handler %s failed", fn.__name__)
                yield (_error_md("Something went wrong on our side:", f"{type(err).__name__}: {err}"),
                       *[gr.update()] * (n_outputs - 1))
        return handler
    return wrap


def _start_job(ctx: WebContext, flow: str, kwargs: dict) -> FlowJob:
    return FlowJob(ctx, flow, kwargs).start()


# ----------------------------------------------------------------------------- the page


def build_app(ctx: WebContext, ui: UISettings) -> gr.Blocks:
    formats = jobs.formats_text(ui.max_upload_mb)
    video_types = sorted(VIDEO_EXTENSIONS)
    audio_types = sorted(AUDIO_EXTENSIONS)

    with gr.Blocks(title="heygem — new voice for recorded lectures", analytics_enabled=False,
                   delete_cache=(3600, 24 * 3600)) as demo:
        gr.Markdown("# heygem\nGive a recorded lecture a new voice. Upload the recording and the new audio: "
                    "only the speaker's **mouth and chin** change to follow it; everything else stays as "
                    "it was filmed.")
        gr.Markdown(formats, elem_classes=["hg-note"], elem_id="formats")

        with gr.Tabs():
            # ---------------------------------------------------------------- one video
            with gr.Tab("One video", id="single"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1):
                        s_video = gr.Video(label="1. The recorded video", sources=["upload"], height=260,
                                           elem_id="single-video")
                        s_video_note = gr.Markdown(elem_classes=["hg-note"], elem_id="single-video-note")
                        s_audio = gr.Audio(label="2. The new audio", sources=["upload"], type="filepath",
                                           elem_id="single-audio")
                        s_audio_note = gr.Markdown(elem_classes=["hg-note"], elem_id="single-audio-note")
                        s_lang = gr.Dropdown(LANGUAGES, value="en", label="3. Language of the new audio",
                                             allow_custom_value=True, elem_id="single-language",
                                             info="Or type a language code, e.g. sv or pt-BR.")
                        with gr.Accordion("Optional: what the new audio says (better lip closures)", open=False):
                            s_script = gr.Textbox(lines=4, show_label=False, elem_id="single-script",
                                                  placeholder="Paste the words spoken in the new audio.")
                        s_go = gr.Button("Generate", variant="primary", elem_id="single-go")
                    with gr.Column(scale=1):
                        s_status = gr.Markdown(WAITING_TEXT, elem_classes=["hg-status"], elem_id="single-status",
                                               container=True, min_height=110)
                        s_result = gr.Video(label="Result", interactive=False, height=420, elem_id="single-result")
                        s_download = gr.DownloadButton("Download the video", visible=False, variant="primary",
                                                       elem_id="single-download")

            # ---------------------------------------------------------------- many videos
            with gr.Tab("Many videos", id="batch"):
                gr.Markdown("One new audio for many recordings: each video gets the same new audio.")
                with gr.Row():
                    with gr.Column():
                        b_audio = gr.Audio(label="1. The new audio", sources=["upload"], type="filepath",
                                           elem_id="batch-audio")
                        b_audio_note = gr.Markdown(elem_classes=["hg-note"], elem_id="batch-audio-note")
                    b_videos = gr.File(label="2. The recorded videos", file_count="multiple",
                                       file_types=video_types, elem_id="batch-videos")
                with gr.Row():
                    b_lang = gr.Dropdown(LANGUAGES, value="en", label="3. Language of the new audio",
                                         allow_custom_value=True, elem_id="batch-language",
                                         info="Or type a language code, e.g. sv or pt-BR.")
                with gr.Accordion("Optional: what the new audio says (better lip closures)", open=False):
                    b_script = gr.Textbox(lines=4, show_label=False, elem_id="batch-script",
                                          placeholder="Paste the words spoken in the new audio.")
                b_go = gr.Button("Generate all", variant="primary", elem_id="batch-go")
                b_status = gr.Markdown(WAITING_TEXT, elem_classes=["hg-status"], elem_id="batch-status",
                                       container=True, min_height=110)
                b_table = gr.Dataframe(headers=TABLE_HEADERS, value=None, interactive=False, wrap=True,
                                       label="Videos", elem_id="batch-table", datatype=TABLE_TYPES, column_widths=["6%", "24%", "14%", "56%"])
                b_zip = gr.DownloadButton("Download all results (zip)", visible=False, elem_id="batch-zip",
                                          variant="primary")
                b_gallery = gr.Gallery(label="Results (click one to watch it)", columns=5, height=240,
                                       fit_columns=False, object_fit="contain", allow_preview=False,
                                       elem_id="batch-gallery", visible=False)
                b_preview = gr.Video(label="Preview", interactive=False, visible=False, elem_id="batch-preview")
                b_paths = gr.State([])

            # ---------------------------------------------------------------- course sheet
            with gr.Tab("Course sheet", id="course"):
                gr.Markdown(
                    "A spreadsheet (.xlsx or .csv) with one row per video to make. Columns: **lecturer, video, "
                    "language, audio** (required); *transcript, title, output* (optional). Upload the sheet "
                    "together with the video and audio files it names, writing just their file names in the "
                    "sheet. Every row is checked before anything runs.")
                with gr.Row():
                    with gr.Accordion("Files already on the server (for operators)", open=False):
                        gr.Markdown(
                            "Instead of uploading, a sheet may name files in "
                            + (", ".join(f"`{r}`" for r in ctx.settings.input_roots)
                               or "(no shared folder is configured: HEYGEM_INPUT_ROOTS)")
                            + " by their full path, or objects in the artifact store as `store:<key>`.")
                    gr.DownloadButton("Download an example sheet", value=str(_example_sheet(ctx)), size="md",
                                      elem_id="course-example", scale=0, min_width=260)
                with gr.Row():
                    c_sheet = gr.File(label="1. Course sheet (.xlsx or .csv)", file_types=list(jobs.SHEET_EXTENSIONS),
                                      elem_id="course-sheet")
                    c_media = gr.File(label="2. Files the sheet names (optional)", file_count="multiple",
                                      file_types=sorted(VIDEO_EXTENSIONS | AUDIO_EXTENSIONS | {".txt"}),
                                      elem_id="course-media")
                c_check = gr.Markdown(elem_classes=["hg-status"], elem_id="course-check")
                c_problems = gr.Dataframe(headers=["Row", "Column", "Problem"], interactive=False, wrap=True,
                                          visible=False, label="Problems in the sheet", elem_id="course-problems",
                                          column_widths=["8%", "14%", "78%"])
                c_plan = gr.Dataframe(headers=["Row", "Lecturer", "Language", "Output file"], interactive=False,
                                      visible=False, label="Videos to make", elem_id="course-plan")
                c_go = gr.Button("Start the course", variant="primary", interactive=False, elem_id="course-go")
                c_status = gr.Markdown(WAITING_TEXT, elem_classes=["hg-status"], elem_id="course-status",
                                       container=True, min_height=110)
                c_table = gr.Dataframe(headers=TABLE_HEADERS, interactive=False, wrap=True, visible=False,
                                       label="Videos", elem_id="course-table", datatype=TABLE_TYPES,
                                       column_widths=["6%", "24%", "14%", "56%"])
                c_zip = gr.DownloadButton("Download all results (zip)", visible=False, elem_id="course-zip",
                                          variant="primary")

            # ---------------------------------------------------------------- history
            with gr.Tab("History", id="history") as h_tab:
                h_usage = gr.Markdown(elem_id="history-usage")
                h_runs = gr.Dataframe(headers=["When", "What", "Videos", "Failed", "Size"], interactive=False,
                                      label="Past results (newest first)", elem_id="history-runs")
                with gr.Row():
                    h_run = gr.Dropdown(label="Open a result", choices=[], elem_id="history-run", scale=3)
                    h_refresh = gr.Button("Refresh", scale=1, elem_id="history-refresh")
                with gr.Row():
                    with gr.Column(scale=3):
                        h_video = gr.Dropdown(label="Video", choices=[], elem_id="history-video")
                        h_preview = gr.Video(label="Preview", interactive=False, height=400, elem_id="history-preview")
                    with gr.Column(scale=2):
                        h_details = gr.Dataframe(headers=["Video", "Status", "Note"], interactive=False, wrap=True,
                                                 datatype=["str", "html", "str"],
                                                 label="What this run made", elem_id="history-details")
                        h_dl_video = gr.DownloadButton("Download this video", visible=False,
                                                       elem_id="history-download-video")
                        h_dl_zip = gr.DownloadButton("Download everything (zip)", visible=False,
                                                     elem_id="history-download-zip")
                        h_delete = gr.Button("Delete this result…", variant="stop", visible=False,
                                             elem_id="history-delete")
                        with gr.Row(visible=False) as h_confirm_row:
                            h_confirm = gr.Button("Yes, delete it for good", variant="stop",
                                                  elem_id="history-delete-yes")
                            h_cancel = gr.Button("Keep it", elem_id="history-delete-no")
                h_message = gr.Markdown(elem_id="history-message")
                h_ids = gr.State([])
                with gr.Accordion("Clean up old results", open=False):
                    with gr.Row():
                        h_days = gr.Number(value=30, minimum=0, precision=0, label="Older than (days)",
                                           elem_id="history-days")
                        h_clean = gr.Button("Delete old results…", variant="stop", elem_id="history-clean")
                    with gr.Row(visible=False) as h_clean_row:
                        h_clean_yes = gr.Button("Yes, delete them for good", variant="stop",
                                                elem_id="history-clean-yes")
                        h_clean_no = gr.Button("Cancel", elem_id="history-clean-no")

        # ==================================================================== handlers

        def note_for(kind):
            def note(path):
                ok, line = jobs.describe_upload(path, kind, ctx)
                if not line:
                    return ""
                return _esc(line) if ok else f"<span class='hg-error'><b>Cannot use this file:</b> {_esc(line)}</span>"
            return note

        for comp, kind, out in ((s_video, "video", s_video_note), (s_audio, "audio", s_audio_note),
                                (b_audio, "audio", b_audio_note)):
            comp.change(note_for(kind), [comp], [out], api_visibility="private", concurrency_limit=4,
                        show_progress="hidden")

        @_guarded(3)
        def run_single(video, audio, language, script, progress=gr.Progress()):
            nothing = (gr.update(), gr.update(visible=False))
            try:
                v = jobs.check_upload(video, "a video", VIDEO_EXTENSIONS, ctx)
                a = jobs.check_upload(audio, "an audio file", AUDIO_EXTENSIONS, ctx)
                yield "Receiving the files…", None, gr.update(visible=False)
                vref, aref = jobs.stage_upload(v, ctx), jobs.stage_upload(a, ctx)
                tref = jobs.stage_transcript(script, ctx)
                rows = jobs.check_jobs([{"lecturer": Path(vref).stem, "video": vref, "language": language or "",
                                         "audio": aref, "transcript": tref or "", "title": "", "output": ""}], ctx)
            except SheetError as err:
                yield (_error_md("Please check your input:", err, _job_problems(err, [])), *nothing)
                return
            except HeygemError as err:
                yield (_error_md("Cannot start:", err), *nothing)
                return
            items = jobs.items_for(rows)
            job = _start_job(ctx, "single", dict(video=vref, audio=aref, language=rows[0].language,
                                                 transcript=tref))
            for snap in jobs.follow(job, items):
                progress(snap.fraction, desc=(snap.lines() or ["waiting…"])[0])
                yield _progress_md(snap, ctx, link=True), gr.update(), gr.update()
            try:
                summary = job.summary()
            except HeygemError as err:
                yield (_error_md("The video could not be made:", err), *nothing)
                return
            jobs.finish_items(items, summary)
            it = items[0]
            link = _dashboard_md(ctx, summary["flow_run_id"])
            if it.status != "done":
                yield (_error_md("The video could not be made:", it.message) + "\n\n" + link, *nothing)
                return
            ctx.models_warm = True
            path = str(jobs.result_file(ctx, it.key))
            flagged = summary.get("flagged")
            why = "; ".join(f.get("reasons", "") for f in summary.get("flags", []))
            note = (f" The automatic check flagged it ({why}): please watch it before using it." if flagged else "")
            yield (f"<span class='hg-ok'><b>Done:</b> {_esc(it.output)}.</span>{_esc(note)}\n\n{link}",
                   path, gr.update(value=path, visible=True))

        s_go.click(run_single, [s_video, s_audio, s_lang, s_script], [s_status, s_result, s_download],
                   concurrency_limit=ctx.concurrency, concurrency_id=JOBS_QUEUE, show_progress_on=[s_status],
                   api_name="single")

        @_guarded(5)
        def run_batch(audio, videos, language, script, progress=gr.Progress()):
            hidden = gr.update(visible=False)
            nothing = (None, hidden, hidden, [], hidden)
            videos = [v for v in (videos or []) if v]
            try:
                a = jobs.check_upload(audio, "an audio file", AUDIO_EXTENSIONS, ctx)
                if not videos:
                    raise HeygemError("please add at least one video")
                # A video that cannot be used fails its own row; the others are made.
                vs, refused = [], []
                for v in videos:
                    try:
                        vs.append(jobs.check_upload(v, "a video", VIDEO_EXTENSIONS, ctx))
                    except InputError as err:
                        refused.append((Path(v).name, str(err)))
                if not vs:
                    raise InputError(refused[0][1])
                yield ("Receiving the files…", *nothing)
                aref = jobs.stage_upload(a, ctx)
                vrefs = [jobs.stage_upload(v, ctx) for v in vs]
                tref = jobs.stage_transcript(script, ctx)
                # named as flows.jobs.batch_records names them, so progress finds each video's task runs
                records = [{"lecturer": Path(r).stem, "video": r, "language": language or "", "audio": aref,
                            "transcript": tref or "", "title": "", "output": ""} for r in vrefs]
                rows = jobs.check_jobs(records, ctx)
            except SheetError as err:
                yield (_error_md("Please check your input:", err, _job_problems(err, [Path(v).name for v in videos])),
                       *nothing)
                return
            except HeygemError as err:
                yield (_error_md("Cannot start:", err), *nothing)
                return
            items = jobs.items_for(rows)
            items += [jobs.Item(number=len(items) + k, video_name=name, title=name, label="", output=name,
                                status="failed", stage="failed", message=why, fraction=1.0)
                      for k, (name, why) in enumerate(refused, start=1)]
            job = _start_job(ctx, "batch", dict(audio=aref, videos=vrefs, language=rows[0].language,
                                                transcript=tref))
            for snap in jobs.follow(job, items):
                progress(snap.fraction, desc=f"{snap.finished}/{len(items)} finished")
                yield (_progress_md(snap, ctx, link=True), _table(items), hidden, [], hidden)
            try:
                summary = job.summary()
            except HeygemError as err:
                yield (_error_md("The videos could not be made:", err), _table(items), *nothing[1:])
                return
            jobs.finish_items(items, summary)
            done = [it for it in items if it.status == "done"]
            if done:
                ctx.models_warm = True
            paths = [str(jobs.result_file(ctx, it.key)) for it in done]
            thumbs = [(str(t), it.output) for it, p in zip(done, paths) if (t := jobs.thumbnail(ctx, Path(p)))]
            failed = len(items) - len(done)
            head = (f"<span class='hg-ok'><b>{len(done)} of {len(items)} done.</b></span>" if not failed else
                    f"<b>{len(done)} of {len(items)} done, <span class='hg-error'>{failed} failed</span></b> "
                    "(see the table for why).")
            zip_update = hidden
            if done and summary.get("zip"):
                zip_update = gr.update(value=str(jobs.result_file(ctx, summary["zip"])), visible=True)
            yield (head + "\n\n" + _dashboard_md(ctx, summary["flow_run_id"]), _table(items), zip_update,
                   paths, gr.update(value=thumbs, visible=bool(thumbs)))

        b_go.click(run_batch, [b_audio, b_videos, b_lang, b_script], [b_status, b_table, b_zip, b_paths, b_gallery],
                   concurrency_limit=ctx.concurrency, concurrency_id=JOBS_QUEUE, show_progress_on=[b_status],
                   api_name="batch")

        def preview(paths, evt: gr.SelectData):
            if not paths or evt.index is None or evt.index >= len(paths):
                return gr.update(visible=False)
            return gr.update(value=paths[evt.index], visible=True, label=Path(paths[evt.index]).name)

        b_gallery.select(preview, [b_paths], [b_preview], api_visibility="private")

        def check_course(sheet, media):
            hide = gr.update(visible=False, value=None)
            if not sheet:
                return "", hide, hide, gr.update(interactive=False)
            check = jobs.check_sheet(sheet, media, ctx)
            try:
                if check.error:
                    return (_error_md("This sheet cannot be used:", check.error), hide, hide,
                            gr.update(interactive=False))
                if check.problems:
                    n = len(check.problems)
                    msg = (f"<div class='hg-error'><b>{n} problem{'s' if n != 1 else ''} in the sheet.</b></div>\n\n"
                           "Nothing was run. Fix the rows listed below and upload the sheet again.")
                    return (msg, gr.update(value=jobs.problem_rows(check.problems, check.folder), visible=True),
                            hide, gr.update(interactive=False))
                n = len(check.rows)
                return (f"<span class='hg-ok'><b>The sheet is fine: {n} video{'s' if n != 1 else ''} to make.</b></span> "
                        "Press “Start the course”.", hide,
                        gr.update(value=[[str(r.number), r.lecturer, r.language, r.output] for r in check.rows],
                                  visible=True),
                        gr.update(interactive=True))
            finally:
                check.cleanup()

        for trigger in (c_sheet.change, c_media.change):
            trigger(check_course, [c_sheet, c_media], [c_check, c_problems, c_plan, c_go], api_visibility="private",
                    concurrency_limit=4)

        @_guarded(3)
        def run_course(sheet, media, progress=gr.Progress()):
            hidden = gr.update(visible=False)
            if not sheet:
                yield _error_md("Cannot start:", "please add a course sheet"), hidden, hidden
                return
            check = jobs.check_sheet(sheet, media, ctx)
            try:
                if not check.ok:
                    problems = [str(p) for p in check.problems] if check.problems else None
                    yield _error_md("The sheet has problems; nothing was run:", check.error, problems), hidden, hidden
                    return
                items = jobs.items_for(check.rows, by_row=True)
                job = _start_job(ctx, "course_matrix", dict(sheet=str(check.sheet),
                                                             input_roots=[str(r) for r in check.roots]))
                for snap in jobs.follow(job, items):
                    progress(snap.fraction, desc=f"{snap.finished}/{len(items)} finished")
                    yield _progress_md(snap, ctx, link=True), gr.update(value=_table(items), visible=True), hidden
                try:
                    summary = job.summary()
                except SheetError as err:
                    yield (_error_md("The sheet has problems; nothing was run:", err,
                                     [jobs._plain(str(p), check.folder) for p in err.problems]), hidden, hidden)
                    return
                except HeygemError as err:
                    yield _error_md("The course could not be made:", jobs._plain(str(err), check.folder)), hidden, hidden
                    return
            finally:
                check.cleanup()
            jobs.finish_items(items, summary)
            done = sum(it.status == "done" for it in items)
            if done:
                ctx.models_warm = True
            failed = len(items) - done
            head = (f"<span class='hg-ok'><b>{done} of {len(items)} done.</b></span>" if not failed else
                    f"<b>{done} of {len(items)} done, <span class='hg-error'>{failed} failed</span></b> "
                    "(see the table for why).")
            zip_update = hidden
            if done and summary.get("zip"):
                zip_update = gr.update(value=str(jobs.result_file(ctx, summary["zip"])), visible=True)
            yield (head + "\n\n" + _dashboard_md(ctx, summary["flow_run_id"]),
                   gr.update(value=_table(items), visible=True), zip_update)

        c_go.click(run_course, [c_sheet, c_media], [c_status, c_table, c_zip], concurrency_limit=ctx.concurrency,
                   concurrency_id=JOBS_QUEUE, show_progress_on=[c_status], api_name="course")

        # ---------------------------------------------------------------- history

        def refresh(selected=None):
            try:
                runs = jobs.list_runs(ctx)
                usage = jobs.disk_usage(ctx)
            except HeygemError as err:
                return (_error_md("Cannot read the results:", err), None, gr.update(choices=[], value=None), [])
            results = usage.get(jobs.RUNS_PREFIX, 0)
            uploads = usage.get(jobs.UPLOAD_PREFIX, 0)
            other = sum(usage.values()) - results - uploads
            usage_md = (f"**Disk used:** {jobs.human_size(results)} by {len(runs)} result{'s' if len(runs) != 1 else ''}"
                        f" · {jobs.human_size(uploads)} by uploaded files · {jobs.human_size(other)} by the working "
                        f"cache (reused between jobs) · store: {_esc(ctx.store.describe())}")
            table = [[r.title.split(" · ")[0], r.kind, r.done, r.failed, jobs.human_size(r.size)] for r in runs]
            choices = [(r.title, r.run_id) for r in runs]
            ids = [r.run_id for r in runs]
            value = selected if selected in ids else (ids[0] if ids else None)
            if not runs:
                usage_md += "\n\nNothing here yet: results appear here once a job has finished."
            return usage_md, table, gr.update(choices=choices, value=value), ids

        h_outputs = [h_usage, h_runs, h_run, h_ids]
        h_tab.select(refresh, [h_run], h_outputs, api_visibility="private")
        h_refresh.click(refresh, [h_run], h_outputs, api_visibility="private")
        demo.load(refresh, [h_run], h_outputs, api_visibility="private")

        def pick_row(ids, evt: gr.SelectData):
            row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            return gr.update(value=ids[row]) if ids and row is not None and 0 <= row < len(ids) else gr.update()

        h_runs.select(pick_row, [h_ids], [h_run], api_visibility="private")

        def open_run(run_id):
            hidden = gr.update(visible=False)
            empty = (gr.update(choices=[], value=None), None, hidden, hidden, hidden, "")
            if not run_id:
                return empty
            run = next((r for r in jobs.list_runs(ctx) if r.run_id == run_id), None)
            if run is None:
                return (*empty[:-1], "That result is gone (deleted or cleaned up).")
            entries = (run.manifest or {}).get("entries") or []
            details = [[e.get("output_name", ""), STATUS_HTML.get(e.get("status"), _esc(e.get("status", ""))),
                        e.get("message", "")] for e in entries]
            videos = [(k.rsplit("/", 1)[-1], k) for k in run.videos]
            zip_update = (gr.update(value=str(jobs.result_file(ctx, run.zip)), visible=True) if run.zip else hidden)
            # the preview follows the video picker (its change event), so it loads once
            return (gr.update(choices=videos, value=videos[0][1] if videos else None), details, zip_update,
                    gr.update(visible=True), hidden, "")

        def _video(key):
            if not key:
                return None, gr.update(visible=False)
            path = str(jobs.result_file(ctx, key))
            return path, gr.update(value=path, visible=True)

        h_run.change(open_run, [h_run], [h_video, h_details, h_dl_zip, h_delete, h_confirm_row, h_message],
                     api_visibility="private")
        h_video.change(lambda k: _video(k), [h_video], [h_preview, h_dl_video], api_visibility="private")

        h_delete.click(lambda: (gr.update(visible=False), gr.update(visible=True)), None, [h_delete, h_confirm_row],
                       api_visibility="private")
        h_cancel.click(lambda: (gr.update(visible=True), gr.update(visible=False)), None, [h_delete, h_confirm_row],
                       api_visibility="private")

        def do_delete(run_id):
            try:
                n = jobs.delete_run(ctx, run_id)
                msg = f"Deleted the result ({n} file{'s' if n != 1 else ''})."
            except HeygemError as err:
                msg = _error_md("Could not delete it:", err)
            usage_md, table, run_update, ids = refresh(None)
            return (msg, usage_md, table, run_update, ids, gr.update(visible=False))

        h_confirm.click(do_delete, [h_run], [h_message, h_usage, h_runs, h_run, h_ids, h_confirm_row],
                        api_visibility="private")

        h_clean.click(lambda: gr.update(visible=True), None, [h_clean_row], api_visibility="private")
        h_clean_no.click(lambda: gr.update(visible=False), None, [h_clean_row], api_visibility="private")

        def do_cleanup(days):
            try:
                runs, freed = jobs.cleanup(ctx, float(days if days is not None else -1))
                msg = (f"Deleted {runs} result{'s' if runs != 1 else ''} older than {days:g} days "
                       f"and old uploads; {jobs.human_size(freed)} freed.")
            except HeygemError as err:
                msg = _error_md("Could not clean up:", err)
            usage_md, table, run_update, ids = refresh(None)
            return msg, usage_md, table, run_update, ids, gr.update(visible=False)

        h_clean_yes.click(do_cleanup, [h_days], [h_message, h_usage, h_runs, h_run, h_ids, h_clean_row],
                          api_visibility="private")

    return demo


def launch(demo: gr.Blocks, ctx: WebContext, ui: UISettings, host: str, port: int, auth, *,
           block: bool = True):
    """Start serving (queue on, size limit, login, the store's folder readable for results)."""
    demo.queue(default_concurrency_limit=ctx.concurrency, max_size=None)
    allowed = [str(ctx.scratch)]
    if not ctx.store.remote:
        allowed.append(str(Path(ctx.settings.artifact_dir).expanduser().absolute()))
    return demo.launch(server_name=host, server_port=port, auth=auth, auth_message="Sign in to heygem",
                       max_file_size=ui.max_upload_bytes, allowed_paths=allowed, prevent_thread_lock=not block,
                       show_error=False, quiet=True, ssr_mode=False, inbrowser=False, share=False,
                       footer_links=[], theme=gr.themes.Soft(), css=CSS)
