"""“History”: past runs in the artifact store (``flows.runs``, as ``heygem runs`` reads them):
watch, download, delete one, clean up old ones."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import gradio as gr

from flows import runs
from heygem_core.errors import HeygemError

from .. import jobs
from ..jobs import WebContext
from .common import STATUS_HTML, error_md, esc

TITLE, ID = "History", "history"


def kind_words(kind: str) -> str:
    """A run's kind (``flows.runs.RunInfo.kind``) in the page's words."""
    if kind == "single":
        return "one video"
    if kind == "batch":
        return "many videos"
    if kind.startswith("course-"):
        return f"course “{kind[len('course-') :]}”"
    return kind


def when(created: datetime) -> str:
    return created.astimezone().strftime("%Y-%m-%d %H:%M")


def what_words(run: runs.RunInfo, most: int = 2) -> str:
    """What a run was about: its kind, the first lecturers (files) and the languages, from its
    manifest (``batch: katie, chaplin +3 more (de, en)``); the kind alone while it runs."""
    entries = run.entries
    lecturers = list(dict.fromkeys(e.get("lecturer") or e.get("output_name", "") for e in entries))
    languages = list(dict.fromkeys(e.get("language", "") for e in entries if e.get("language")))
    if not lecturers:
        return kind_words(run.kind)
    names = ", ".join(lecturers[:most]) + (f" +{len(lecturers) - most} more" if len(lecturers) > most else "")
    return f"{kind_words(run.kind)}: {names}" + (f" ({', '.join(languages)})" if languages else "")


def run_title(run: runs.RunInfo) -> str:
    counts = f"{run.done} made" + (f", {run.failed} failed" if run.failed else "")
    return f"{when(run.created)} · {what_words(run)} · {counts}"


def render(ctx: WebContext) -> SimpleNamespace:
    usage = gr.Markdown(elem_id="history-usage")
    runs_table = gr.Dataframe(
        headers=["When", "What", "Videos", "Failed", "Size"],
        interactive=False,
        wrap=True,
        column_widths=["16%", "52%", "10%", "10%", "12%"],
        label="Past results (newest first)",
        elem_id="history-runs",
    )
    with gr.Row():
        run = gr.Dropdown(label="Open a result", choices=[], elem_id="history-run", scale=3)
        refresh = gr.Button("Refresh", scale=1, elem_id="history-refresh")
    with gr.Row():
        with gr.Column(scale=3):
            video = gr.Dropdown(label="Video", choices=[], elem_id="history-video")
            preview = gr.Video(label="Preview", interactive=False, height=400, elem_id="history-preview")
        with gr.Column(scale=2):
            details = gr.Dataframe(
                headers=["Video", "Status", "Note"],
                interactive=False,
                wrap=True,
                column_widths=["30%", "14%", "56%"],  # a failure's whole reason, wrapped
                datatype=["str", "html", "str"],
                label="What this run made",
                elem_id="history-details",
            )
            dl_video = gr.DownloadButton("Download this video", visible=False, elem_id="history-download-video")
            dl_zip = gr.DownloadButton("Download everything (zip)", visible=False, elem_id="history-download-zip")
            delete = gr.Button("Delete this result…", variant="stop", visible=False, elem_id="history-delete")
            with gr.Row(visible=False) as confirm_row:
                confirm = gr.Button("Yes, delete it for good", variant="stop", elem_id="history-delete-yes")
                cancel = gr.Button("Keep it", elem_id="history-delete-no")
    message = gr.Markdown(elem_id="history-message")
    ids = gr.State([])
    with gr.Accordion("Clean up old results", open=False):
        with gr.Row():
            days = gr.Number(value=30, minimum=0, precision=0, label="Older than (days)", elem_id="history-days")
            clean = gr.Button("Delete old results…", variant="stop", elem_id="history-clean")
        with gr.Row(visible=False) as clean_row:
            clean_yes = gr.Button("Yes, delete them for good", variant="stop", elem_id="history-clean-yes")
            clean_no = gr.Button("Cancel", elem_id="history-clean-no")
    return SimpleNamespace(
        usage=usage,
        runs=runs_table,
        run=run,
        refresh=refresh,
        video=video,
        preview=preview,
        details=details,
        dl_video=dl_video,
        dl_zip=dl_zip,
        delete=delete,
        confirm_row=confirm_row,
        confirm=confirm,
        cancel=cancel,
        message=message,
        ids=ids,
        days=days,
        clean=clean,
        clean_row=clean_row,
        clean_yes=clean_yes,
        clean_no=clean_no,
    )


def overview(ctx: WebContext, selected=None):
    """Outputs: usage line, runs table, the run picker, the runs' ids (the table's rows)."""
    try:
        found = runs.list_runs(ctx.store)
        usage = jobs.disk_usage(ctx)
    except HeygemError as err:
        return error_md("Cannot read the results:", err), None, gr.update(choices=[], value=None), []
    results = usage.get(runs.RUNS_PREFIX, 0)
    uploads = usage.get(jobs.UPLOAD_PREFIX, 0)
    other = sum(usage.values()) - results - uploads
    usage_md = (
        f"**Disk used:** {runs.human_size(results)} by {len(found)} result{'s' if len(found) != 1 else ''}"
        f" · {runs.human_size(uploads)} by uploaded files · {runs.human_size(other)} by the working "
        f"cache (reused between jobs) · store: {esc(ctx.store.describe())}"
    )
    table = [[when(r.created), what_words(r), r.done, r.failed, runs.human_size(r.size)] for r in found]
    choices = [(run_title(r), r.run_id) for r in found]
    ids = [r.run_id for r in found]
    value = selected if selected in ids else (ids[0] if ids else None)
    if not found:
        usage_md += "\n\nNothing here yet: results appear here once a job has finished."
    return usage_md, table, gr.update(choices=choices, value=value), ids


def open_run(ctx: WebContext, run_id):
    """Outputs: video picker, details table, zip button, delete button, confirm row, message."""
    hidden = gr.update(visible=False)
    empty = (gr.update(choices=[], value=None), None, hidden, hidden, hidden, "")
    if not run_id:
        return empty
    try:
        run = runs.get_run(ctx.store, run_id)
    except HeygemError:
        return (*empty[:-1], "That result is gone (deleted or cleaned up).")
    details = [
        [
            e.get("output_name", ""),
            STATUS_HTML.get(e.get("status") or "", esc(e.get("status", ""))),
            e.get("message", ""),
        ]
        for e in run.entries
    ]
    videos = [(k.rsplit("/", 1)[-1], k) for k in run.videos]
    zip_update = gr.update(value=str(jobs.result_file(ctx, run.zip)), visible=True) if run.zip else hidden
    # the preview follows the video picker (its change event), so it loads once
    return (
        gr.update(choices=videos, value=videos[0][1] if videos else None),
        details,
        zip_update,
        gr.update(visible=True),
        hidden,
        "",
    )


def listen(ui: SimpleNamespace, ctx: WebContext, tab: gr.Tab, demo: gr.Blocks) -> None:
    def refresh(selected=None):
        return overview(ctx, selected)

    outputs = [ui.usage, ui.runs, ui.run, ui.ids]
    tab.select(refresh, [ui.run], outputs, api_visibility="private")
    ui.refresh.click(refresh, [ui.run], outputs, api_visibility="private")
    demo.load(refresh, [ui.run], outputs, api_visibility="private")

    def pick_row(ids, evt: gr.SelectData):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return gr.update(value=ids[row]) if ids and row is not None and 0 <= row < len(ids) else gr.update()

    ui.runs.select(pick_row, [ui.ids], [ui.run], api_visibility="private")

    def open_result(run_id):
        return open_run(ctx, run_id)

    ui.run.change(
        open_result,
        [ui.run],
        [ui.video, ui.details, ui.dl_zip, ui.delete, ui.confirm_row, ui.message],
        api_visibility="private",
    )

    def show_video(key):
        if not key:
            return None, gr.update(visible=False)
        path = str(jobs.result_file(ctx, key))
        return path, gr.update(value=path, visible=True)

    ui.video.change(show_video, [ui.video], [ui.preview, ui.dl_video], api_visibility="private")

    ui.delete.click(
        lambda: (gr.update(visible=False), gr.update(visible=True)),
        None,
        [ui.delete, ui.confirm_row],
        api_visibility="private",
    )
    ui.cancel.click(
        lambda: (gr.update(visible=True), gr.update(visible=False)),
        None,
        [ui.delete, ui.confirm_row],
        api_visibility="private",
    )

    def do_delete(run_id):
        try:
            n = runs.delete_run(ctx.store, run_id)
            msg = f"Deleted the result ({n} file{'s' if n != 1 else ''})."
        except HeygemError as err:
            msg = error_md("Could not delete it:", err)
        return (msg, *refresh(None), gr.update(visible=False))

    ui.confirm.click(do_delete, [ui.run], [ui.message, *outputs, ui.confirm_row], api_visibility="private")

    ui.clean.click(lambda: gr.update(visible=True), None, [ui.clean_row], api_visibility="private")
    ui.clean_no.click(lambda: gr.update(visible=False), None, [ui.clean_row], api_visibility="private")

    def do_cleanup(days):
        try:
            n, freed = jobs.cleanup(ctx, float(days if days is not None else -1))
            msg = (
                f"Deleted {n} result{'s' if n != 1 else ''} older than {days:g} days "
                f"and old uploads; {runs.human_size(freed)} freed."
            )
        except HeygemError as err:
            msg = error_md("Could not clean up:", err)
        return (msg, *refresh(None), gr.update(visible=False))

    ui.clean_yes.click(do_cleanup, [ui.days], [ui.message, *outputs, ui.clean_row], api_visibility="private")
