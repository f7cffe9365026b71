"""The page: a header and four tabs (one video, many videos, course sheet, history), one module
each in ``webapp.tabs``, over ``webapp.jobs`` and ``flows.runs``.

Handlers never raise into Gradio for bad input: they show the plain message of the heygem
error in the tab's status box (a sheet's problems as a table), so a user never sees a
traceback. Job handlers are generators: they yield progress while the flow runs in a worker
thread, and wait in one line for every kind of job (``webapp.line``: first come, first
served, each waiting user told their place in words in the job panel).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from . import jobs
from .auth import UISettings
from .jobs import WebContext
from .tabs import batch, course, history, single

CSS = """
.hg-status { padding: 0.4em 0.8em; }
/* a job's words stay readable while it runs: Gradio's timer and bar sit under them, unfaded */
.hg-status .pending { opacity: 1 !important; }
.hg-status .wrap.default { background: transparent !important; }
.hg-error { color: #b91c1c; }
.hg-ok { color: #15803d; }
.hg-note { font-size: 0.92em; color: #555; }
footer { display: none !important; }
"""
# The browser's own "Video not playable" pop-up for an upload it cannot preview (an empty or
# broken file, a codec it lacks) is dropped: the note under the upload already says what the
# file is, or why heygem cannot use it. Media errors do not bubble, so this listener catches
# them on the way down (capture) before Gradio's own handler on the element sees them.
HEAD = """<script>
document.addEventListener("error", (e) => {
  const t = e.target;
  if (t && t.tagName === "VIDEO" && t.closest(".hg-upload")) { e.stopPropagation(); }
}, true);
</script>"""
JOB_TABS = (single, batch, course)


def create_app(ctx: WebContext, ui: UISettings) -> gr.Blocks:
    """The whole page; serve it with ``launch``."""
    with gr.Blocks(
        title="heygem — new voice for recorded lectures", analytics_enabled=False, delete_cache=(3600, 24 * 3600)
    ) as demo:
        gr.Markdown(
            "# heygem\nGive a recorded lecture a new voice. Upload the recording and the new audio: "
            "only the speaker's **mouth and chin** change to follow it; everything else stays as "
            "it was filmed."
        )
        gr.Markdown(jobs.formats_text(ui.max_upload_mb), elem_classes=["hg-note"], elem_id="formats")
        with gr.Tabs():
            parts = {}
            for tab in JOB_TABS:
                with gr.Tab(tab.TITLE, id=tab.ID):
                    parts[tab] = tab.render(ctx)
            with gr.Tab(history.TITLE, id=history.ID) as history_tab:
                past = history.render(ctx)
        for tab in JOB_TABS:
            tab.listen(parts[tab], ctx)
        history.listen(past, ctx, history_tab, demo)
    return demo


def launch(demo: gr.Blocks, ctx: WebContext, ui: UISettings, host: str, port: int, auth, *, block: bool = True):
    """Start serving (queue on, size limit, login, the store's folder readable for results)."""
    demo.queue(default_concurrency_limit=ctx.concurrency, max_size=None)
    allowed = [str(ctx.scratch)]
    if not ctx.store.remote:
        allowed.append(str(Path(ctx.settings.artifact_dir).expanduser().absolute()))
    return demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="Sign in to heygem",
        max_file_size=ui.max_upload_bytes,
        allowed_paths=allowed,
        prevent_thread_lock=not block,
        show_error=False,
        quiet=True,
        ssr_mode=False,
        inbrowser=False,
        share=False,
        footer_links=[],
        theme=gr.themes.Soft(),
        css=CSS,
        head=HEAD,
    )
