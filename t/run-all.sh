#!/bin/sh
# SPDX-License-Identifier: ISC
# What `make check` runs after building: unit tests in the normal and the
# sanitizer build, then the integration tests; ends with the total count.
ZEST_TALLY=$(mktemp)
export ZEST_TALLY
rc=0
sh t/run-unit.sh "${1:-build}" || rc=1
sh t/run-unit.sh "${2:-build/asan}" || rc=1
sh t/run-integration.sh "${1:-build}" || rc=1
ZEST_ASAN=1 sh t/run-integration.sh "${2:-build/asan}" || rc=1
awk '{p+=$1; f+=$2} END {printf "%d passed, %d failed\n", p, f}' "$ZEST_TALLY"
rm -f "$ZEST_TALLY"
exit $rc
