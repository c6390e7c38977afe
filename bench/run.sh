#!/bin/sh
# SPDX-License-Identifier: ISC
# `make bench`: Zest's local delivery and reconstruct side by side with
# Dovecot's LDA, then end-to-end SMTP side by side with Postfix, in the same
# run (bench/README.md).  Builds nothing: BUILD must already hold the
# programs.  Prints the tables and writes them to BUILD/bench/deliver.txt and
# BUILD/bench/smtp.txt.  Sizes: BENCH_N (10000), BENCH_BIG (100000),
# BENCH_SMTP_N (10000), BENCH_SMTP_BIG_N (2000).  BENCH_SMTP=0 skips the
# SMTP benchmark; BENCH_ONLY=deliver or BENCH_ONLY=smtp runs only that one.
set -e
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ONLY=${BENCH_ONLY:-}
case $ONLY in
'' | deliver | smtp) ;;
*)
	echo "bench: BENCH_ONLY must be deliver or smtp" >&2
	exit 2
	;;
esac
for p in zest deliver; do
	if [ ! -x "$BUILD/bin/$p" ]; then
		echo "bench: $BUILD/bin/$p missing (run make bench)" >&2
		exit 1
	fi
done
BIN=$(cd "$BUILD/bin" && pwd)
mkdir -p "$BUILD/bench"
OUT=$(cd "$BUILD/bench" && pwd)
rc=0
if [ "$ONLY" != smtp ]; then
	python3 "$HERE/deliver-bench.py" --zest "$BIN/zest" \
		--deliver "$BIN/deliver" --out "$OUT/deliver.txt" || rc=1
fi
if [ "$ONLY" = smtp ] || { [ "$ONLY" != deliver ] &&
	[ "${BENCH_SMTP:-1}" != 0 ]; }; then
	python3 "$HERE/smtp-bench.py" --zest "$BIN/zest" \
		--out "$OUT/smtp.txt" || rc=1
fi
exit $rc
