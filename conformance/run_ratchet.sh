#!/usr/bin/env bash
# Run redis-py's own test suite (../shared/conformance/redis_py_suite.sh) against fresh
# Vermilion servers and fail if any test listed in conformance/redis_py_passed.txt no
# longer passes.
#   conformance/run_ratchet.sh            # ratchet check (CI)
#   UPDATE=1 conformance/run_ratchet.sh   # rewrite the list from this run's passes
# PROTOCOLS/PARTS select the runs (default: RESP2 and RESP3, sync and asyncio clients); they
# must match the runs the list was made from.
#
# Each RESP version runs against its own server, the versions side by side (the suite is
# destructive, so two runs never share a server): most of its time is spent waiting
# (sleeps, blocking timeouts), so two at once take little more than one. SERIAL=1 runs them
# one after the other against one server, as before.
set -uo pipefail
cd "$(dirname "$0")/.."
SUITE=../shared/conformance/redis_py_suite.sh
LIST=conformance/redis_py_passed.txt
export PROTOCOLS="${PROTOCOLS:-2 3}" PARTS="${PARTS:-sync async}"
[[ -x $SUITE || -f $SUITE ]] || { echo "no $SUITE: skipping the redis-py ratchet"; exit 0; }

dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT

start_server() {  # start_server NAME: sets $port (not run in a subshell, so the EXIT
  # trap knows every server's pid)
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  mkdir -p "$dir/$1"
  python3 -m vermilion --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir/$1" --enable-debug-command yes --loglevel warning >"$dir/$1/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
}

if [[ ${UPDATE:-0} == 1 ]]; then
  start_server all
  results="$dir/results"
  RESULTS="$results" bash "$SUITE" 127.0.0.1 "$port"
  rc=$?
  { echo "# redis-py 8.1.0 tests that pass against Vermilion (PROTOCOLS='$PROTOCOLS' PARTS='$PARTS')"
    cat "$results/passed.txt"; } >"$LIST"
  echo "wrote $(grep -vc '^#' "$LIST") ids to $LIST"
  exit $rc
fi

if [[ ${SERIAL:-0} == 1 ]]; then
  groups=("$PROTOCOLS")
else
  read -r -a groups <<<"$PROTOCOLS"
fi
# The suite's setup (venv, sdist) is locked, so the runs may start together.
runs=()
for g in "${groups[@]}"; do
  name="resp${g// /-}"
  start_server "$name"
  PROTOCOLS="$g" RESULTS="$dir/results-$name" RATCHET="$LIST" \
    bash "$SUITE" 127.0.0.1 "$port" >"$dir/$name.out" 2>&1 &
  runs+=("$name:$!")
done
rc=0
for r in "${runs[@]}"; do
  name=${r%%:*}
  wait "${r##*:}"
  status=$?
  [[ $status -gt $rc ]] && rc=$status
  echo "== $name (exit $status)"
  cat "$dir/$name.out"
done
# one line for all the runs: "ratchet ...: K/N still pass" and "P passed, F failed" summed
cat "$dir"/*.out | awk '
  / still pass$/ { split($(NF-2), a, "/"); k += a[1]; n += a[2] }
  /^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 }
  END { printf "redis-py ratchet, all runs: %d/%d still pass; %d passed, %d failed\n", k, n, p, f }'
exit $rc
