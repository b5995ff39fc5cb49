#!/usr/bin/env bash
# labs/05-pv/grade.sh - lab 05, paravirtualization (make grade LAB=05).
# needs: -
#
# Two guests. The teaching kernel built with -DPV (build/guests/kernel-pv.elf)
# writes every page-table entry through arch_set_pte -> PV_MMU_UPDATE once
# paging is on: its scenarios pass only if both sides of the hypercall work.
# pvcheck (build/guests/pvcheck.elf) is hostile: it asks for mappings the
# VMM must refuse and prints each result (tests/pv/expected/pvcheck.txt).
# Both run under interp, which every host has, and under bt where it runs.
# --technique pv, where vmlab has it, runs the kernel with the same
# core/pv/mmu.c; elsewhere that check is skipped with vmlab's reason.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. labs/grade-lib.sh

grade_build build/vmlab build/guests/kernel-pv.elf build/guests/pvcheck.elf

# pv_scenario TECHNIQUE SCENARIO: kernel-pv.elf test=SCENARIO passes and
# prints what the native kernel prints under QEMU (tests/kernel/expected;
# docs/pv.md says which scenarios differ, and none of these does).
pv_scenario() {
    local technique=$1 scenario=$2 out=$GRADE_WORK/kernel-pv-$2.$1 status=0
    run_guest "$technique" "$out" build/guests/kernel-pv.elf "test=$scenario" || status=$?
    grep -h "not implemented (lab\|panic:" "$out" "$out.err" | head -n 2
    status_is 1 "$status" || { tail -n 2 "$out.err"; return 1; }
    diff tests/kernel/expected/"$scenario".txt "$out" | head -n 8
    cmp -s tests/kernel/expected/"$scenario".txt "$out"
}

# every_batch_counted JSON: the run made mmu_update hypercalls, and each
# one that got past the count and the pointer is one pv-mmu-batch event
# (the kernel's batches are all accepted).
every_batch_counted() {
    local json=$1 calls batches
    [ -f "$json" ] || { echo "no statistics: the run before did not write $json"; return 1; }
    calls=$(jq '[.counters[] | select(.category == "hypercall" and .reason == "mmu_update") | .count] | add // 0' "$json")
    batches=$(jq '[.counters[] | select(.category == "pv-mmu-batch") | .count] | add // 0' "$json")
    echo "hypercall mmu_update: $calls calls; pv-mmu-batch: $batches batches"
    [ "$calls" -gt 0 ] && [ "$calls" = "$batches" ]
}

# pvcheck runs once under interp; the line checks read its transcript.
pvcheck=$GRADE_WORK/pvcheck.interp
pvcheck_status=0
run_guest interp "$pvcheck" build/guests/pvcheck.elf || pvcheck_status=$?

# pvcheck_says LINE...: each LINE is in pvcheck's transcript, exactly.
pvcheck_says() {
    local line missing=0 what
    grep -h "not implemented (lab" "$pvcheck.err" | head -n 2
    for line in "$@"; do
        grep -qxF -- "$line" "$pvcheck" && continue
        what=${line%: *}
        echo "want \"$line\", got \"$(grep -F -- "$what:" "$pvcheck" | head -n 1)\""
        missing=1
    done
    [ "$missing" = 0 ] || { echo "(pvcheck's exit status: $pvcheck_status)"; return 1; }
}

# pvcheck_transcript TECHNIQUE: the whole transcript, and status 1 (pass).
pvcheck_transcript() {
    local out=$GRADE_WORK/pvcheck.$1 status=0
    if [ "$1" = interp ]; then status=$pvcheck_status; else run_guest "$1" "$out" build/guests/pvcheck.elf || status=$?; fi
    grep -h "not implemented (lab" "$out.err" | head -n 2
    status_is 1 "$status" || return 1
    diff tests/pv/expected/pvcheck.txt "$out" | head -n 8
    cmp -s tests/pv/expected/pvcheck.txt "$out"
}

# every_refusal_counted: as many pv-refused events as negative results in
# pvcheck's transcript (a refusal returned without pv_refuse is invisible
# in the statistics and the dashboard).
every_refusal_counted() {
    local json=$pvcheck.json refused negative
    [ -f "$json" ] || { echo "no statistics: pvcheck did not write $json"; return 1; }
    refused=$(jq '[.counters[] | select(.category == "pv-refused") | .count] | add // 0' "$json")
    negative=$(grep -cE ': -[0-9]+( |$)' "$pvcheck")
    echo "pv-refused: $refused events; negative results in the transcript: $negative"
    [ "$refused" = "$negative" ]
}

# under_pv: --technique pv runs the kernel's sched and pagefault scenarios
# (the ones the pv technique must pass, issue 12; both write PTEs through
# your mmu_update, on the technique's own path to core/pv).
under_pv() {
    pv_scenario pv sched && pv_scenario pv pagefault
}

need_technique interp 2 "kernel-pv boot scenario (interp)" pv_scenario interp boot
need_technique interp 2 "kernel-pv sched scenario (interp)" pv_scenario interp sched
need_technique interp 3 "kernel-pv pagefault scenario: demand paging" pv_scenario interp pagefault
need_technique bt 2 "kernel-pv syscalls scenario (bt)" pv_scenario bt syscalls
need_technique bt 2 "kernel-pv pagefault scenario (bt)" pv_scenario bt pagefault
need_technique interp 2 "pagefault: every mmu_update one counted batch" \
    every_batch_counted "$GRADE_WORK/kernel-pv-pagefault.interp.json"
need_technique interp 3 "pvcheck: no mapping of memory not the guest's" pvcheck_says \
    "mmu_update: map VMM memory: -1" "mmu_update: map a page the guest does not own: -1"
need_technique interp 3 "pvcheck: no page table, hypercall page writable" pvcheck_says \
    "pin a table that maps itself writable: -1" "mmu_update: map a page table writable: -1" \
    "mmu_update: map the hypercall page writable: -1"
need_technique interp 2 "pvcheck: huge count, bad list pointer refused" pvcheck_says \
    "mmu_update: 1000000 entries: -7" "mmu_update: list pointer beyond RAM: -14"
need_technique interp 2 "pvcheck: a refused batch writes nothing" pvcheck_says \
    "mmu_update: a batch whose last entry is refused: -22" "  its first entry was not written: 1"
need_technique interp 2 "pvcheck: a batch of 3 written and used" pvcheck_says \
    "mmu_update: a batch of 3: 3" "written through the new mapping, read back: 1" \
    "and through the read-only alias: 1"
need_technique interp 1 "pvcheck: batches of 2-3 counted (pv-mmu-batch)" counted "$pvcheck.json" pv-mmu-batch 2-3
need_technique interp 1 "pvcheck: every refusal counted (pv-refused)" every_refusal_counted
need_technique interp 2 "pvcheck: the whole transcript (interp)" pvcheck_transcript interp
need_technique bt 2 "pvcheck: the whole transcript (bt)" pvcheck_transcript bt
need_technique pv 4 "--technique pv: kernel-pv sched and pagefault" under_pv
grade_finish
