#!/usr/bin/env bash
# tests/diff/run.sh - the bounded differential runs of `make test`
# (build/diff/vmlab-diff, tests/diff/README.md):
#
#   the interpreter's core against the host CPU  (skipped without compatibility mode)
#   the bt technique against the interpreter's core, and against the host
#   CPU where it has compatibility mode            (every x86-64 host)
#   bt against the interpreter's core with the sensitive, unprivileged
#   instructions and FS/GS prefixes (--sensitive)  (every x86-64 host)
#
#   tests/diff/run.sh      DIFF_SEED (1), DIFF_COUNT (20000), DIFF_BT_COUNT
#                          (10000) and DIFF_SENSITIVE_COUNT (3000) choose the runs
#
# For each mode:
# 1. The self-check: with --inject-difference the harness must report
#    differences (status 1), or a harness that compares nothing would pass.
# 2. The campaign: the sequences must agree (status 0, "N passed, 0
#    failed"); in bt mode bt must also have translated blocks (a bt that
#    ran every instruction in the core would compare the core with itself).
# A mode the host cannot run says SKIP with the host fact, and both of its
# checks are counted as skipped.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh

DIFF=build/diff/vmlab-diff
SEED=${DIFF_SEED:-1}
COUNT=${DIFF_COUNT:-20000}
BT_COUNT=${DIFF_BT_COUNT:-10000}
SENSITIVE_COUNT=${DIFF_SENSITIVE_COUNT:-3000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -x "$DIFF" ] || make -s "$DIFF" >/dev/null

# A skip is the harness's own line, with its reason.
harness_skipped() { grep -m1 '^SKIP ' "$1" | sed 's/^SKIP //'; }

# self_check LABEL [MODE OPTION]
self_check() {
    local label=$1 status=0 why
    shift
    "$DIFF" "$@" --inject-difference --count 200 --max-reports 0 >"$work/inject" 2>&1 || status=$?
    why=$(harness_skipped "$work/inject")
    if [ -n "$why" ] && [ "$status" = 0 ]; then
        skip "$label injected-difference self-check: ${why#*: }"
    elif [ "$status" = 1 ] && grep -Eq '^[0-9]+ passed, [1-9][0-9]* failed$' "$work/inject"; then
        pass "$label injected-difference self-check: $(tail -n 1 "$work/inject")"
    else
        fail "$label injected-difference self-check: status $status, want 1: $(tail -n 2 "$work/inject" | tr '\n' ' ')"
    fi
}

# campaign LABEL COUNT AGAINST [MODE OPTION]
campaign() {
    local label=$1 count=$2 against=$3 status=0 why exceptions
    shift 3
    "$DIFF" "$@" --seed "$SEED" --count "$count" >"$work/campaign" 2>&1 || status=$?
    why=$(harness_skipped "$work/campaign")
    exceptions=$(grep -o '^([0-9]* of the passing' "$work/campaign" | tr -d '(')
    if [ -n "$why" ] && [ "$status" = 0 ]; then
        skip "$why"
    elif [ "$status" = 0 ] && grep -Eq "^$count passed, 0 failed$" "$work/campaign" &&
         { [ "${label%% *}" != bt ] || grep -Eq '^\(bt: [0-9]+ runs, [1-9][0-9]* blocks translated' "$work/campaign"; }; then
        pass "$label: $count sequences agree with $against (seed $SEED; $exceptions sequences end in the same exception)"
        grep '^(bt' "$work/campaign" | sed 's/^/    /'
    else
        fail "$label differential campaign (seed $SEED, $count sequences): status $status"
        head -n 60 "$work/campaign" | sed 's/^/    /'
        tail -n 2 "$work/campaign" | sed 's/^/    /'
    fi
}

self_check interp
campaign interp "$COUNT" "the host CPU"
self_check bt --bt
if host_has compat; then
    campaign bt "$BT_COUNT" "the interpreter and the host CPU" --bt
else
    campaign bt "$BT_COUNT" "the interpreter" --bt
fi
campaign "bt --sensitive" "$SENSITIVE_COUNT" "the interpreter" --sensitive

finish
