#!/usr/bin/env bash
# tests/bench/churn.sh - the churn benchmark: CHURN_CYCLES (1000) cycles of tap ->
# wisp-jailer --new-pid-ns --cleanup-on-exit -> wisp -> API configure -> InstanceStart ->
# the test guest runs and resets -> exit 0 -> tap deleted, CHURN_PARALLEL (4) at a time, then
# the leak checks of tests/bench/churn-lib.sh (processes, fds, taps, cgroups, mounts, jail
# directories, sockets, MemAvailable within CHURN_MEM_TOLERANCE_MIB).
#
# Prints "churn cycles=N parallel=P seconds=S rate=R/s failures=F mem_available_delta_mib=D"
# and "churn leaks: none" (or what leaked). Exit status 1 when a cycle failed or something
# leaked, 2 when it cannot run here (not root, no /dev/kvm, a tool missing). BUILD selects the
# build directory (default build). Needs root. docs/benchmarks.md, "Churn".
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/bench/churn-lib.sh
source tests/bench/churn-lib.sh
CHURN_BUILD=${BUILD:-build}
cycles=${CHURN_CYCLES:-1000}
parallel=${CHURN_PARALLEL:-4}

trap churn_teardown EXIT
churn_setup || exit 2
rc=0
churn_snapshot "$CHURN_BASE/before"
churn_run "$cycles" "$parallel" || rc=1
churn_snapshot "$CHURN_BASE/after"
if churn_check "$CHURN_BASE/before" "$CHURN_BASE/after" >"$CHURN_BASE/leaks"; then
	leaks=none
else
	leaks=found
	rc=1
fi
rate=$(awk -v n="$cycles" -v s="$CHURN_SECONDS" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
echo "churn cycles=$cycles parallel=$parallel seconds=$CHURN_SECONDS rate=$rate/s" \
	"failures=$CHURN_FAILED mem_available_delta_mib=$CHURN_MEM_DELTA_MIB"
echo "churn leaks: $leaks"
cat "$CHURN_BASE/leaks"
exit "$rc"
