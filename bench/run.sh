#!/bin/sh
# SPDX-License-Identifier: ISC
# `make bench`: Zest's local delivery and reconstruct side by side with
# Dovecot's LDA, then end-to-end SMTP side by side with Postfix, in the same
# run (bench/README.md).  Builds nothing: BUILD must already hold the
# programs.  Prints the tables and writes them to BUILD/bench/deliver.txt and
# BUILD/bench/smtp.txt.  Sizes: BENCH_N (10000), BENCH_BIG (100000),
# BENCH_SMTP_N (10000), BENCH_SMTP_BIG_N (2000), BENCH_IMAP_N (100000).
# BENCH_SMTP=0 / BENCH_IMAP=0 skip the SMTP / IMAP benchmark;
# BENCH_ONLY=deliver, smtp or imap runs only that one.
set -e
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ONLY=${BENCH_ONLY:-}
case $ONLY in
'' | deliver | smtp | imap) ;;
*)
	echo "bench: BENCH_ONLY must be deliver, smtp or imap" >&2
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
if [ -z "$ONLY" ] || [ "$ONLY" = deliver ]; then
	python3 "$HERE/deliver-bench.py" --zest "$BIN/zest" \
		--deliver "$BIN/deliver" --out "$OUT/deliver.txt" || rc=1
fi
if [ "$ONLY" = smtp ] || { [ -z "$ONLY" ] && [ "${BENCH_SMTP:-1}" != 0 ]; }; then
	python3 "$HERE/smtp-bench.py" --zest "$BIN/zest" \
		--out "$OUT/smtp.txt" || rc=1
fi
if [ "$ONLY" = imap ] || { [ -z "$ONLY" ] && [ "${BENCH_IMAP:-1}" != 0 ]; }; then
	python3 "$HERE/imap-bench.py" --zest "$BIN/zest" \
		--out "$OUT/imap.txt" || rc=1
fi
exit $rc
