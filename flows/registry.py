"""Every flow heygem can run, by name: one table read by the CLI (``heygem flow NAME``), the web
app's jobs and the test that checks ``prefect.yaml``'s deployments against it.

Adding a flow is one new module in ``flows/`` and one line here (or an entry point in the
group ``heygem.flows`` from an installed package); deploying it to a work pool is one entry in
``prefect.yaml`` naming the same entrypoint.
"""

from __future__ import annotations

from heygem_core.plugins import Registry

FLOWS = Registry(
    "flow",
    "heygem.flows",
    {
        "course_matrix": "flows.course_matrix:course_matrix",
        "batch": "flows.batch:batch",
        "single": "flows.single:single",
        "lipsync_row": "flows.lipsync_row:lipsync_row",
        "gc": "flows.gc:gc",
    },
    is_setting=False,
)


def flow(name: str):
    """The Prefect flow registered as ``name`` (``UnknownPlugin`` naming the known ones)."""
    return FLOWS.get(name)


def entrypoint(name: str) -> str:
    """``name``'s entrypoint as ``prefect.yaml`` writes it: ``flows/single.py:single``."""
    spec = FLOWS.specs()[name]
    module, _, attr = str(spec).partition(":")
    return f"{module.replace('.', '/')}.py:{attr}"
