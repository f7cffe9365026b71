"""“Course sheet”: a spreadsheet with one row per video to make (flow ``course_matrix``).
Every row is checked when the sheet is uploaded, before anything runs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from heygem_core.intake import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

from .. import jobs
from ..jobs import WebContext
from ..progress import items_for
from .common import (
    JOBS_QUEUE,
    done_md,
    error_md,
    guarded,
    hidden,
    items_table,
    job_handlers,
    status_box,
    table,
    zip_button,
)
from .job import JobView, Refused, Submission, run_job

TITLE, ID = "Course sheet", "course"


def example_sheet(ctx: WebContext) -> Path:
    path = ctx.scratch / "example" / "course_example.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "lecturer,video,language,audio,transcript,title,output\n"
        "Ada Lovelace,lecture1.mp4,de,lecture1_de.wav,,Lecture 1 (German),\n"
        "Ada Lovelace,lecture1.mp4,fr,lecture1_fr.mp3,lecture1_fr.txt,Lecture 1 (French),\n"
        "Alan Turing,store:uploads/intro.mp4,de,intro_de.m4a,,Welcome,turing_welcome_de.mp4\n",
        encoding="utf-8",
    )
    return path


def render(ctx: WebContext) -> SimpleNamespace:
    gr.Markdown(
        "A spreadsheet (.xlsx or .csv) with one row per video to make. Columns: **lecturer, video, "
        "language, audio** (required); *transcript, title, output* (optional). Upload the sheet "
        "together with the video and audio files it names, writing just their file names in the "
        "sheet. Every row is checked before anything runs."
    )
    with gr.Row():
        with gr.Accordion("Files already on the server (for operators)", open=False):
            gr.Markdown(
                "Instead of uploading, a sheet may name files in "
                + (
                    ", ".join(f"`{r}`" for r in ctx.settings.input_roots)
                    or "(no shared folder is configured: HEYGEM_INPUT_ROOTS)"
                )
                + " by their full path, or objects in the artifact store as `store:<key>`."
            )
        gr.DownloadButton(
            "Download an example sheet",
            value=str(example_sheet(ctx)),
            size="md",
            elem_id="course-example",
            scale=0,
            min_width=260,
        )
    with gr.Row():
        sheet = gr.File(
            label="1. Course sheet (.xlsx or .csv)", file_types=list(jobs.SHEET_EXTENSIONS), elem_id="course-sheet"
        )
        media = gr.File(
            label="2. Files the sheet names (optional)",
            file_count="multiple",
            file_types=sorted(VIDEO_EXTENSIONS | AUDIO_EXTENSIONS | {".txt"}),
            elem_id="course-media",
        )
    check = gr.Markdown(elem_classes=["hg-status"], elem_id="course-check")
    problems = gr.Dataframe(
        headers=["Row", "Column", "Problem"],
        interactive=False,
        wrap=True,
        visible=False,
        label="Problems in the sheet",
        elem_id="course-problems",
        column_widths=["8%", "14%", "78%"],
    )
    plan = gr.Dataframe(
        headers=["Row", "Lecturer", "Language", "Output file"],
        interactive=False,
        visible=False,
        label="Videos to make",
        elem_id="course-plan",
    )
    go = gr.Button("Start the course", variant="primary", interactive=False, elem_id="course-go")
    status = status_box("course-status")
    videos_table = items_table(visible=False, elem_id="course-table")
    zip_ = zip_button("course-zip")
    return SimpleNamespace(
        sheet=sheet,
        media=media,
        check=check,
        problems=problems,
        plan=plan,
        go=go,
        status=status,
        table=videos_table,
        zip=zip_,
    )


class View(JobView):
    """Outputs: status, table, zip button."""

    def refused(self, md):
        return md, hidden(), hidden()

    def working(self, snap, md):
        return md, gr.update(value=table(snap.items), visible=True), hidden()

    def failed(self, md, items):
        return self.refused(md)

    def finished(self, items, summary, link):
        zip_update = hidden()
        if any(it.status == "done" for it in items) and summary.get("zip"):
            zip_update = gr.update(value=str(jobs.result_file(self.ctx, summary["zip"])), visible=True)
        return done_md(items) + "\n\n" + link, gr.update(value=table(items), visible=True), zip_update


def prepare(ctx: WebContext, sheet, media):
    if not sheet:
        raise Refused(error_md("Cannot start:", "please add a course sheet"))
    check = jobs.check_sheet(sheet, media, ctx)
    if not check.ok:
        check.cleanup()
        problems = [str(p) for p in check.problems] if check.problems else None
        raise Refused(error_md("The sheet has problems; nothing was run:", check.error, problems))
    return Submission(
        "course_matrix",
        dict(sheet=str(check.sheet), input_roots=[str(r) for r in check.roots]),
        items_for(check.rows, by_row=True),
        failed_title="The course could not be made:",
        sheet_failed_title="The sheet has problems; nothing was run:",
        plain=lambda text: jobs._plain(text, check.folder),
        cleanup=check.cleanup,
    )
    yield  # a generator, like every tab's prepare (nothing to say before the flow starts)


def check_on_upload(ctx: WebContext, sheet, media):
    """The sheet checked as soon as it (or a file beside it) is uploaded: its problems, or its plan."""
    hide = gr.update(visible=False, value=None)
    if not sheet:
        return "", hide, hide, gr.update(interactive=False)
    check = jobs.check_sheet(sheet, media, ctx)
    try:
        if check.error:
            return error_md("This sheet cannot be used:", check.error), hide, hide, gr.update(interactive=False)
        if check.problems:
            n = len(check.problems)
            msg = (
                f"<div class='hg-error'><b>{n} problem{'s' if n != 1 else ''} in the sheet.</b></div>\n\n"
                "Nothing was run. Fix the rows listed below and upload the sheet again."
            )
            return (
                msg,
                gr.update(value=jobs.problem_rows(check.problems, check.folder), visible=True),
                hide,
                gr.update(interactive=False),
            )
        n = len(check.rows)
        return (
            f"<span class='hg-ok'><b>The sheet is fine: {n} video{'s' if n != 1 else ''} to make.</b></span> "
            "Press “Start the course”.",
            hide,
            gr.update(value=[[str(r.number), r.lecturer, r.language, r.output] for r in check.rows], visible=True),
            gr.update(interactive=True),
        )
    finally:
        check.cleanup()


def listen(ui: SimpleNamespace, ctx: WebContext) -> None:
    def check_course(sheet, media):
        return check_on_upload(ctx, sheet, media)

    for trigger in (ui.sheet.change, ui.media.change):
        trigger(
            check_course,
            [ui.sheet, ui.media],
            [ui.check, ui.problems, ui.plan, ui.go],
            api_visibility="private",
            concurrency_limit=4,
        )
    view = View(ctx)

    @guarded(3)
    def run_course(sheet, media, progress=gr.Progress()):
        yield from run_job(ctx, view, lambda: prepare(ctx, sheet, media), progress)

    ui.go.click(
        run_course,
        [ui.sheet, ui.media],
        [ui.status, ui.table, ui.zip],
        concurrency_limit=job_handlers(ctx),
        concurrency_id=JOBS_QUEUE,
        show_progress_on=[ui.status],
        api_name="course",
    )
