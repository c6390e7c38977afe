#!/bin/sh
# SPDX-License-Identifier: ISC
# Run the integration tests (t/integration/*.sh and *.py) against the programs
# of one build tree.  Each test is a program: exit 0 passes, 77 skips.
BUILD=${1:-build}
ZEST_BIN=$(cd "$BUILD/bin" && pwd)
ZEST_SRC=$(pwd)
export ZEST_BIN ZEST_SRC
# Under the sanitizers, programs that exit early on purpose (sysexits codes)
# would have their status replaced by LeakSanitizer's; leaks are the unit
# tests' business.
if [ "$ZEST_ASAN" = 1 ]; then
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	export ASAN_OPTIONS UBSAN_OPTIONS
fi
# The tests' instances listen on port bases between 10000 and 51000; keep
# the kernel's outgoing (ephemeral) ports above them while the tests run,
# so that a client's connection can never hold a port an instance is about
# to bind (root only; put back afterwards).
RANGE=/proc/sys/net/ipv4/ip_local_port_range
old_range=
if [ "$(id -u)" = 0 ] && [ -w "$RANGE" ]; then
	old_range=$(cat "$RANGE")
	printf '52000 65000\n' > "$RANGE" 2>/dev/null || old_range=
fi
restore_range() {
	[ -n "$old_range" ] && printf '%s\n' "$old_range" > "$RANGE"
	old_range=
}
trap restore_range EXIT
trap 'restore_range; exit 130' INT TERM
pass=0 fail=0 skip=0
for t in t/integration/[0-9]*.sh t/integration/[0-9]*.py; do
	[ -f "$t" ] || continue
	name=$(basename "$t")
	log=$(mktemp)
	start=$(date +%s)
	case "$t" in
	*.py) python3 "$t" > "$log" 2>&1 ;;
	*)    sh "$t" > "$log" 2>&1 ;;
	esac
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc = 0 ]; then
		pass=$((pass + 1)); echo "ok   $name (${secs}s)"
	elif [ $rc = 77 ]; then
		skip=$((skip + 1)); echo "skip $name: $(tail -1 "$log")"
	else
		fail=$((fail + 1)); echo "FAIL $name (exit $rc, ${secs}s)"
		tail -40 "$log" | sed 's/^/    /'
	fi
	rm -f "$log"
done
echo "integration($BUILD): $pass passed, $fail failed, $skip skipped"
[ -n "$ZEST_TALLY" ] && echo "$pass $fail" >> "$ZEST_TALLY"
[ "$fail" = 0 ]
