#!/usr/bin/env bash
# Live switching keeps guest state: every test guest and kernel scenario
# must print the same transcript and exit with the same status while being
# switched between techniques as when it runs on one.
#
#  - interp to interp every millisecond: a full detach/attach round trip of
#    the state through struct cpu, under the sanitizer build;
#  - if hvm can run here, random switching between interp and hvm every
#    500 us (--switch-among; tests/trapemu/run.sh mixes in trapemu).
#
# The reference transcript is the one from an unswitched interp run.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

round_trips=$(for i in $(seq 0 63); do printf "interp@%dms," "$i"; done)
round_trips=${round_trips%,}

# check NAME GUEST ARGS: reference run, then the switched runs.
check() {
    local name=$1 guest=$2 args=$3
    build/vmlab run --timeout 60 "$guest" -- $args > "$work/reference" 2> /dev/null < /dev/null
    local reference_status=$?
    build/vmlab-san run --timeout 120 --switch "$round_trips" --stats-json "$work/stats.json" \
        "$guest" -- $args > "$work/switched" 2> "$work/err" < /dev/null
    local status=$?
    if [ $status -ne $reference_status ] || ! cmp -s "$work/reference" "$work/switched"; then
        fail "$name interp round trips: status $status (expected $reference_status); $(diff "$work/reference" "$work/switched" | head -5; tail -3 "$work/err")"
    elif ! grep -q '"interp->interp"' "$work/stats.json"; then
        fail "$name interp round trips: no switch was recorded"
    else
        pass "$name interp round trips"
    fi
    if [ -n "$hvm_reason" ]; then
        skip "$name random interp/hvm: $hvm_reason"
        return
    fi
    build/vmlab run --timeout 120 --switch-every 500us --switch-among interp,hvm --switch-seed 7 \
        --stats-json "$work/stats.json" \
        "$guest" -- $args > "$work/switched" 2> "$work/err" < /dev/null
    status=$?
    if [ $status -ne $reference_status ] || ! cmp -s "$work/reference" "$work/switched"; then
        fail "$name random interp/hvm: status $status (expected $reference_status); $(diff "$work/reference" "$work/switched" | head -5; tail -3 "$work/err")"
    else
        pass "$name random interp/hvm ($(switch_count "$work/stats.json") switches)"
    fi
}

# How many switches between different techniques a stats file records.
switch_count() {
    awk '/"category":[[:space:]]*"switch"/ { in_switch = 1; next }
         in_switch && /"reason"/ { moving = ($0 ~ /->/) && ($0 !~ /interp->interp/) }
         in_switch && /"count"/ { if (moving) total += $2 + 0; in_switch = 0 }
         END { print total + 0 }' "$1"
}

hvm_reason=""
technique_available hvm || hvm_reason=$technique_why

for guest in hello paging pagefault ring3 timer exceptions; do
    check "$guest" "build/guests/$guest.elf" ""
done
for scenario in boot syscalls sched pagefault; do
    check "kernel $scenario" build/guests/kernel.elf "test=$scenario"
done

finish
