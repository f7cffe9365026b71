"""The ``prefect`` command line, with one fix for the server versions this project installs.

After creating each deployment, ``prefect deploy`` (Prefect 3.8.8; kept for 3.9.1, where the
slow deployment test passes through it) asks the server whether the
work pool has online workers, sending ``"limit": null, "offset": null``. The FastAPI release
installed here (0.154) validates an explicit null against the server's ``int`` parameters and
answers 422, so ``prefect deploy --all`` stops after its first deployment. The patched call
sends numbers instead (the caller only asks whether *any* worker is online); everything else is
the stock CLI. Harmless once the underlying versions agree again.

Usage: ``python deployments/prefect_cli.py deploy --all`` (any ``prefect`` arguments).
"""

from __future__ import annotations

import sys

from prefect.client.orchestration import PrefectClient

_read_workers = PrefectClient.read_workers_for_work_pool


async def _read_workers_for_work_pool(self, work_pool_name, worker_filter=None, offset=None, limit=None):
    return await _read_workers(
        self,
        work_pool_name,
        worker_filter=worker_filter,
        offset=0 if offset is None else offset,
        limit=100 if limit is None else limit,
    )


PrefectClient.read_workers_for_work_pool = _read_workers_for_work_pool

if __name__ == "__main__":
    from prefect.cli import app

    sys.argv[0] = "prefect"
    sys.exit(app())
