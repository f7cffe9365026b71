"""``heygem ui``: the web app (Gradio) over the same Prefect flows as the command line.

Order matters at start: the bind address and login are checked first (a refused start costs
nothing), then the Prefect server is found or started (``flows.server.ensure_server`` sets
``PREFECT_API_URL``), and only then are Gradio, Prefect and the flows imported.

Settings (environment): ``HEYGEM_UI_CONCURRENCY`` (jobs at once, default 1),
``HEYGEM_UI_MAX_UPLOAD_MB`` (per file, default 500), ``HEYGEM_UI_USER`` /
``HEYGEM_UI_PASSWORD`` (login; required to listen on anything but 127.0.0.1), plus every
``HEYGEM_*`` setting of the flows (store, input roots, workers…).
"""

from __future__ import annotations

import os
import sys

from heygem_core.errors import HeygemError

from .auth import UISettings, login_for


def ui_command(args) -> int:
    host = args.host
    ui = UISettings.from_env()
    auth = login_for(host, ui)  # InputError (exit 2) before anything starts

    from flows.server import ensure_server

    api_url = ensure_server()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from .app import create_app, launch
    from .jobs import WebContext

    ctx = WebContext.create(
        api_url, concurrency=ui.concurrency, max_upload_bytes=ui.max_upload_bytes, waiting=ui.waiting
    )
    demo = create_app(ctx, ui)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(
        f"heygem web app: http://{shown}:{args.port}/  (login {'on' if auth else 'off'}; "
        f"{ui.concurrency} job{'s' if ui.concurrency != 1 else ''} at a time; uploads up to "
        f"{ui.max_upload_mb:g} MB; store: {ctx.store.describe()})",
        flush=True,
    )
    print(f"Prefect dashboard: {api_url.removesuffix('/api')}", flush=True)
    try:
        launch(demo, ctx, ui, host, args.port, auth, block=True)
    except OSError as err:
        raise HeygemError(f"cannot serve on {host}:{args.port}: {err}") from None
    except KeyboardInterrupt:
        print("heygem web app stopped", file=sys.stderr)
    return 0
