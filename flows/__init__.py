"""Prefect flows: ``course_matrix`` (spreadsheet), ``batch`` (one audio × many videos), ``single``.

All three validate their input into ``Row``s and hand them to ``common.produce``: one code path.
Import a flow from its module (``from flows.course_matrix import course_matrix``); this package
imports nothing itself, so ``flows.server`` can point Prefect at a server before Prefect reads
its settings.
"""

import os

# heygem_core's own log lines (what the tracker found, what was retried) go to the dashboard too.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "heygem_core")
