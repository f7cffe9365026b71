"""The one way a tab runs a job: submit → follow → show.

A tab gives ``run_job`` two things: ``prepare`` (a generator that checks and stages the
input, may yield a status line such as “Receiving the files…”, and returns a ``Submission``:
which flow, its parameters, the items to show) and a ``JobView`` (how that tab shows each
moment: a refusal, progress, a failed job, the finished job). Everything else — the queue,
following the flow run, reading its summary, the wording of errors — is here, once, for the
single, batch and course tabs alike.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from heygem_core.errors import HeygemError, SheetError

from ..jobs import FlowJob, WebContext, follow
from ..progress import Item, Snapshot, finish_items
from .common import dashboard_md, error_md, job_problems, progress_md


class Refused(Exception):
    """The input cannot be used; ``markdown`` says why (shown as it is)."""

    def __init__(self, markdown: str):
        super().__init__(markdown)
        self.markdown = markdown


@dataclass
class Submission:
    flow: str  # "single" | "batch" | "course_matrix" (webapp.jobs.FlowJob)
    kwargs: dict
    items: list[Item]
    failed_title: str  # above the message when the flow itself fails
    sheet_failed_title: str | None = None  # ... when it fails for the sheet's problems
    plain: Callable[[str], str] = str  # a message in the user's words (their file names)
    cleanup: Callable[[], None] = field(default=lambda: None)  # once the flow has ended


class JobView:
    """How a tab shows a job; each method returns the tab's outputs, in its handler's order."""

    def __init__(self, ctx: WebContext):
        self.ctx = ctx

    def receiving(self, md: str) -> tuple:  # a status line before the flow starts
        return self.refused(md)

    def refused(self, md: str) -> tuple:  # the input was refused: nothing runs
        raise NotImplementedError

    def working(self, snap: Snapshot, md: str) -> tuple:
        raise NotImplementedError

    def failed(self, md: str, items: list[Item]) -> tuple:  # the flow run itself failed
        raise NotImplementedError

    def finished(self, items: list[Item], summary: dict, link: str) -> tuple:
        raise NotImplementedError

    def progress_desc(self, snap: Snapshot) -> str:
        return f"{snap.finished}/{len(snap.items)} finished"


Prepare = Callable[[], Generator[str, None, Submission]]


def run_job(ctx: WebContext, view: JobView, prepare: Prepare, progress) -> Generator[tuple, None, None]:
    """A Gradio job handler's body: yields the tab's outputs from the first check to the end.

    The job joins the line before its files are even stored, so that jobs run in the order
    people pressed Generate. Once its ``FlowJob`` starts, that job owns the place (it leaves the
    line when it ends); until then a refusal, or a page gone away, leaves it here."""
    ticket = ctx.line.join()
    job = None
    try:
        try:
            sub = yield from _prepared(view, prepare)
        except Refused as err:
            yield view.refused(err.markdown)
            return
        except SheetError as err:
            yield view.refused(error_md("Please check your input:", err, job_problems(err, [])))
            return
        except HeygemError as err:
            yield view.refused(error_md("Cannot start:", err))
            return
        try:
            job = FlowJob(ctx, sub.flow, sub.kwargs, ticket).start()
            yield from _follow(ctx, view, job, sub, progress)
            summary = _summary(view, job, sub)
            if isinstance(summary, tuple):  # the tab's outputs saying why the flow failed
                yield summary
                return
        finally:
            sub.cleanup()
    finally:
        if job is None:
            ctx.line.leave(ticket)
    finish_items(sub.items, summary)
    if any(it.status == "done" for it in sub.items):
        ctx.models_warm = True
    yield view.finished(sub.items, summary, dashboard_md(ctx, summary["flow_run_id"]))


def _summary(view: JobView, job: FlowJob, sub: Submission) -> dict | tuple:
    """The flow's summary (a dict), or the tab's outputs (a tuple) saying why the flow itself failed."""
    try:
        return job.summary()
    except SheetError as err:
        title = sub.sheet_failed_title or sub.failed_title
        return view.failed(error_md(title, err, [sub.plain(str(p)) for p in err.problems]), sub.items)
    except HeygemError as err:
        return view.failed(error_md(sub.failed_title, sub.plain(str(err))), sub.items)


def _follow(ctx: WebContext, view: JobView, job: FlowJob, sub: Submission, progress):
    """The tab's outputs while the job waits and runs."""
    try:
        for snap in follow(job, sub.items):
            # no bar (and no "0.0%") until something has moved: waiting or starting, the words say it
            progress(
                snap.fraction if snap.fraction > 0 else None,
                desc="waiting for your turn"
                if snap.waiting_for_slot
                else (view.progress_desc(snap) if snap.fraction > 0 else "starting…"),
            )
            yield view.working(snap, progress_md(snap, ctx))
    except GeneratorExit:  # the page went away: a job still in line never runs
        job.abandon()
        raise


def _prepared(view: JobView, prepare: Prepare):
    gen = prepare()
    while True:
        try:
            line = next(gen)
        except StopIteration as stop:
            return stop.value
        yield view.receiving(line)
