#!/usr/bin/env bash
# tests/pv/run.sh - paravirtualization (docs/pv.md): the pv kernel, the
# hypercall interface under hostile arguments, and the image check.
#
#   tests/pv/run.sh            from the repository root (about 20 s)
#
# 1. kernel-pv.elf contains no privileged or sensitive instruction
#    (objdump of .text after the Multiboot header, which is data), and
#    the same check finds them in the native kernel.elf (so it can fail).
# 2. Every scenario of kernel-pv.elf under interp, in build/vmlab and
#    build/vmlab-san: the native kernel's expected transcript
#    (tests/kernel/expected, which is QEMU's) byte for byte - except
#    `sensitive`, which has nothing left to run (tests/pv/expected).
#    `disk` runs on a fresh image (--disk) through the block ring, and the
#    image must hold the written sectors afterwards.
#    The same under bt where it runs (its callouts reach the hypercall
#    port through the core emulator, as interp's executor does).
# 3. The same while switching every 5 ms among the techniques that can take
#    a pv guest (interp, and bt where it runs).
# 4. pvcheck.elf: every hypercall with bad pointers, huge counts, mappings
#    of memory the guest does not own, writable mappings of page tables;
#    each refused with its error code (tests/pv/expected/pvcheck.txt), the
#    VMM unharmed (the guest shuts down through the interface at the end).
#    blkcheck.elf: the block ring with hostile requests (a ring frame the
#    guest may not give, buffers outside its RAM or in its page tables,
#    sectors beyond the image, huge counts, a runaway producer index).
# 5. The statistics: hypercall rows, pv-event/timer, refusals counted, and
#    no shadow paging at all; the disk scenario's exits per request, the pv
#    kernel's (one block_notify per batch) against the native kernel's
#    port I/O, both under interp.
# 6. What does not take a pv guest refuses it with the reason, and pv
#    refuses a guest that is not a pv guest.
# Under --technique pv (where it runs) every scenario and pvcheck as well,
# and its statistics show direct paging: no hidden, dirty or pt-write
# faults where bt, on the same guest, has them.
set -uo pipefail

cd "$(dirname "$0")/../.."
. tests/lib.sh

KERNEL_PV=build/guests/kernel-pv.elf
EXPECTED=tests/pv/expected
NATIVE_EXPECTED=tests/kernel/expected
CONSOLE_INPUT=$'hello\nvirtual machines\nquit\n'
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

make -s "$KERNEL_PV" build/guests/pvcheck.elf build/guests/blkcheck.elf build/guests/kernel.elf >/dev/null || { fail "build"; finish; }

# ---- 1. the image check -------------------------------------------------------
# The instructions a pv kernel must not contain: privileged (SDM vol. 3,
# 5.9) or sensitive without being privileged (pushf, popf, the descriptor
# table stores, lar/lsl/verr/verw: Popek and Goldberg's troublemakers on x86).
FORBIDDEN='cli|sti|hlt|pushf[lw]?|popf[lw]?|iret[dlw]?|lgdt[lw]?|lidt[lw]?|ltr|lldt|lmsw|clts|invlpg|invd|wbinvd|in[bwl]?|out[bwl]?|ins[bwld]?|outs[bwld]?|rdmsr|wrmsr|sgdt[lw]?|sidt[lw]?|sldt|str|smsw|lar|lsl|verr|verw'
# The whole of .text but its first 12 bytes: the Multiboot header
# (kernel.ld puts it first; entry.S), which is data.
forbidden_in() {
    local start
    start=$(objdump -h "$1" | awk '$2 == ".text" { print $4 }')
    start=$(printf '0x%x' $((0x$start + 12)))
    objdump -d --no-show-raw-insn --start-address="$start" "$1" |
        awk -F'\t' 'NF >= 2 { print $2 }' |
        grep -E "^($FORBIDDEN)( |$)|%cr[0-9]|%dr[0-9]" || true
}
if ! command -v objdump >/dev/null; then
    skip "image check: objdump is not installed"
else
    found=$(forbidden_in "$KERNEL_PV")
    if [ -z "$found" ]; then
        pass "kernel-pv.elf has no privileged or sensitive instruction"
    else
        fail "kernel-pv.elf has privileged or sensitive instructions:"
        echo "$found" | sort | uniq -c | sed 's/^/    /'
    fi
    native=$(forbidden_in build/guests/kernel.elf | awk '{ print $1 }' | sort -u | tr '\n' ' ')
    if [ -n "$native" ]; then
        pass "the check finds them in the native kernel.elf: $native"
    else
        fail "the check finds nothing in the native kernel.elf: it cannot work"
    fi
fi

# ---- 2. and 3. every scenario ---------------------------------------------------
expected_for() {
    if [ -f "$EXPECTED/$1.txt" ]; then echo "$EXPECTED/$1.txt"; else echo "$NATIVE_EXPECTED/$1.txt"; fi
}

# run_pv VMLAB OUT GUEST INPUT OPTION... [-- GUEST ARGUMENT...]: sets $status.
run_pv() {
    local vmlab=$1 out=$2 guest=$3 input=$4 options=()
    shift 4
    while [ $# -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
    status=0
    printf '%s' "$input" | timeout 90 "$vmlab" run --timeout 60 "${options[@]}" "$guest" "$@" \
        >"$out" 2>"$out.err" || status=$?
}

disk_runs=0
check_scenario() {
    local vmlab=$1 name=$2 label=$3
    shift 3
    local out="$WORK/$name.$(basename "$vmlab").$label" want disk=()
    want=$(expected_for "$name")
    if [ "$name" = disk ]; then
        disk_runs=$((disk_runs + 1))
        disk=(--disk "$WORK/disk.$disk_runs.img")
        new_disk "${disk[1]}"
    fi
    run_pv "$vmlab" "$out" "$KERNEL_PV" "$CONSOLE_INPUT" "$@" "${disk[@]}" -- "test=$name"
    if [ -n "${disk[*]}" ] && [ "$status" = 1 ] && ! disk_holds_pattern "${disk[1]}"; then
        fail "$name $(basename "$vmlab") $label (the image does not hold the written sectors)"
    else
        expect_transcript "$name $(basename "$vmlab") $label" "$status" 1 "$want" "$out" "$out.err"
    fi
}

VMLABS=()
for v in build/vmlab build/vmlab-san; do
    if [ -x "$v" ]; then VMLABS+=("$v"); else skip "$v is not built"; fi
done

# The techniques that service the hypercall port: interp, and bt where it
# runs (it is not in the sanitizer build's list of what can run, as it
# maps guest memory low, like trapemu).
PV_TECHNIQUES=(interp)
if technique_available bt; then
    PV_TECHNIQUES+=(bt)
else
    skip "kernel-pv under bt: $technique_why"
fi
if technique_available pv; then
    PV_TECHNIQUES+=(pv)
else
    skip "kernel-pv under pv: $technique_why"
fi
among=$(IFS=,; echo "${PV_TECHNIQUES[*]}")

for name in boot syscalls sched pagefault sensitive disk console; do
    for vmlab in "${VMLABS[@]}"; do
        check_scenario "$vmlab" "$name" interp --technique interp
    done
    for technique in "${PV_TECHNIQUES[@]:1}"; do
        check_scenario build/vmlab "$name" "$technique" --technique "$technique"
    done
    check_scenario build/vmlab "$name" "switching every 5 ms among $among" \
        --switch-every 5ms --switch-among "$among"
done

# ---- 4. the validation guest ------------------------------------------------------
# check_hostile NAME WHAT VMLAB LABEL OPTION...: the hostile guest
# build/guests/NAME.elf prints $EXPECTED/NAME.txt and passes (status 1).
check_hostile() {
    local name=$1 what=$2 vmlab=$3 label=$4
    shift 4
    local out="$WORK/$name.$label"
    run_pv "$vmlab" "$out" "build/guests/$name.elf" "" --stats-json "$out.json" "$@"
    expect_transcript "$name $label: $what" "$status" 1 "$EXPECTED/$name.txt" "$out" "$out.err"
}
check_blkcheck() {   # with a fresh disk image
    new_disk "$WORK/blkcheck.$2.img"
    check_hostile blkcheck "every hostile block request refused with its error code" "$@" \
        --disk "$WORK/blkcheck.$2.img"
}
# run_everywhere CHECK ARG...: CHECK ARG... VMLAB LABEL --technique T, under
# interp in each build and under every other technique that takes a pv guest.
run_everywhere() {
    local vmlab technique
    for vmlab in "${VMLABS[@]}"; do
        "$@" "$vmlab" "$(basename "$vmlab")" --technique interp
    done
    for technique in "${PV_TECHNIQUES[@]:1}"; do
        "$@" build/vmlab "$technique" --technique "$technique"
    done
}
run_everywhere check_hostile pvcheck "every hostile argument refused with its error code"
run_everywhere check_blkcheck

# ---- 5. the statistics ------------------------------------------------------------
row_count() {   # row_count FILE CATEGORY REASON
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(r["count"] for r in d["counters"] if r["category"] == sys.argv[2] and (sys.argv[3] == "*" or r["reason"] == sys.argv[3])))' "$@"
}
json="$WORK/sched.json"
run_pv build/vmlab "$WORK/sched.stats" "$KERNEL_PV" "" --stats-json "$json" -- test=sched
if [ "$status" = 1 ]; then
    for row in "hypercall mmu_update" "hypercall iret" "hypercall set_timer" "hypercall sched_op" \
               "hypercall console_write" "pv-event timer" "inject pv-upcall"; do
        n=$(row_count "$json" $row)
        if [ "$n" -gt 0 ]; then pass "stats: $row counted ($n)"; else fail "stats: no $row row"; fi
    done
    for category in shadow trap; do
        n=$(row_count "$json" "$category" "*")
        if [ "$n" = 0 ]; then pass "stats: no $category events for the pv guest under interp"
        else fail "stats: $n $category events"; fi
    done
else
    fail "sched with --stats-json (exit status $status)"
fi
# Direct paging under --technique pv: the same guest that bt must shadow
# (hidden faults, dirty faults) has its tables mirrored whole - and the
# bt row is what shows the check can fail.
if technique_available pv; then
    for technique in bt pv; do
        run_pv build/vmlab "$WORK/pf.$technique" "$KERNEL_PV" "" --technique "$technique" \
            --stats-json "$WORK/pf.$technique.json" -- test=pagefault
        [ "$status" = 1 ] || fail "pagefault under $technique with --stats-json (exit status $status)"
    done
    bt_faults=$(row_count "$WORK/pf.bt.json" shadow shadow-pf)
    for reason in shadow-pf dirty pt-write; do
        n=$(row_count "$WORK/pf.pv.json" shadow "$reason")
        if [ "$n" = 0 ]; then pass "stats: no shadow/$reason under pv (bt: $(row_count "$WORK/pf.bt.json" shadow "$reason"))"
        else fail "stats: $n shadow/$reason under pv"; fi
    done
    mirrors=$(row_count "$WORK/pf.pv.json" shadow mirror-all)
    entries=$(row_count "$WORK/pf.pv.json" shadow mirror-entry)
    if [ "$mirrors" -gt 0 ] && [ "$entries" -gt 0 ] && [ "$bt_faults" -gt 0 ]; then
        pass "stats: pv mirrored the tables $mirrors times and $entries entries; bt took $bt_faults hidden faults"
    else
        fail "stats: pv mirror-all $mirrors, mirror-entry $entries; bt shadow-pf $bt_faults"
    fi
    n=$(row_count "$WORK/pf.pv.json" pv-engine bt)
    if [ "$n" = 1 ] && grep -q "runs on the bt engine" "$WORK/pf.pv.err"; then
        pass "pv says at attach that it runs on the bt engine"
    else
        fail "pv's engine: pv-engine/bt $n; stderr: $(head -c 300 "$WORK/pf.pv.err")"
    fi
fi

# The block ring: one notification per batch. The native kernel moves a
# sector through the ATA registers (each port access an exit under
# trapemu or hvm; counted as io/<port> under interp); the pv kernel makes
# one block_notify per read and one per write+flush batch. Per request,
# from the same scenario under interp.
disk_json() {   # disk_json GUEST JSON: the disk scenario under interp, with statistics
    new_disk "$2.img"
    run_pv build/vmlab "$2.out" "$1" "" --technique interp --disk "$2.img" --stats-json "$2" \
        -- test=disk
    [ "$status" = 1 ] || fail "disk with --stats-json: $1 (exit status $status)"
}
disk_json build/guests/kernel.elf "$WORK/disk.native.json"
disk_json "$KERNEL_PV" "$WORK/disk.pv.json"
# The scenario's requests: one read of sector 0, three writes and three
# reads (user/disk.c); the out-of-range read never leaves either kernel.
requests=7
native_exits=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
ata = ["port-0x%x" % p for p in list(range(0x1f0, 0x1f8)) + [0x3f6]]
print(sum(r["count"] for r in d["counters"] if r["category"] == "io" and r["reason"] in ata))' \
    "$WORK/disk.native.json")
pv_exits=$(( $(row_count "$WORK/disk.pv.json" hypercall block_notify) + \
             $(row_count "$WORK/disk.pv.json" hypercall block_setup) ))
batches=$(row_count "$WORK/disk.pv.json" pv-block "*")
events=$(row_count "$WORK/disk.pv.json" pv-event disk)
if [ "$pv_exits" -gt 0 ] && [ "$native_exits" -gt 0 ] &&
   [ $((pv_exits * 10)) -lt $((native_exits)) ] && [ "$batches" = $((pv_exits - 1)) ] &&
   [ "$events" = "$batches" ]; then
    pass "disk: $pv_exits exits for $requests requests under pv (one notify per batch, $batches batches, $events disk events) against $native_exits ATA port accesses natively"
else
    fail "disk: pv exits $pv_exits (batches $batches, disk events $events), native ATA port accesses $native_exits, for $requests requests"
fi

refused=$(row_count "$WORK/pvcheck.vmlab.json" pv-refused "*" 2>/dev/null || echo 0)
if [ "$refused" -ge 30 ]; then pass "stats: pvcheck's $refused refusals counted as pv-refused"
else fail "stats: only $refused pv-refused rows for pvcheck"; fi

# ---- 6. refusals ---------------------------------------------------------------------
for technique in trapemu hvm; do
    err=$("$VMLAB" run --technique "$technique" "$KERNEL_PV" -- test=boot 2>&1 >/dev/null)
    status=$?
    if [ "$status" = 2 ] && [ -n "$err" ]; then
        pass "--technique $technique refuses kernel-pv.elf: ${err#vmlab: }"
    else
        fail "--technique $technique with kernel-pv.elf: status $status: $err"
    fi
done
err=$("$VMLAB" run --technique pv build/guests/kernel.elf -- test=boot 2>&1 >/dev/null)
status=$?
if [ "$status" = 2 ] && [[ "$err" == *"not a pv guest"* ]]; then
    pass "--technique pv refuses the native kernel: ${err#vmlab: }"
else
    fail "--technique pv with kernel.elf: status $status: $err"
fi

finish
