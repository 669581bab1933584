#!/usr/bin/env bash
# Create .venv and install planqa into it; quick when nothing changed since the last run.
# Usage: scripts/setup.sh [EXTRA]   (EXTRA: test, bench or peers, as in pyproject.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=".venv/.planqa-installed${extra:+-$extra}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  # torch first and pinned: left to the resolver it pulls a multi-GB CUDA build.
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -e ".${extra:+[$extra]}"
  touch "$stamp"
fi
