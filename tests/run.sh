#!/usr/bin/env bash
# The body of `make test`: unit tests, fuzz corpus replays and the BATS suites, each against the
# normal build (build/) and the ASan+UBSan build (build-asan/). Prints one closing line
# "N passed, N failed" and exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
log_dir=build/test-logs
mkdir -p "$log_dir"

# Sanitizers: any report fails the run; leaks are checked by LSan in the ASan build.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

record() { # name status
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$1")
	fi
}

# Counts TAP lines of a runner's output into the totals.
count_tap() { # name logfile
	local ok notok
	ok=$(grep -cE '^ok ' "$2" || true)
	notok=$(grep -cE '^not ok ' "$2" || true)
	passed=$((passed + ok))
	failed=$((failed + notok))
	if [ "$notok" -gt 0 ]; then
		while read -r line; do failures+=("$1: $line"); done < <(grep -E '^not ok ' "$2")
	fi
}

# run_bats NAME SUITE BUILD: one BATS suite against BUILD, its TAP lines counted.
run_bats() {
	local name=$1 suite=$2 build=$3 log rc
	log=$log_dir/bats-$name-$build.log
	BUILD=$build bats --tap "$suite" >"$log" 2>&1
	rc=$?
	printf '%-14s %s\n' "$name" "$(grep -cE '^ok ' "$log") ok, $(grep -cE '^not ok ' "$log") not ok, $(grep -cE '# skip' "$log") skipped"
	count_tap "$name ($build)" "$log"
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
		record "bats $name ($build) failed to run, see $log" 1
	fi
}

# The code style is part of the tests: every C file as .clang-format says (`make format`).
echo "== clang-format"
if command -v clang-format >/dev/null; then
	unformatted=$(for f in $(git ls-files '*.c' '*.h' 2>/dev/null); do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
	done)
	if [ -z "$unformatted" ]; then
		echo "all C files formatted"
		record "clang-format" 0
	else
		echo "not formatted (run make format): $unformatted"
		record "clang-format: $unformatted" 1
	fi
fi

for build in build build-asan; do
	echo "== unit tests ($build)"
	log=$log_dir/unit-$build.log
	"$build/unit-tests" >"$log" 2>&1
	rc=$?
	tail -n 1 "$log"
	count_tap "unit ($build)" "$log"
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
		record "unit-tests ($build) crashed, see $log" 1
	fi

	echo "== fuzz corpus replay ($build)"
	for fuzzer in "$build"/fuzz/*; do
		[ -x "$fuzzer" ] || continue
		name=$(basename "$fuzzer")
		log=$log_dir/fuzz-$name-$build.log
		"$fuzzer" "tests/fuzz/corpus/$name" >"$log" 2>&1
		rc=$?
		echo "$name: $(tail -n 1 "$log")"
		record "fuzz replay $name ($build), see $log" $rc
	done

	echo "== end-to-end suites ($build)"
	for suite in tests/bats/*.bats; do
		run_bats "$(basename "$suite" .bats)" "$suite" "$build"
	done
done

# The stock Linux suite boots Debian's kernel under a static wisp, directly where /dev/kvm is
# VT-x/AMD-V and inside a level-1 Debian kernel run by QEMU's TCG (AMD SVM) where it is PVM:
# minutes of emulation there, so it runs once, against the static normal build (the level-1
# tree has no libraries for the sanitizer build).
echo "== stock Linux suite (build)"
for suite in tests/linux/*.bats; do
	run_bats "stock-$(basename "$suite" .bats)" "$suite" build
done

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
	echo "(logs in $log_dir)"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
