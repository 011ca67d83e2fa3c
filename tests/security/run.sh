#!/usr/bin/env bash
# Run the security probes that need no restart against any running server:
#   tests/security/run.sh HOST PORT
# (Without arguments, `python -m pytest tests/security` spawns redis-server and
# Vermilion itself and compares them, the restart and crash probes included.)
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 -m pytest -q -p no:cacheprovider tests/security \
  --probe-target "${1:?HOST}:${2:?PORT}"
