#!/usr/bin/env bash
# Start a Prefect worker for heygem on this machine: it polls work pool POOL and runs each flow
# run in a new process (pool type `process`), inside this checkout and its virtual environment.
# Start one per machine and pool; run it under systemd/supervisor/tmux to keep it up.
#
# Usage:   deployments/start_worker.sh cpu|gpu [more `prefect worker start` options]
#
# Environment a worker needs (the flow runs it starts inherit it):
#   PREFECT_API_URL      the Prefect server, e.g. http://prefect.internal:4200/api
#   HEYGEM_STORE=s3      the artifact store every machine shares (bytes travel through it)
#   MINIO_ENDPOINT       host:port of MinIO/S3, no scheme; spelled the SAME on every machine
#                        (it is part of every cache key)
#   MINIO_ACCESS_KEY, MINIO_SECRET_KEY
#   MINIO_BUCKET         (default: heygem)
#   MINIO_SECURE=true    when the endpoint speaks https
#   (the HEYGEM_S3_ENDPOINT, HEYGEM_S3_ACCESS_KEY ... spellings work too)
# Optional:
#   HEYGEM_CACHE_DIR     local scratch and model cache (default ~/.cache/heygem); a fast disk
#   HEYGEM_WORKERS       task threads inside one flow run (default 2)
#   HEYGEM_WORKER_LIMIT  flow runs at once on this worker (default: cpu: cores / HEYGEM_WORKERS,
#                        gpu: number of GPUs that nvidia-smi lists, else 1)
#   HEYGEM_WORKER_NAME   (default heygem-POOL-HOSTNAME; a name already online in the pool is
#                        refused: give each worker of a machine its own)
#   HEYGEM_GPU_QUEUE_S, HEYGEM_GPU_START_S, HEYGEM_GPU_RUN_S   (cpu workers) how long a row may
#                        wait on the gpu pool (docs/configuration.md)
# Lip-sync: the deployments on pool cpu set HEYGEM_LIPSYNC_DEPLOYMENT=lipsync_row/gpu-lipsync
# (prefect.yaml): rows go to the gpu pool while it has a worker online, and run on the cpu
# worker (saying so) while it has none. A gpu worker without a GPU says so and uses the CPU.
#   HEYGEM_REPO          checkout the flow runs start in (default: the one this script is in)
#   HEYGEM_PYTHON        (default: <repo>/.venv/bin/python, else python3)
#   HEYGEM_STORE=local   only for a single machine running everything (flow runs on other
#                        machines could not see the folder)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export HEYGEM_REPO="${HEYGEM_REPO:-$(cd "$here/.." && pwd)}"
py="${HEYGEM_PYTHON:-$HEYGEM_REPO/.venv/bin/python}"
[[ -x "$py" ]] || py="$(command -v python3)"

die() { printf 'start_worker: error: %s\n' "$*" >&2; exit 2; }
warn() { printf 'start_worker: warning: %s\n' "$*" >&2; }

pool="${1:-}"
case "$pool" in
    cpu|gpu) shift ;;
    *) die "usage: $0 cpu|gpu [prefect worker start options] (pools made by deployments/setup.sh)" ;;
esac

export PREFECT_CLI_PROMPT=false

# -- what a worker needs -------------------------------------------------------------------
missing=()
api_url="$("$py" -c 'from prefect.settings import PREFECT_API_URL; print(PREFECT_API_URL.value() or "")' 2>/dev/null || true)"
[[ -n "$api_url" ]] || missing+=(PREFECT_API_URL)
case "${HEYGEM_STORE:-}" in
    s3)
        [[ -n "${HEYGEM_S3_ENDPOINT:-${MINIO_ENDPOINT:-}}" ]] || missing+=(MINIO_ENDPOINT)
        [[ -n "${HEYGEM_S3_ACCESS_KEY:-${MINIO_ACCESS_KEY:-}}" ]] || missing+=(MINIO_ACCESS_KEY)
        [[ -n "${HEYGEM_S3_SECRET_KEY:-${MINIO_SECRET_KEY:-}}" ]] || missing+=(MINIO_SECRET_KEY)
        [[ -n "${HEYGEM_S3_BUCKET:-${MINIO_BUCKET:-}}" ]] || warn "MINIO_BUCKET not set: using bucket 'heygem'"
        ;;
    local)
        warn "HEYGEM_STORE=local: only flow runs on this machine can see the artifacts"
        ;;
    *)
        missing+=("HEYGEM_STORE=s3")
        ;;
esac
if (( ${#missing[@]} )); then
    die "set ${missing[*]} (see the top of $0 and deployments/README.md)"
fi

# -- how many flow runs at once --------------------------------------------------------------
if [[ -n "${HEYGEM_WORKER_LIMIT:-}" ]]; then
    limit="$HEYGEM_WORKER_LIMIT"
elif [[ "$pool" == gpu ]]; then
    # One lip-sync flow run per GPU; the tag limit `gpu` caps the whole fleet on top of that.
    limit="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"
    (( limit > 0 )) || limit=1
else
    # A flow run keeps HEYGEM_WORKERS task threads busy (tracking, encoding are CPU-bound).
    limit=$(( $(nproc) / ${HEYGEM_WORKERS:-2} ))
    (( limit > 0 )) || limit=1
fi
[[ "$limit" =~ ^[1-9][0-9]*$ ]] || die "HEYGEM_WORKER_LIMIT must be a whole number >= 1, not '$limit'"

if [[ "$pool" == gpu ]] && ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    warn "no GPU found (nvidia-smi lists none): this gpu worker lip-syncs on the CPU"
fi

name="${HEYGEM_WORKER_NAME:-heygem-$pool-$(hostname -s 2>/dev/null || hostname)}"
# Two workers under one name look like one to the server (one heartbeat, one row in the UI):
# refuse a name that is already online in this pool.
set +e
"$py" - "$pool" "$name" <<'EOF'
import sys
from prefect.client.orchestration import get_client
pool, name = sys.argv[1], sys.argv[2]
try:
    with get_client(sync_client=True) as client:
        workers = client.read_workers_for_work_pool(pool, limit=200, offset=0)
except Exception:
    sys.exit(0)  # no pool yet or no answer: `prefect worker start` says what is wrong
up = [w for w in workers if w.name == name and str(getattr(w.status, "value", w.status)).upper() == "ONLINE"]
sys.exit(3 if up else 0)
EOF
taken=$?
set -e
(( taken != 3 )) || die "a worker named '$name' is already online in pool '$pool': give this one its own HEYGEM_WORKER_NAME"
printf 'start_worker: %s polls pool %s at %s, up to %s flow run(s) at once, repo %s\n' \
    "$name" "$pool" "$api_url" "$limit" "$HEYGEM_REPO"

cd "$HEYGEM_REPO"
exec "$py" -m prefect worker start --pool "$pool" --type process --name "$name" --limit "$limit" \
    --no-create-pool-if-not-found --install-policy never "$@"
