#!/usr/bin/env bash
# Set up everything the tests need (the package, pytest, Playwright, Debian's Chromium) and run them.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh test
if ! command -v chromium >/dev/null 2>&1; then
  # Playwright's own browser download cannot work here; Debian's Chromium can.
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
export HF_HUB_OFFLINE=1
exec .venv/bin/pytest -q "$@"
