#!/usr/bin/env bash
# labs/03-shadow/grade.sh - lab 03, shadow paging (make grade LAB=03).
# needs: bt
#
# Runs under bt, which uses the same shadow page table as trapemu
# (core/direct/shadow.c) and runs on every x86-64 Linux host. Without a
# hidden-fault handler the guests still run - every access to an unmapped
# page is emulated by the core - so the transcripts alone prove little: the
# counters of --stats-json (category "shadow") show whether pages were
# really mapped.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. labs/grade-lib.sh

grade_build build/vmlab build/guests/paging.elf build/guests/pagefault.elf build/guests/kernel.elf

paging=$GRADE_WORK/paging.bt.json
pagefault=$GRADE_WORK/pagefault.bt.json
sched=$GRADE_WORK/kernel-sched.bt.json

need_technique bt 2 "paging guest, as under QEMU" guest_transcript bt paging
need_technique bt 3 "paging: hidden faults map pages (shadow-pf)" counted "$paging" shadow shadow-pf
need_technique bt 2 "paging: next to no access emulated" counted_at_most "$paging" shadow emulated-access 50
need_technique bt 2 "paging: dirty tracking (read-only until written)" counted "$paging" shadow dirty
need_technique bt 2 "pagefault guest, as under QEMU" guest_transcript bt pagefault
need_technique bt 2 "pagefault: true faults reach the guest (#PF)" counted "$pagefault" guest-exception "#PF"
need_technique bt 2 "kernel sched scenario, as under QEMU" kernel_scenario bt sched
need_technique bt 3 "sched: CR3 writes switch the shadow (cr3-switch)" counted "$sched" shadow cr3-switch
need_technique bt 2 "kernel pagefault scenario, as under QEMU" kernel_scenario bt pagefault
grade_finish
