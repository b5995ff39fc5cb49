#!/usr/bin/env bash
# labs/04-bt/grade.sh - lab 04, binary translation (make grade LAB=04).
# needs: bt
#
# bt runs on every x86-64 Linux host (no compatibility mode, no KVM). The
# counters are those of --stats-json: bt-callout/<instruction> (what the
# core ran for translated code) and bt-chain/direct-exit (chains patched).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. labs/grade-lib.sh

grade_build build/vmlab build/guests/cpubench.elf build/guests/smc.elf build/guests/kernel.elf

# callouts_of JSON INSTRUCTION...: how many bt-callout events those were.
callouts_of() {
    local json=$1
    shift
    jq --argjson names "$(printf '%s\n' "$@" | jq -R . | jq -s .)" \
        '[.counters[] | select(.category == "bt-callout" and (.reason as $r | $names | index($r)))
          | .count] | add // 0' "$json"
}

# inline_bench BENCH INSTRUCTION...: the kernel's bench=BENCH (20000
# operations) under bt calls none of the instructions out: at most a
# handful, from the boot (an sti with an interrupt pending is a callout on
# purpose). Each callout would be a return to the dispatcher.
inline_bench() {
    local bench=$1 out=$GRADE_WORK/bench-$1 status=0 n
    shift
    run_guest bt "$out" build/guests/kernel.elf "bench=$bench" iters=20000 || status=$?
    grep -h "not implemented (lab" "$out.err" | head -n 2
    status_is 1 "$status" || return 1
    n=$(callouts_of "$out.json" "$@")
    echo "bt-callout $*: $n for 20000 operations of bench=$bench"
    [ "$n" -lt 100 ]
}

# all_as_hardware: the sensitive scenario, every line "as hardware" (pushf
# must show the virtual IF, popf must change it at CPL 0).
all_as_hardware() {
    local out=$GRADE_WORK/sensitive status=0
    run_guest bt "$out" build/guests/kernel.elf test=sensitive || status=$?
    status_is 1 "$status" || return 1
    tr -d '\r' <"$out" | grep 'DIFFERS$' && return 1
    tr -d '\r' <"$out" | grep -q '^sensitive: all 11 instructions behave as on bare hardware$'
}

# vflags: tests/bt/vflags.c (cli, sti, pushf, popf at CPL 0, CPL 3 IOPL 0
# and CPL 3 IOPL 3; the interrupt sti and popf let in) prints what it
# prints under QEMU.
vflags() {
    local out=$GRADE_WORK/vflags status=0
    tests/bt/build-guest.sh vflags "$GRADE_WORK" || { echo "tests/bt/vflags.c does not build"; return 1; }
    run_guest bt "$out" "$GRADE_WORK/vflags.elf" || status=$?
    status_is 1 "$status" || { tail -n 2 "$out.err"; return 1; }
    diff tests/bt/expected/vflags.out "$out" | head -n 8
    cmp -s tests/bt/expected/vflags.out "$out"
}

json=$GRADE_WORK/cpubench.bt.json
need_technique bt 3 "kernel sensitive: all 11 as hardware" all_as_hardware
need_technique bt 3 "vflags guest (CPL 0 and 3, IOPL, interrupts)" vflags
need_technique bt 4 "cli-sti: no cli/sti callout per operation" inline_bench cli-sti cli sti
need_technique bt 3 "pushf-popf: no pushf/popf callout per op" inline_bench pushf-popf pushf popf
need_technique bt 2 "cpubench guest, as under QEMU" guest_transcript bt cpubench iters=10
need_technique bt 4 "cpubench: chains patched (bt-chain)" counted "$json" bt-chain direct-exit
need_technique bt 2 "smc guest (the translation cache invalidated)" guest_transcript bt smc
need_technique bt 3 "kernel sched scenario, as under QEMU" kernel_scenario bt sched
grade_finish
