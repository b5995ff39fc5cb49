#!/usr/bin/env bash
# labs/04-bt/grade.sh - lab 04, binary translation (make grade LAB=04).
# needs: bt
#
# bt runs on every x86-64 Linux host (no compatibility mode, no KVM). The
# counters are those of --stats-json: bt-chain/direct-exit (chains
# patched) and bt-callout/* (instructions the core ran for translated code).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. labs/grade-lib.sh

grade_build build/vmlab build/guests/cpubench.elf build/guests/smc.elf build/guests/kernel.elf

json=$GRADE_WORK/cpubench.bt.json

# few_callouts: fewer than one callout per 1000 guest instructions on
# cpubench, a ring-3 compute loop (the solution: about one per 10,000; the
# port I/O of its report). Every rewritten instruction left to the core
# costs one.
few_callouts() {
    [ -f "$json" ] || { echo "no statistics: the cpubench run did not write $json"; return 1; }
    jq -r '([.counters[] | select(.category == "bt-callout") | .count] | add // 0) as $c
           | "\($c) callouts for \(.guest_instructions) guest instructions"
           + " (\($c * 1000 / ([.guest_instructions, 1] | max) * 100 | round / 100) per 1000)"' "$json"
    jq -e '([.counters[] | select(.category == "bt-callout") | .count] | add // 0) * 1000
           < .guest_instructions' "$json" >/dev/null
}

# all_as_hardware: the sensitive scenario, every line "as hardware" (bt
# runs pushf, popf, sgdt... in the core on the virtual state).
all_as_hardware() {
    local out=$GRADE_WORK/sensitive status=0
    run_guest bt "$out" build/guests/kernel.elf test=sensitive || status=$?
    status_is 1 "$status" || return 1
    tr -d '\r' <"$out" | grep 'DIFFERS$' && return 1
    tr -d '\r' <"$out" | grep -q '^sensitive: all 11 instructions behave as on bare hardware$'
}

need_technique bt 2 "cpubench guest, as under QEMU" guest_transcript bt cpubench iters=10
need_technique bt 4 "cpubench: chains patched (bt-chain)" counted "$json" bt-chain direct-exit
need_technique bt 4 "cpubench: < 1 callout per 1000 instructions" few_callouts
need_technique bt 2 "smc guest (the translation cache invalidated)" guest_transcript bt smc
need_technique bt 3 "kernel sched scenario (CR3 switches undo chains)" kernel_scenario bt sched
need_technique bt 3 "kernel sensitive: all 11 as hardware" all_as_hardware
grade_finish
