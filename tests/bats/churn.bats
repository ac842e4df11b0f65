#!/usr/bin/env bats
# Churn: 50 cycles of tap -> wisp-jailer --cleanup-on-exit -> wisp -> API configure ->
# InstanceStart -> the guest runs and resets -> wisp and the jailer exit 0 -> tap deleted,
# four at a time; then the host holds nothing of them: no process, no fd of this shell, no
# tap, no cgroup, no mount, no jail directory, no Unix socket, and MemAvailable is back
# (tests/bench/churn-lib.sh has the cycle and the checks; tests/bench/churn.sh runs 1000).
#
# BUILD selects the build directory (default: build). CHURN_CYCLES (50) and CHURN_PARALLEL (4).

setup() {
	cd "$BATS_TEST_DIRNAME/../.." || return 1
	# shellcheck source=tests/bench/churn-lib.sh
	source tests/bench/churn-lib.sh
	CHURN_BUILD="${BUILD:-build}"
	churn_setup >"$BATS_TEST_TMPDIR/setup.out" || skip "$(cat "$BATS_TEST_TMPDIR/setup.out")"
}

teardown() {
	churn_teardown
}

@test "churn: 50 cycles, 4 at a time, leave nothing behind" {
	local cycles=${CHURN_CYCLES:-50} parallel=${CHURN_PARALLEL:-4}
	churn_snapshot "$BATS_TEST_TMPDIR/before"
	churn_run "$cycles" "$parallel" || return 1
	churn_snapshot "$BATS_TEST_TMPDIR/after"
	churn_check "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after" || return 1
	echo "# churn cycles=$cycles parallel=$parallel seconds=$CHURN_SECONDS" \
		"MemAvailable ${CHURN_MEM_DELTA_MIB} MiB" >&3
}

@test "churn: the leak check sees a tap and a jail left behind" {
	# The negative control: a cycle's leftovers, made by hand, must fail the check.
	churn_snapshot "$BATS_TEST_TMPDIR/before"
	ip tuntap add dev "churn$CHURN_TAG-0" mode tap
	mkdir -p "$CHURN_BASE/wisp/churn-$CHURN_TAG-0/root"
	churn_snapshot "$BATS_TEST_TMPDIR/after"
	run churn_check "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	[ "$status" -eq 1 ]
	[[ "$output" == *"> tap: churn$CHURN_TAG-0"* ]] || { echo "$output"; return 1; }
	[[ "$output" == *"> jail: $CHURN_BASE/wisp/churn-$CHURN_TAG-0/root"* ]] || { echo "$output"; return 1; }
}
