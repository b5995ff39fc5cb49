#!/usr/bin/env bash
# labs/06-hvm/grade.sh - lab 06, hardware-assisted virtualization
# (make grade LAB=06).
# needs: hvm
#
# Everything runs under hvm, so everything is skipped where /dev/kvm is not
# usable (vmlab techniques says why). The counters are the exits of
# --stats-json (category "exit": io, hlt, irq-window).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. labs/grade-lib.sh

grade_build build/vmlab build/guests/hello.elf build/guests/timer.elf build/guests/kernel.elf

need_technique hvm 3 "hello guest (port I/O: the UART)" guest_transcript hvm hello greeting=hi
need_technique hvm 2 "hello: I/O exits are counted" counted "$GRADE_WORK/hello.hvm.json" exit io
need_technique hvm 3 "timer guest (HLT, the PIT's IRQ 0)" guest_transcript hvm timer
need_technique hvm 2 "timer: HLT exits are counted" counted "$GRADE_WORK/timer.hvm.json" exit hlt
need_technique hvm 4 "kernel sched scenario (preemption)" kernel_scenario hvm sched
need_technique hvm 2 "kernel syscalls scenario" kernel_scenario hvm syscalls
grade_finish
