#!/usr/bin/env bash
# labs/02-trapemu/grade.sh - lab 02, trap and emulate (make grade LAB=02).
# needs: trapemu
#
# Everything runs under trapemu, so everything is skipped where vmlab cannot
# run it (no 32-bit compatibility mode, no LDT, no seccomp): vmlab
# techniques says why. The transcripts are the ones tests/guests and
# tests/kernel check against QEMU.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. labs/grade-lib.sh

grade_build build/vmlab build/guests/timer.elf build/guests/kernel.elf

# The instructions i386 lets ring 3 run without a trap although they read or
# change privileged state (Robin and Irvine, 2000): they DIFFER under trap
# and emulate, whatever the VMM does. The kernel stops with status 3 after
# the scenario (tests/trapemu/run.sh).
SENSITIVE_DIFFERS="popf push mov smsw sgdt sidt str lar lsl verr"
sensitive_differs() {
    local out=$GRADE_WORK/sensitive status=0 differs
    run_guest trapemu "$out" build/guests/kernel.elf test=sensitive || status=$?
    grep -h "not implemented (lab" "$out.err" | head -n 2
    differs=$(tr -d '\r' <"$out" | grep '^sensitive: [a-z]* .*DIFFERS$' | awk '{print $2}' | xargs || true)
    echo "DIFFERS: ${differs:-none}"
    status_is 3 "$status" || return 1
    [ "$differs" = "$SENSITIVE_DIFFERS" ] || { echo "want:    $SENSITIVE_DIFFERS"; return 1; }
    tr -d '\r' <"$out" | grep -q '^sensitive: pushf .*as hardware$' ||
        { echo "pushf with IF=1 should read as on hardware"; return 1; }
}

need_technique trapemu 4 "timer guest (sti; hlt; the PIT's IRQ 0)" guest_transcript trapemu timer
need_technique trapemu 2 "timer: hlt traps are counted" counted "$GRADE_WORK/timer.trapemu.json" trap hlt
need_technique trapemu 2 "timer: interrupts are injected" counted "$GRADE_WORK/timer.trapemu.json" inject
need_technique trapemu 3 "kernel syscalls scenario" kernel_scenario trapemu syscalls
need_technique trapemu 4 "kernel sched scenario (preemption)" kernel_scenario trapemu sched
need_technique trapemu 3 "kernel sensitive: exactly the 10 DIFFER" sensitive_differs
grade_finish
