#!/usr/bin/env bash
# tests/unit/run.sh - every Criterion unit-test binary, each run to the end.
#
#   tests/unit/run.sh build/unit/test_a build/unit/test_b ...   (make unit-tests)
#
# Each binary writes a TAP report besides its usual output; its tests are
# counted from the report: "ok" is a pass, "ok ... # SKIP reason" a skip
# (printed with Criterion's reason, e.g. a host without compatibility
# mode), "not ok" a failure (also a crash or a timeout). A binary that dies
# before its report is complete fails for every test it did not report.
# Criterion's own "Synthesis" line leaves skipped tests out of "Tested",
# which is why the report, not that line, is counted.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ $# -gt 0 ] || { echo "usage: tests/unit/run.sh BINARY..." >&2; exit 2; }

for binary in "$@"; do
    name=$(basename "$binary")
    tap="$work/$name.tap"
    : >"$tap"
    status=0
    "$binary" --jobs 2 --tap="$tap" >"$work/$name.out" 2>&1 || status=$?
    planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" | head -1)
    ok=$(grep -c '^ok - ' "$tap")
    skipped_here=$(grep -c '^ok - .*  # SKIP ' "$tap")
    not_ok=$(grep -c '^not ok - ' "$tap")
    # The skips, each with Criterion's reason.
    while IFS= read -r line; do
        test_name=${line#ok - }
        skip "unit ${test_name%%  # SKIP *}: ${line#*  # SKIP }"
    done < <(grep '^ok - .*  # SKIP ' "$tap")
    # The failures, with the binary's own account of them.
    while IFS= read -r line; do
        fail "unit ${line#not ok - }"
    done < <(grep '^not ok - ' "$tap")
    if [ "$not_ok" -gt 0 ]; then
        grep -v '^\[----\] *$' "$work/$name.out" | grep -E '^\[(----|FAIL)\]' | head -20 | sed 's/^/    /'
    fi
    good=$((ok - skipped_here))
    passed=$((passed + good))
    missing=$(( ${planned:-0} - ok - not_ok ))
    if [ -z "$planned" ]; then
        fail "unit $name: exited with status $status without a test report"
        tail -n 5 "$work/$name.out" | sed 's/^/    /'
    elif [ "$missing" -gt 0 ]; then
        fail "unit $name: exited with status $status before reporting $missing of $planned tests"
        tail -n 5 "$work/$name.out" | sed 's/^/    /'
        failed=$((failed + missing - 1))    # one failure per unreported test
    elif [ "$status" != 0 ] && [ "$not_ok" = 0 ]; then
        fail "unit $name: exited with status $status although every test passed"
        tail -n 5 "$work/$name.out" | sed 's/^/    /'
    fi
    echo "== $name: $good passed, $not_ok failed, $skipped_here skipped" \
         "($(grep -o 'Synthesis: .*' "$work/$name.out" || echo 'no synthesis line'))"
done

finish
