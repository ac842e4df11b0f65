#!/usr/bin/env bash
# `make fuzz`: runs every fuzz target (tests/fuzz/fuzz_*.c) under libFuzzer with ASan+UBSan
# (clang) for FUZZ_SECONDS seconds each (default 60), starting from its committed corpus.
#
# New interesting inputs go to build-fuzz/corpus/<target>/ (not committed); a crashing input is
# written to tests/fuzz/crashes/<target>/ and the run stops with exit code 1. Once the bug is
# fixed, copy the input into tests/fuzz/corpus/<target>/ so `make test` replays it forever.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
out=build-fuzz
sanitizers="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer"

command -v clang >/dev/null || { echo "fuzz: clang not installed (tests/deps.sh)" >&2; exit 1; }
# The library, instrumented for coverage: the same sources as wisp, built by clang. clang warns
# about things gcc does not; those are not errors here (the gcc builds keep -Werror).
make -s CC=clang BUILD=$out STATIC=0 EXTRA_CFLAGS="$sanitizers -Wno-error" "$out/libwisp.a"
libs=$(pkg-config --libs liburing libseccomp jansson)

status=0
for src in tests/fuzz/fuzz_*.c; do
	target=$(basename "$src" .c)
	# shellcheck disable=SC2086 # $libs is a list of flags
	clang -g -O1 -D_GNU_SOURCE -I. -I/usr/share/include/llhttp \
		-fsanitize=fuzzer,address,undefined "$src" "$out/libwisp.a" $libs -lpthread \
		-o "$out/$target"
	mkdir -p "$out/corpus/$target" "tests/fuzz/crashes/$target"
	echo "== $target: ${seconds}s"
	if ! "$out/$target" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="tests/fuzz/crashes/$target/" \
		"$out/corpus/$target" "tests/fuzz/corpus/$target" 2>"$out/$target.log"; then
		echo "$target: crashed, input in tests/fuzz/crashes/$target/ (log: $out/$target.log)"
		status=1
	fi
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$out/$target.log" | tr '\n' ' '
	echo
done
exit $status
