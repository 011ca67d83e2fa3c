#!/bin/sh
# Redis 7.0.15's Tcl test units in spawning mode against Vermilion or redis-server:
#   conformance/tcl/run.sh [--server vermilion|redis] [--clients N] [--timeout T] UNIT...
# (see run.py for everything it does)
exec python3 "$(dirname "$0")/run.py" "$@"
