#!/bin/sh
# SPDX-License-Identifier: ISC
# `make bench`: Zest's local delivery and reconstruct side by side with
# Dovecot's LDA in the same run (bench/README.md).  Builds nothing: BUILD
# must already hold bin/zest and bin/deliver.  Prints the table and writes it
# to BUILD/bench/deliver.txt.  Sizes: BENCH_N (10000), BENCH_BIG (100000).
set -e
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
for p in zest deliver; do
	if [ ! -x "$BUILD/bin/$p" ]; then
		echo "bench: $BUILD/bin/$p missing (run make bench)" >&2
		exit 1
	fi
done
BIN=$(cd "$BUILD/bin" && pwd)
mkdir -p "$BUILD/bench"
OUT=$(cd "$BUILD/bench" && pwd)/deliver.txt
exec python3 "$HERE/deliver-bench.py" --zest "$BIN/zest" \
	--deliver "$BIN/deliver" --out "$OUT"
