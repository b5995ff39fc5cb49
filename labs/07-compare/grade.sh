#!/usr/bin/env bash
# labs/07-compare/grade.sh - lab 07, the comparison (make grade LAB=07).
# needs: -
#
# Grades labs/07-compare/answers.txt against the table measured on the
# student's own machine, labs/07-compare/bench.json (vmlab bench --format
# json). Nothing here asserts a time: a prediction is right when the column
# it names has the lowest ns/op of the row in that table, or is within 25%
# of it (too close to call: either column earns the points). The events and
# instructions per operation are counts, the same on every host (within 5%:
# the timer interrupts of the benchmark loop add a little).
#
# The staff tree has no bench.json; its answers are graded against the
# author's table, SOLUTION-bench.json (left out of the student tree).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. labs/grade-lib.sh

here=labs/07-compare
answers=$here/answers.txt
json=$here/bench.json
[ -f "$json" ] || [ ! -f "$here/SOLUTION-bench.json" ] || json=$here/SOLUTION-bench.json
measure="build/vmlab bench --benchmarks in,syscall,pgfault,cpu,hlt --format json --output $here/bench.json"

answer() {   # answer KEY: the value; "?" or nothing is no answer (the skeleton's)
    local value
    value=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\([^#]*\).*/\1/p" "$answers" |
            tail -n 1 | sed 's/[[:space:]]*$//')
    if [ -z "$value" ] || [ "$value" = "?" ]; then
        echo "not implemented (lab 07): no answer for $1 in $answers" >&2
        return 1
    fi
    echo "$value"
}

have_table() {
    [ -f "$json" ] || { echo "no table: measure it first: $measure"; return 1; }
    jq -e '.vmlab_bench_version' "$json" >/dev/null 2>&1 || { echo "$json is not vmlab bench --format json output"; return 1; }
}

# predict_fastest ROW: the named column ran and is within 25% of the fastest.
predict_fastest() {
    local row=$1 named
    named=$(answer "predict.fastest.$row") || return 1
    have_table || return 1
    if [ "$(jq -r .quick "$json")" = true ]; then
        echo "the table was measured with --quick: its times are noise; measure without it: $measure"
        return 1
    fi
    jq -e --arg b "$row" '[.rows[] | select(.benchmark == $b and .runs)] | length > 0' "$json" >/dev/null ||
        { echo "row $row is not in your table: $measure"; return 1; }
    jq -r --arg b "$row" --arg t "$named" '
        [.rows[] | select(.benchmark == $b and .runs and .ns_per_op != null and .ns_per_op > 0)] as $r
        | ($r | min_by(.ns_per_op)) as $best
        | ($r | map(select(.technique == $t)) | first) as $mine
        | if $mine == null then "\($t): not a column that ran in your table (\($r | map(.technique) | join(", ")))"
          elif $mine.ns_per_op <= 1.25 * $best.ns_per_op then "ok"
          else "\($t): \($mine.ns_per_op | floor) ns/op; \($best.technique) has \($best.ns_per_op | floor)" end
    ' "$json" | { read -r verdict; [ "$verdict" = ok ] || { echo "$verdict"; return 1; }; }
}

# count KEY: events.ROW.TECHNIQUE.CATEGORY or instructions.ROW.TECHNIQUE.
count() {
    local key=$1 named row technique category
    named=$(answer "$key") || return 1
    IFS=. read -r _ row technique category <<<"$key"
    jq -r --arg b "$row" --arg t "$technique" --arg c "${category:-}" --arg n "$named" '
        (.rows[] | select(.benchmark == $b and .technique == $t)) as $r
        | (if $c == "" then $r.instructions_per_op else ($r.events_per_op[$c] // 0) end) as $v
        | if ($n | test("^[0-9.]+$") | not) then "\($n): not a number"
          elif (($n | tonumber) - $v | fabs) <= 0.05 * ([$v, 1] | max) then "ok"
          else "\($n): your table says \($v * 100 | round / 100)" end
    ' "$json" | { read -r verdict; [ "$verdict" = ok ] || { echo "$verdict"; return 1; }; }
}

# count_check POINTS KEY: SKIP when the column did not run in the table.
count_check() {
    local points=$1 key=$2 row technique why
    IFS=. read -r _ row technique _ <<<"$key"
    if ! have_table >/dev/null; then
        check "$points" "$key" have_table
        return
    fi
    why=$(jq -r --arg b "$row" --arg t "$technique" \
        '.rows[] | select(.benchmark == $b and .technique == $t) | if .runs then "" else .why_not end' "$json")
    if [ -n "$why" ]; then
        check_skip "$points" "$key" "$technique did not run in your table: $why"
    else
        check "$points" "$key" count "$key"
    fi
}

[ -f "$answers" ] || { echo "no $answers"; exit 2; }
echo "answers: $answers; table: $json"
for row in in syscall pgfault cpu; do
    check 2 "predict.fastest.$row" predict_fastest "$row"
done
for key in events.in.interp.io events.hlt.interp.io events.hlt.interp.inject \
           events.pgfault.interp.guest-exception instructions.in.interp \
           events.in.trapemu.trap events.in.hvm.exit; do
    count_check 1 "$key"
done
grade_finish
