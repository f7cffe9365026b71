"""“One video”: a recorded video and a new audio in, the re-voiced video out (flow ``single``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from .. import jobs
from ..jobs import WebContext
from ..progress import items_for
from .common import (
    JOBS_QUEUE,
    describe_on_upload,
    error_md,
    esc,
    guarded,
    job_handlers,
    language_box,
    note_box,
    script_box,
    status_box,
)
from .job import JobView, Submission, run_job

TITLE, ID = "One video", "single"


def render(ctx: WebContext) -> SimpleNamespace:
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            video = gr.Video(
                label="1. The recorded video",
                sources=["upload"],
                height=260,
                elem_id="single-video",
                elem_classes=["hg-upload"],
            )
            video_note = note_box("single-video-note")
            audio = gr.Audio(label="2. The new audio", sources=["upload"], type="filepath", elem_id="single-audio")
            audio_note = note_box("single-audio-note")
            language = language_box("single-language")
            script = script_box("single-script")
            go = gr.Button("Generate", variant="primary", elem_id="single-go")
        with gr.Column(scale=1):
            status = status_box("single-status")
            result = gr.Video(label="Result", interactive=False, height=420, elem_id="single-result")
            download = gr.DownloadButton(
                "Download the video", visible=False, variant="primary", elem_id="single-download"
            )
    return SimpleNamespace(
        video=video,
        video_note=video_note,
        audio=audio,
        audio_note=audio_note,
        language=language,
        script=script,
        go=go,
        status=status,
        result=result,
        download=download,
    )


class View(JobView):
    """Outputs: status, result video, download button."""

    def receiving(self, md):
        return md, None, gr.update(visible=False)

    def refused(self, md):
        return md, gr.update(), gr.update(visible=False)

    def working(self, snap, md):
        return md, gr.update(), gr.update()

    def failed(self, md, items):
        return self.refused(md)

    def progress_desc(self, snap):
        return (snap.lines() or ["waiting…"])[0]

    def finished(self, items, summary, link):
        it = items[0]
        if it.status != "done":
            return self.refused(error_md("The video could not be made:", it.message) + "\n\n" + link)
        path = str(jobs.result_file(self.ctx, it.key))
        why = "; ".join(f.get("reasons", "") for f in summary.get("flags", []))
        note = (
            f" The automatic check flagged it ({why}): please watch it before using it."
            if summary.get("flagged")
            else ""
        )
        return (
            f"<span class='hg-ok'><b>Done:</b> {esc(it.output)}.</span>{esc(note)}\n\n{link}",
            path,
            gr.update(value=path, visible=True),
        )


def prepare(ctx: WebContext, video, audio, language, script):
    v = jobs.check_media(video, "video", ctx)  # probed: a file refused on upload starts no flow run
    a = jobs.check_media(audio, "audio", ctx)
    yield "Receiving the files…"
    vref, aref = jobs.stage_upload(v, ctx), jobs.stage_upload(a, ctx)
    tref = jobs.stage_transcript(script, ctx)
    rows = jobs.check_jobs(
        [
            {
                "lecturer": Path(vref).stem,
                "video": vref,
                "language": language or "",
                "audio": aref,
                "transcript": tref or "",
                "title": "",
                "output": "",
            }
        ],
        ctx,
    )
    return Submission(
        "single",
        dict(video=vref, audio=aref, language=rows[0].language, transcript=tref),
        items_for(rows),
        failed_title="The video could not be made:",
    )


def listen(ui: SimpleNamespace, ctx: WebContext) -> None:
    describe_on_upload([(ui.video, "video", ui.video_note), (ui.audio, "audio", ui.audio_note)], ui.go, ctx)
    view = View(ctx)

    @guarded(3)
    def run_single(video, audio, language, script, progress=gr.Progress()):
        yield from run_job(ctx, view, lambda: prepare(ctx, video, audio, language, script), progress)

    ui.go.click(
        run_single,
        [ui.video, ui.audio, ui.language, ui.script],
        [ui.status, ui.result, ui.download],
        concurrency_limit=job_handlers(ctx),
        concurrency_id=JOBS_QUEUE,
        show_progress_on=[ui.status],
        api_name="single",
    )
