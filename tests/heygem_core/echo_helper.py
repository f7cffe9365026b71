"""A helper process for the pool tests: answers each line with the same line, or, given
``HEYGEM_TEST_HELPER_DIE``, says why on stderr and exits at once (as a helper whose model is
missing does)."""

import os
import sys

if os.environ.get("HEYGEM_TEST_HELPER_DIE"):
    print(os.environ["HEYGEM_TEST_HELPER_DIE"], file=sys.stderr)
    raise SystemExit(3)
for line in sys.stdin.buffer:
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()
