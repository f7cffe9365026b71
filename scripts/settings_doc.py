#!/usr/bin/env python
"""Write docs/configuration.md's table of settings from the fields' own metadata
(heygem_core/config.py: each field's section, default, limits and doc). tests/heygem_core/
test_config.py fails while the file differs from what this writes.

    .venv/bin/python scripts/settings_doc.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from heygem_core.config import DOC_BEGIN, DOC_END, settings_markdown  # noqa: E402

DOC = HERE / "docs" / "configuration.md"


def updated(text: str) -> str:
    start, end = text.index(DOC_BEGIN), text.index(DOC_END) + len(DOC_END)
    return text[:start] + settings_markdown() + text[end:]


if __name__ == "__main__":
    DOC.write_text(updated(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DOC.relative_to(HERE)}")
