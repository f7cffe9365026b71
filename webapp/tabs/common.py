"""What every tab shares: the page's words and colours, and the helpers that turn heygem's
errors and a job's items into Markdown and table rows (never a traceback)."""

from __future__ import annotations

import functools
import html
import logging

import gradio as gr

from heygem_core.errors import SheetError

from .. import jobs
from ..jobs import WebContext
from ..line import Place
from ..progress import Item, Snapshot

log = logging.getLogger("heygem.webapp")

JOBS_QUEUE = "heygem-jobs"  # one Gradio concurrency group for every kind of job


def job_handlers(ctx: WebContext) -> int:
    """Job handlers Gradio runs at once: the running jobs and those waiting in our own line,
    where each is told its place in words (``webapp.line``)."""
    return ctx.concurrency + ctx.waiting


LANGUAGES = [
    ("English (en)", "en"),
    ("German (de)", "de"),
    ("French (fr)", "fr"),
    ("Spanish (es)", "es"),
    ("Italian (it)", "it"),
    ("Portuguese (pt)", "pt"),
    ("Portuguese, Brazil (pt-BR)", "pt-BR"),
    ("Dutch (nl)", "nl"),
    ("Polish (pl)", "pl"),
    ("Swedish (sv)", "sv"),
    ("Russian (ru)", "ru"),
    ("Ukrainian (uk)", "uk"),
    ("Turkish (tr)", "tr"),
    ("Arabic (ar)", "ar"),
    ("Hindi (hi)", "hi"),
    ("Chinese (zh)", "zh"),
    ("Japanese (ja)", "ja"),
    ("Korean (ko)", "ko"),
]
LANGUAGE_INFO = "Or type a language code, e.g. sv or pt-BR."
SCRIPT_ACCORDION = "Optional: what the new audio says (better lip closures)"
SCRIPT_PLACEHOLDER = "Paste the words spoken in the new audio."
TABLE_HEADERS = ["#", "Video", "Status", "Details"]
TABLE_TYPES = ["str", "str", "html", "str"]
TABLE_WIDTHS = ["6%", "24%", "14%", "56%"]
WAITING_TEXT = (
    "Progress and results appear here. When another job is running, yours waits its turn; "
    "your place in line is shown here."
)
STATUS_HTML = {
    "waiting": "<span style='color:#6b7280'>waiting</span>",
    "working": "<span style='color:#1d4ed8'>working…</span>",
    "done": "<span style='color:#15803d;font-weight:600'>done</span>",
    "failed": "<span style='color:#b91c1c;font-weight:600'>failed</span>",
}


def esc(text: str) -> str:
    return html.escape(str(text), quote=False)


def error_md(title: str, err: BaseException | str, problems: list[str] | None = None) -> str:
    lines = [f"<div class='hg-error'><b>{esc(title)}</b></div>", ""]
    if problems:
        lines += [f"- {esc(p)}" for p in problems]
    else:
        lines.append(esc(str(err)))
    return "\n".join(lines)


def job_problems(err: SheetError, names: list[str]) -> list[str]:
    """A sheet-style problem list in the words of the page (video 2 “name”, not row 2)."""
    out = []
    for p in err.problems:
        what = p.column or ""
        if p.row is not None and len(names) > 1 and 0 < p.row <= len(names):
            what = f"{what} {p.row} “{names[p.row - 1]}”".strip()
        out.append(f"{what}: {p.message}" if what else p.message)
    return out


def dashboard_md(ctx: WebContext, flow_run_id: str) -> str:
    url = ctx.dashboard_link(flow_run_id)
    return (
        f"<span class='hg-note'>This run in the Prefect dashboard: "
        f"<a href='{esc(url)}' target='_blank'>{esc(url)}</a></span>"
    )


def _jobs(n: int) -> str:
    return f"{n} job{'s' if n != 1 else ''}"


def waiting_words(place: Place | None, concurrency: int) -> str:
    """A waiting job's place in the line, in words."""
    at_most = f"at most {_jobs(concurrency)} run{'s' if concurrency == 1 else ''} at a time"
    if place is None:
        return f"**Waiting for your turn…** ({at_most})"
    if place.ahead == 0:
        return (
            f"**Yours is next in line:** it starts as soon as a running job finishes "
            f"({place.running} running; {at_most})."
        )
    return (
        f"**Waiting for your turn: {_jobs(place.ahead)} ahead of yours in line**, {place.running} running ({at_most})."
    )


def progress_md(snap: Snapshot, ctx: WebContext, link: bool = True) -> str:
    if snap.waiting_for_slot:
        return waiting_words(snap.place, ctx.concurrency)
    n = len(snap.items)
    head = f"**Working… {snap.finished} of {n} finished**" if n > 1 else "**Working…**"
    lines = [head, ""]
    lines += [f"- {esc(line)}" for line in snap.lines()] or ["- starting…"]
    if not ctx.models_warm:
        lines += ["", f"<span class='hg-note'>{esc(jobs.FIRST_USE_NOTICE)}</span>"]
    if link and snap.flow_run_id:
        lines += ["", dashboard_md(ctx, snap.flow_run_id)]
    return "\n".join(lines)


def done_md(items: list[Item]) -> str:
    """“2 of 3 done, 1 failed” over a job of several items."""
    done = sum(it.status == "done" for it in items)
    failed = len(items) - done
    if not failed:
        return f"<span class='hg-ok'><b>{done} of {len(items)} done.</b></span>"
    return f"<b>{done} of {len(items)} done, <span class='hg-error'>{failed} failed</span></b> (see the table for why)."


def table(items: list[Item]) -> list[list[str]]:
    rows = []
    for it in items:
        if it.status == "failed":
            details = it.message or "failed"
        elif it.status == "done":
            details = f"{it.output} ({it.message})" if it.message else it.output
        else:
            details = it.stage
        rows.append([str(it.number), it.title, STATUS_HTML.get(it.status, esc(it.status)), details])
    return rows


def items_table(visible: bool | None = None, **kwargs) -> gr.Dataframe:
    """The table of a job's videos (batch and course)."""
    extra = {} if visible is None else {"visible": visible}
    return gr.Dataframe(
        headers=TABLE_HEADERS,
        interactive=False,
        wrap=True,
        label="Videos",
        datatype=TABLE_TYPES,
        column_widths=TABLE_WIDTHS,
        **extra,
        **kwargs,
    )


def status_box(elem_id: str) -> gr.Markdown:
    return gr.Markdown(WAITING_TEXT, elem_classes=["hg-status"], elem_id=elem_id, container=True, min_height=110)


def zip_button(elem_id: str) -> gr.DownloadButton:
    return gr.DownloadButton("Download all results (zip)", visible=False, elem_id=elem_id, variant="primary")


def language_box(elem_id: str) -> gr.Dropdown:
    return gr.Dropdown(
        LANGUAGES,
        value="en",
        label="3. Language of the new audio",
        allow_custom_value=True,
        elem_id=elem_id,
        info=LANGUAGE_INFO,
    )


def script_box(elem_id: str) -> gr.Textbox:
    with gr.Accordion(SCRIPT_ACCORDION, open=False):
        return gr.Textbox(lines=4, show_label=False, elem_id=elem_id, placeholder=SCRIPT_PLACEHOLDER)


def note_box(elem_id: str) -> gr.Markdown:
    return gr.Markdown(elem_classes=["hg-note"], elem_id=elem_id)


def describe_on_upload(
    uploads: list[tuple[gr.components.Component, str, gr.Markdown]], go: gr.Button, ctx: WebContext
) -> None:
    """Right after an upload, say under each file what it is (or why it cannot be used), and keep
    the tab's Generate button off while any of them is refused. ``uploads``: (component, "video" or
    "audio", the note under it)."""
    components = [c for c, _, _ in uploads]

    def describe(*paths):
        notes, refused = [], False
        for path, (_, kind, _) in zip(paths, uploads):
            ok, line = jobs.describe_upload(path, kind, ctx)
            refused = refused or not ok
            notes.append(
                ""
                if not line
                else esc(line)
                if ok
                else f"<span class='hg-error'><b>Cannot use this file:</b> {esc(line)}</span>"
            )
        return (*notes, gr.update(interactive=not refused))

    for component in components:
        component.change(
            describe,
            components,
            [note for *_, note in uploads] + [go],
            api_visibility="private",
            concurrency_limit=4,
            show_progress="hidden",
        )


def guarded(n_outputs: int):
    """A job handler never shows a traceback: an unexpected error becomes a plain line in the
    status box (and a full entry in the app's log)."""

    def wrap(fn):
        @functools.wraps(fn)
        def handler(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:
                log.exception("web handler %s failed", fn.__name__)
                yield (
                    error_md("Something went wrong on our side:", f"{type(err).__name__}: {err}"),
                    *[gr.update()] * (n_outputs - 1),
                )

        return handler

    return wrap


def hidden():
    """A component's update that hides it."""
    return gr.update(visible=False)
