#!/usr/bin/env bash
# Ratchet on Redis 7.0.15's own Tcl tests (spawning mode, Vermilion as src/redis-server):
# run the units named in conformance/tcl/ratchet-passed.txt and fail if any test listed
# there did not pass. A unit that hits runtest's timeout or whose harness is killed or
# crashes fails all its listed tests.
#   conformance/tcl/ratchet.sh            # the check (CI)
#   UPDATE=1 conformance/tcl/ratchet.sh   # two runs; the list becomes the tests that
#                                         # passed in both (units that timed out are left out)
# On a fresh machine run.py prepares everything itself: tcl, redis-tools/redis-server
# (for redis-cli, redis-benchmark, redis-check-*), Debian's redis 7.0.15 source package
# (apt-get source: needs network) under conformance/tcl/work/ (gitignored).
# TCL_CLIENTS (default 2) and TCL_TIMEOUT (runtest's --timeout, default 180) size the runs;
# TCL_UNITS="unit/a integration/b ..." runs other units than the list's (to remake it).
set -uo pipefail
cd "$(dirname "$0")"
LIST=ratchet-passed.txt
WORK=${VERMILION_TCL_WORK:-$PWD/work}
CLIENTS=${TCL_CLIENTS:-2}
TIMEOUT=${TCL_TIMEOUT:-180}
[[ -f $LIST ]] || { echo "no conformance/tcl/$LIST: skipping the Tcl ratchet"; exit 0; }
if [[ -n ${TCL_UNITS:-} ]]; then read -ra UNITS <<<"$TCL_UNITS"   # another set of units (UPDATE=1)
else mapfile -t UNITS < <(python3 ratchet.py units "$LIST"); fi

# Tests runtest skips (--skiptest) in these runs: known failures on Vermilion that wait out
# long timeouts (they cost over 2 of the ratchet's minutes). They are not on the list;
# take one out of SKIP when it is fixed, then remake the list (UPDATE=1).
SKIP=(
  "AOF enable during BGSAVE will not write data util AOFRW finish"   # waits 10 s
  # waits 100 s ("temp aof did not delete")
  "AOF will open a temporary INCR AOF to accumulate data until the first AOFRW success when AOF is dynamically enabled"
)
SKIP_ARGS=()
for t in "${SKIP[@]}"; do SKIP_ARGS+=("--runtest-arg=--skiptest" "--runtest-arg=$t"); done

run() {  # run NAME: the units into work/results/NAME (old results of that name removed)
  rm -rf "$WORK/results/$1"
  python3 run.py --server vermilion --clients "$CLIENTS" --timeout "$TIMEOUT" \
    --work "$WORK" --tree-name tree-ratchet --results-name "$1" "${SKIP_ARGS[@]}" "${UNITS[@]}" \
    >"$WORK/$1.out" 2>&1
  # run.py's status is non-zero whenever any test failed, listed or not: the list decides
}

mkdir -p "$WORK"
start=$(date +%s)
if [[ ${UPDATE:-0} == 1 ]]; then
  run ratchet-1
  run ratchet-2
  python3 ratchet.py make "$LIST" "$WORK/results/ratchet-1" "$WORK/results/ratchet-2" --ended-only \
    --header "Redis 7.0.15 Tcl tests (spawning mode, --clients $CLIENTS) that passed against Vermilion" \
    --header "in two runs: conformance/tcl/ratchet.sh checks them (UPDATE=1 rewrites this file)." \
    --header "One 'unit<TAB>test name' line per test run; see ratchet.py for the names normalised."
  echo "took $(( $(date +%s) - start ))s"
  exit 0
fi
run ratchet
status=$(tail -n 1 "$WORK/ratchet.out")
if ! grep -q '^[0-9]* passed, [0-9]* failed$' <<<"$status"; then
  echo "run.py did not finish; its output ends with:"; tail -n 30 "$WORK/ratchet.out"
fi
echo "Tcl ratchet: ${#UNITS[@]} units in $(( $(date +%s) - start ))s (run.py's output: $WORK/ratchet.out)"
python3 ratchet.py check "$LIST" "$WORK/results/ratchet"
