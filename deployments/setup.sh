#!/usr/bin/env bash
# Set up heygem on a Prefect server: work pools `cpu` and `gpu` (type process), the concurrency
# limit on the task tag `gpu`, and the deployments of prefect.yaml. Safe to run again: existing
# pools are kept, the limit is only changed when HEYGEM_GPU_SLOTS is given, deployments are
# updated in place.
#
# Usage:   deployments/setup.sh
# Run it from any machine with this repository and its virtual environment (not necessarily a
# worker), after `prefect server start` somewhere.
#
# Environment:
#   PREFECT_API_URL    the Prefect server, e.g. http://prefect.internal:4200/api
#                      (or a Prefect profile that sets it)
#   HEYGEM_GPU_SLOTS   lip-sync task runs (tag `gpu`) allowed at once across ALL machines:
#                      the number of GPUs in the fleet. Default 1 when the limit is first made;
#                      on later runs the limit is left as it is unless this is set.
#   HEYGEM_PYTHON      the Python with heygem and Prefect installed
#                      (default: <repo>/.venv/bin/python, else python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
py="${HEYGEM_PYTHON:-$repo/.venv/bin/python}"
[[ -x "$py" ]] || py="$(command -v python3)"
prefect() { "$py" -m prefect "$@"; }

# Nothing here is interactive, and nothing phones home.
export PREFECT_CLI_PROMPT=false
export PREFECT_SERVER_ANALYTICS_ENABLED=false

POOLS=(cpu gpu)   # start_worker.sh accepts exactly these
GPU_TAG=gpu       # the tag of tasks.stages.lipsync

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

cd "$repo"

# -- the server ----------------------------------------------------------------------------
"$py" - <<'EOF' || die "no Prefect server answers (set PREFECT_API_URL, e.g. http://HOST:4200/api)"
import sys
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
url = PREFECT_API_URL.value()
if not url:
    sys.exit("PREFECT_API_URL is not set")
with get_client(sync_client=True) as client:
    err = client.api_healthcheck()
if err is not None:
    sys.exit(f"{url}: {err}")
print(f"setup: Prefect server {url}")
EOF

# -- work pools ----------------------------------------------------------------------------
ensure_pool() {
    local name="$1" out
    if out="$(prefect work-pool create "$name" --type process 2>&1)"; then
        say "work pool '$name' created (type process)"
    elif [[ "${out//$'\n'/ }" == *"already exists"* ]]; then   # (the CLI may wrap lines)
        say "work pool '$name' exists (kept as it is)"
    else
        printf '%s\n' "$out" >&2
        die "could not create work pool '$name'"
    fi
}
for pool in "${POOLS[@]}"; do
    ensure_pool "$pool"
done

# -- concurrency limit on the task tag `gpu` -------------------------------------------------
# A tag limit is global (server-side, shared by every machine); Prefect 3.8 keeps it as the
# global concurrency limit `tag:gpu`. 0 would abort every lip-sync at once, so it is refused.
if [[ -n "${HEYGEM_GPU_SLOTS:-}" ]] || ! prefect concurrency-limit inspect "$GPU_TAG" >/dev/null 2>&1; then
    slots="${HEYGEM_GPU_SLOTS:-1}"
    [[ "$slots" =~ ^[1-9][0-9]*$ ]] || die "HEYGEM_GPU_SLOTS must be a whole number >= 1, not '$slots'"
    prefect concurrency-limit create "$GPU_TAG" "$slots" >/dev/null   # creates or updates
    say "concurrency limit on tag '$GPU_TAG': $slots at once"
else
    say "concurrency limit on tag '$GPU_TAG' exists (left as is; set HEYGEM_GPU_SLOTS to change it)"
fi

# -- deployments ---------------------------------------------------------------------------
# Every deployment of prefect.yaml whose flow file exists in this checkout. One that names a
# file not written yet (gpu-lipsync before flows/lipsync_row.py lands) is skipped with a warning.
mapfile -t plan < <("$py" - "$repo/prefect.yaml" <<'EOF'
import sys
from pathlib import Path

import yaml

path = Path(sys.argv[1])
for d in yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"]:
    file = d["entrypoint"].split(":", 1)[0]
    print(("ready " if (path.parent / file).is_file() else "missing ") + d["name"] + " " + file)
EOF
)
ready=()
for line in "${plan[@]}"; do
    read -r status name file <<<"$line"
    if [[ "$status" == ready ]]; then
        ready+=("$name")
    else
        say "warning: skipping deployment '$name': $file does not exist yet (see deployments/README.md)"
    fi
done
(( ${#ready[@]} )) || die "no deployment in prefect.yaml has its flow file"

# `prefect deploy`, through deployments/prefect_cli.py: it works around a Prefect/FastAPI
# mismatch that makes the stock command stop after the first deployment (see that file).
if (( ${#ready[@]} == ${#plan[@]} )); then
    "$py" "$here/prefect_cli.py" deploy --all --no-prompt
else
    args=()
    for name in "${ready[@]}"; do args+=(--name "$name"); done
    "$py" "$here/prefect_cli.py" deploy "${args[@]}" --no-prompt
fi
say "done: deployments ${ready[*]}"
say "next: deployments/start_worker.sh cpu (and gpu) on each worker machine"
