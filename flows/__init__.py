"""Prefect flows: course matrix (spreadsheet), batch (one audio × many videos), single.

All three validate their input into ``Row``s and hand them to ``common.produce``: one code path.
"""
import os

# heygem_core's own log lines (what the tracker found, what was retried) go to the dashboard too.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "heygem_core")

from .batch import batch  # noqa: E402
from .course_matrix import course_matrix  # noqa: E402
from .single import single  # noqa: E402

__all__ = ["batch", "course_matrix", "single"]
