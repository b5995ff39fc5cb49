#!/usr/bin/env bash
# tests/totals.sh - run every suite of `make test` to its end, then add up.
#
#   tests/totals.sh "SUITE [ARGS]" ...     each argument is one suite's command
#
# Every suite runs, whatever the one before it did. A suite that sources
# tests/lib.sh appends "NAME passed failed skipped" to $VMLAB_TEST_TOTALS;
# for one that does not, its last "N passed, N failed[, N skipped]" line is
# read instead. A suite whose exit status says it failed (or that died by a
# signal) without counting a failure counts as one failure, so nothing is
# lost. The last line is "make test: N passed, N failed, N skipped"; the
# exit status is 1 if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

VMLAB_TEST_TOTALS=$(mktemp)
export VMLAB_TEST_TOTALS
work=$(mktemp -d)
trap 'rm -rf "$work" "$VMLAB_TEST_TOTALS"' EXIT

total_passed=0
total_failed=0
total_skipped=0
summary=()

for suite in "$@"; do
    name=${suite%% *}
    echo "==== $suite"
    counted_before=$(wc -l <"$VMLAB_TEST_TOTALS")
    # shellcheck disable=SC2086 # a suite is a command and its words
    VMLAB_SUITE=$name $suite 2>&1 | tee "$work/out"
    status=${PIPESTATUS[0]}
    if [ "$(wc -l <"$VMLAB_TEST_TOTALS")" -gt "$counted_before" ]; then
        read -r _ p f s < <(tail -n 1 "$VMLAB_TEST_TOTALS")
    else
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$work/out" | tail -n 1)
        read -r p f s < <(echo "$line" | sed -E 's/[^0-9]+/ /g')
    fi
    p=${p:-0} f=${f:-0} s=${s:-0}
    if [ "$status" -ge 128 ]; then
        echo "FAIL $name died by signal $((status - 128))"
        f=$((f + 1))
    elif [ "$status" != 0 ] && [ "$f" = 0 ]; then
        echo "FAIL $name: exit status $status without a counted failure"
        f=1
    fi
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    total_skipped=$((total_skipped + s))
    summary+=("$(printf '  %-32s %5d passed, %d failed, %d skipped' "$name" "$p" "$f" "$s")")
done

echo "==== totals"
printf '%s\n' "${summary[@]}"
echo "make test: $total_passed passed, $total_failed failed, $total_skipped skipped"
[ "$total_failed" = 0 ]
