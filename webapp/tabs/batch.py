"""“Many videos”: one new audio for many recordings (flow ``batch``). A video the page cannot
use fails its own row; the others are made."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from heygem_core.errors import HeygemError, InputError, SheetError
from heygem_core.intake import VIDEO_EXTENSIONS, lecturer_names

from .. import jobs
from ..jobs import WebContext
from ..progress import items_for, refused_item
from .common import (
    JOBS_QUEUE,
    describe_on_upload,
    done_md,
    error_md,
    guarded,
    hidden,
    items_table,
    job_handlers,
    job_problems,
    language_box,
    note_box,
    script_box,
    status_box,
    table,
    zip_button,
)
from .job import JobView, Refused, Submission, run_job

TITLE, ID = "Many videos", "batch"


def render(ctx: WebContext) -> SimpleNamespace:
    gr.Markdown("One new audio for many recordings: each video gets the same new audio.")
    with gr.Row():
        with gr.Column():
            audio = gr.Audio(label="1. The new audio", sources=["upload"], type="filepath", elem_id="batch-audio")
            audio_note = note_box("batch-audio-note")
        videos = gr.File(
            label="2. The recorded videos",
            file_count="multiple",
            file_types=sorted(VIDEO_EXTENSIONS),
            elem_id="batch-videos",
        )
    with gr.Row():
        language = language_box("batch-language")
    script = script_box("batch-script")
    go = gr.Button("Generate all", variant="primary", elem_id="batch-go")
    status = status_box("batch-status")
    videos_table = items_table(value=None, elem_id="batch-table")
    zip_ = zip_button("batch-zip")
    gallery = gr.Gallery(
        label="Results (click one to watch it)",
        columns=5,
        height=240,
        fit_columns=False,
        object_fit="contain",
        allow_preview=False,
        elem_id="batch-gallery",
        visible=False,
    )
    preview = gr.Video(label="Preview", interactive=False, visible=False, elem_id="batch-preview")
    paths = gr.State([])
    return SimpleNamespace(
        audio=audio,
        audio_note=audio_note,
        videos=videos,
        language=language,
        script=script,
        go=go,
        status=status,
        table=videos_table,
        zip=zip_,
        gallery=gallery,
        preview=preview,
        paths=paths,
    )


class View(JobView):
    """Outputs: status, table, zip button, the finished videos' paths, gallery."""

    def refused(self, md):
        return md, None, hidden(), [], hidden()

    def working(self, snap, md):
        return md, table(snap.items), hidden(), [], hidden()

    def failed(self, md, items):
        return md, table(items), hidden(), [], hidden()

    def finished(self, items, summary, link):
        done = [it for it in items if it.status == "done"]
        paths = [str(jobs.result_file(self.ctx, it.key)) for it in done]
        thumbs = [(str(t), it.output) for it, p in zip(done, paths) if (t := jobs.thumbnail(self.ctx, Path(p)))]
        zip_update = hidden()
        if done and summary.get("zip"):
            zip_update = gr.update(value=str(jobs.result_file(self.ctx, summary["zip"])), visible=True)
        return (
            done_md(items) + "\n\n" + link,
            table(items),
            zip_update,
            paths,
            gr.update(value=thumbs, visible=bool(thumbs)),
        )


def prepare(ctx: WebContext, audio, videos, language, script):
    videos = [v for v in (videos or []) if v]
    names = [Path(v).name for v in videos]
    try:
        a = jobs.check_media(audio, "audio", ctx)
        if not videos:
            raise HeygemError("please add at least one video")
        usable, refused = [], []
        for v in videos:
            try:
                usable.append(jobs.check_media(v, "video", ctx))
            except InputError as err:
                refused.append((Path(v).name, str(err)))
        if not usable:
            raise InputError(refused[0][1])
        yield "Receiving the files…"
        aref = jobs.stage_upload(a, ctx)
        vrefs = [jobs.stage_upload(v, ctx) for v in usable]
        tref = jobs.stage_transcript(script, ctx)
        # the same records as flows.jobs.batch_records: the flow numbers its rows as these are numbered
        records = [
            {
                "lecturer": name,
                "video": r,
                "language": language or "",
                "audio": aref,
                "transcript": tref or "",
                "title": "",
                "output": "",
            }
            for name, r in zip(lecturer_names(vrefs), vrefs)
        ]
        rows = jobs.check_jobs(records, ctx)
    except SheetError as err:
        raise Refused(error_md("Please check your input:", err, job_problems(err, names))) from err
    items = items_for(rows)
    # refused uploads are the run's failed rows too (report, manifest, zip, History), after the videos
    items += [
        refused_item(len(items) + k, name, why, row=len(vrefs) + k) for k, (name, why) in enumerate(refused, start=1)
    ]
    return Submission(
        "batch",
        dict(
            audio=aref,
            videos=vrefs,
            language=rows[0].language,
            transcript=tref,
            refused=[{"name": name, "message": why} for name, why in refused] or None,
        ),
        items,
        failed_title="The videos could not be made:",
    )


def listen(ui: SimpleNamespace, ctx: WebContext) -> None:
    # a refused video is a failed row of the run (the others go on); a refused audio stops it all
    describe_on_upload([(ui.audio, "audio", ui.audio_note)], ui.go, ctx)
    view = View(ctx)

    @guarded(5)
    def run_batch(audio, videos, language, script, progress=gr.Progress()):
        yield from run_job(ctx, view, lambda: prepare(ctx, audio, videos, language, script), progress)

    ui.go.click(
        run_batch,
        [ui.audio, ui.videos, ui.language, ui.script],
        [ui.status, ui.table, ui.zip, ui.paths, ui.gallery],
        concurrency_limit=job_handlers(ctx),
        concurrency_id=JOBS_QUEUE,
        show_progress_on=[ui.status],
        api_name="batch",
    )

    def preview(paths, evt: gr.SelectData):
        if not paths or evt.index is None or evt.index >= len(paths):
            return gr.update(visible=False)
        return gr.update(value=paths[evt.index], visible=True, label=Path(paths[evt.index]).name)

    ui.gallery.select(preview, [ui.paths], [ui.preview], api_visibility="private")
