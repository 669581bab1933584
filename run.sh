#!/usr/bin/env bash
# The main job: set up, build the index if it is missing or stale, serve on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/qa serve "$@"
