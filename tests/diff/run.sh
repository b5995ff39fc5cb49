#!/usr/bin/env bash
# tests/diff/run.sh - the bounded differential run of `make test`: the
# interpreter's core against the host CPU (build/diff/vmlab-diff).
#
#   tests/diff/run.sh          DIFF_SEED (1) and DIFF_COUNT (20000) choose the run
#
# 1. The self-check: with --inject-difference the harness must report
#    differences (status 1), or a harness that compares nothing would pass.
# 2. The campaign: DIFF_COUNT sequences must agree (status 0, "N passed, 0
#    failed").
# Without compatibility mode there is no native side: the harness says
# SKIP with the host fact, and both are counted as skipped.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh

DIFF=build/diff/vmlab-diff
SEED=${DIFF_SEED:-1}
COUNT=${DIFF_COUNT:-20000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -x "$DIFF" ] || make -s "$DIFF" >/dev/null

# A skip is the harness's own line, with its reason.
harness_skipped() { grep -m1 '^SKIP ' "$1" | sed 's/^SKIP //'; }

status=0
"$DIFF" --inject-difference --count 200 --max-reports 0 >"$work/inject" 2>&1 || status=$?
why=$(harness_skipped "$work/inject")
if [ -n "$why" ] && [ "$status" = 0 ]; then
    skip "injected-difference self-check: ${why#*: }"
elif [ "$status" = 1 ] && grep -Eq '^[0-9]+ passed, [1-9][0-9]* failed$' "$work/inject"; then
    pass "injected-difference self-check: $(tail -n 1 "$work/inject")"
else
    fail "injected-difference self-check: status $status, want 1: $(tail -n 2 "$work/inject" | tr '\n' ' ')"
fi

status=0
"$DIFF" --seed "$SEED" --count "$COUNT" >"$work/campaign" 2>&1 || status=$?
why=$(harness_skipped "$work/campaign")
if [ -n "$why" ] && [ "$status" = 0 ]; then
    skip "$why"
elif [ "$status" = 0 ] && grep -Eq "^$COUNT passed, 0 failed$" "$work/campaign"; then
    pass "$COUNT sequences agree with the host CPU (seed $SEED; $(grep -o '^([0-9]* of the passing' "$work/campaign" | tr -d '(') sequences end in the same exception)"
else
    fail "differential campaign (seed $SEED, $COUNT sequences): status $status"
    head -n 60 "$work/campaign" | sed 's/^/    /'
    tail -n 1 "$work/campaign" | sed 's/^/    /'
fi

finish
