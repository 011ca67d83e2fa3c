#!/usr/bin/env bash
# Run redis-py's own test suite (../shared/conformance/redis_py_suite.sh) against a fresh
# Vermilion and fail if any test listed in conformance/redis_py_passed.txt no longer passes.
#   conformance/run_ratchet.sh            # ratchet check (CI)
#   UPDATE=1 conformance/run_ratchet.sh   # rewrite the list from this run's passes
# PROTOCOLS/PARTS select the runs (default: RESP2 and RESP3, sync and asyncio clients); they must match
# the runs the list was made from.
set -uo pipefail
cd "$(dirname "$0")/.."
SUITE=../shared/conformance/redis_py_suite.sh
LIST=conformance/redis_py_passed.txt
export PROTOCOLS="${PROTOCOLS:-2 3}" PARTS="${PARTS:-sync async}"
[[ -x $SUITE || -f $SUITE ]] || { echo "no $SUITE: skipping the redis-py ratchet"; exit 0; }

port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
dir=$(mktemp -d)
python3 -m vermilion --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --enable-debug-command yes --loglevel warning >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

results="$dir/results"
if [[ ${UPDATE:-0} == 1 ]]; then
  RESULTS="$results" bash "$SUITE" 127.0.0.1 "$port"
  rc=$?
  { echo "# redis-py 8.1.0 tests that pass against Vermilion (PROTOCOLS='$PROTOCOLS' PARTS='$PARTS')"
    cat "$results/passed.txt"; } >"$LIST"
  echo "wrote $(grep -vc '^#' "$LIST") ids to $LIST"
  exit $rc
fi
RESULTS="$results" RATCHET="$LIST" bash "$SUITE" 127.0.0.1 "$port"
