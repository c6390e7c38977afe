#!/bin/sh
# SPDX-License-Identifier: ISC
# `make fuzz`: run every libFuzzer target for FUZZ_SECONDS (default 60)
# each, with its dictionary when there is one; corpora live in build/fuzz/.
DIR=${1:-build/fuzz}
SECS=${FUZZ_SECONDS:-60}
rc=0
for f in "$DIR"/fuzz-*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	dict=t/fuzz/${name#fuzz-}.dict
	[ -f "$dict" ] || dict=t/fuzz/$name.dict
	mkdir -p "$DIR/corpus-$name"
	set -- -max_total_time="$SECS" -print_final_stats=1
	[ -f "$dict" ] && set -- "$@" -dict="$dict"
	echo "== $name ($SECS s)"
	"$f" "$@" "$DIR/corpus-$name" 2>&1 | tail -5 || rc=1
done
exit $rc
