#!/usr/bin/env bash
# tests/hvm/run.sh - the hvm technique (KVM) against QEMU, and its edges.
#
#   tests/hvm/run.sh            from the repo root, after `make`
#   VMLAB=path tests/hvm/run.sh test another vmlab binary (default build/vmlab)
#
# 1. Every test guest of build/guests under `vmlab run --technique hvm
#    --timeout 60` must print what QEMU (TCG) prints, byte for byte, and exit
#    with the same status (the triple guest: vmlab 4, QEMU 0 with -no-reboot).
#    The disk guest gets a fresh 1 MiB image under each, and the two images
#    must end up identical.
#    Also under tests/hvm/switch_test.c, which switches between interp and
#    hvm every one to three time slices and checks that attach + detach give
#    back the same struct cpu, and under vmlab's own --switch schedule
#    (interp and hvm alternating every 2 ms): a switch must lose no state.
# 2. --stats-json under hvm has exit rows (port 0x3f8) and KVM's own rows.
# 3. Guests of tests/hvm/guests: one that never exits (the deadline timer
#    must still end a --timeout run on time), one that touches the legacy
#    hole and memory beyond RAM (KVM_EXIT_MMIO, all ones), one that uses
#    REP INSB/OUTSB (KVM_EXIT_IO with count > 1), one that prints CPUID
#    (hvm must report the interpreter's CPU).
# 3b. A guest that ran under trapemu is refused by hvm ("not possible:"), and
#    finishes under trapemu (or interp) as it would have.
# 4. Without KVM (VMLAB_KVM_DEVICE=/nonexistent, or a device that is not
#    KVM) `vmlab run --technique hvm` fails with status 2 and says why.
#
# If hvm cannot run here, prints "SKIP hvm: <reason>" (counted as a skip);
# section 4 (the refusals) runs on every host.
#
# Known limits of the host: when KVM is PVM (kvm_pvm, KVM on a host without
# VT-x/AMD-V), some guests cannot run, whatever vmlab does (see PVM_LIMITS
# below). Their failures are reported as SKIP with the host fact (KVM is
# PVM) and the limit; if one passes it counts as a pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
VMLAB=${VMLAB:-build/vmlab}
GUESTS=build/guests
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$VMLAB" ]; then
    fail "$VMLAB does not exist: run make first"
    finish
fi

# ---- 4. no KVM (first: it holds on every host) ------------------------------------

# expect_unavailable NAME DEVICE PATTERN
expect_unavailable() {
    local name=$1 device=$2 pattern=$3
    status=0
    VMLAB_KVM_DEVICE=$device "$VMLAB" run --technique hvm "$GUESTS/hello.elf" \
        > "$WORK/out" 2> "$WORK/err" < /dev/null || status=$?
    if [ "$status" -ne 2 ]; then
        fail "$name: status $status, expected 2"
    elif [ "$(wc -l < "$WORK/err")" -ne 1 ] || ! grep -qE "$pattern" "$WORK/err"; then
        fail "$name: expected one line matching /$pattern/, got: $(cat "$WORK/err")"
    else
        pass "$name ($(cat "$WORK/err"))"
    fi
}
# On a host without /dev/kvm the host fact answers first, whatever the device.
if host_has kvm; then
    expect_unavailable "no /dev/kvm" /nonexistent "^vmlab: hvm: /nonexistent does not exist.*load kvm"
    expect_unavailable "not a KVM device" /dev/null "^vmlab: hvm: /dev/null is not a KVM device"
else
    expect_unavailable "no KVM on this host" /dev/kvm "^vmlab: hvm: "
    grep -qF -- "$host_why" "$WORK/err" && pass "the refusal names the host fact" ||
        fail "the refusal should name the host fact '$host_why': $(cat "$WORK/err")"
fi

# hvm is usable if `vmlab techniques` says so; otherwise it says why.
if ! technique_available hvm; then
    skip "hvm: $technique_why"
    finish
fi

# run_vmlab OUT ERR ARGS...: sets $status.
run_vmlab() {
    local out=$1 err=$2
    shift 2
    status=0
    timeout 90 "$VMLAB" run --technique hvm --timeout 60 "$@" > "$out" 2> "$err" < /dev/null ||
        status=$?
}

# run_switch OUT ERR [--disk IMG] GUEST [COMMAND LINE]: the same under switch_test.
run_switch() {
    local out=$1 err=$2
    shift 2
    status=0
    timeout 150 "$WORK/switch_test" "$@" > "$out" 2> "$err" < /dev/null || status=$?
}

# run_schedule OUT ERR ARGS...: vmlab's own live switch (--switch), between
# interp and hvm every 2 ms for the first 128 ms (a schedule has at most 64
# steps, core/switch.h).
SCHEDULE=$(for i in $(seq 1 64); do
    if [ $((i % 2)) -eq 1 ]; then technique=interp; else technique=hvm; fi
    printf '%s@%dms,' "$technique" $((2 * i))
done | sed 's/,$//')
run_schedule() {
    run_vmlab "$1" "$2" --switch "$SCHEDULE" "${@:3}"
}

run_qemu() {
    local out=$1 guest=$2 args=$3
    shift 3
    qemu_status=0
    timeout 120 qemu-system-i386 -accel tcg -m 64 -kernel "$guest" -append "$args" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -serial stdio -display none \
        -no-reboot -monitor none "$@" > "$out" 2> /dev/null < /dev/null || qemu_status=$?
}

fresh_image() {
    rm -f "$1"
    truncate -s 1M "$1"
}

# What KVM is here, as vmlab reports it ("vmlab: hvm on PVM (...)").
run_vmlab "$WORK/out" "$WORK/err" "$GUESTS/hello.elf"
kvm_kind=$(sed -n 's/^vmlab: hvm on \([A-Za-z-]*\).*/\1/p' "$WORK/err" | head -1)
echo "hvm runs on: $(grep '^vmlab: hvm on' "$WORK/err" || echo unknown)"

# Guests PVM cannot run (measured with kvm_pvm on Linux 6.18; see the report
# of techniques/hvm): the failure is PVM's, not vmlab's.
declare -A PVM_LIMITS=(
    [flags]="PVM runs guest kernel code through KVM's instruction emulator, whose AAM/AAD \
results differ from QEMU's and the interpreter's"
    [paging]="PVM does not run 32-bit paging: the MOV to CR0 that sets PG gets #GP"
    [pagefault]="PVM does not run 32-bit paging: the MOV to CR0 that sets PG gets #GP"
    [exceptions]="PVM does not run 32-bit paging: the MOV to CR0 that sets PG gets #GP"
    [ring3]="PVM answers INT 0x80 from ring 3 with #UD"
    [cpuid]="PVM puts the host's feature bits back into CPUID leaf 1 (vmlab says so on stderr)"
)

# fail_or_known NAME GUEST WHY: a failure, or an expected one on PVM.
fail_or_known() {
    local name=$1 guest=$2 why=$3
    if [ "$kvm_kind" = PVM ] && [ -n "${PVM_LIMITS[$guest]:-}" ]; then
        skip "$name: KVM here is PVM: ${PVM_LIMITS[$guest]} (here: $why)"
    else
        fail "$name: $why"
    fi
}

# ---- 1. the test guests against QEMU ---------------------------------------

# name        guest       command line   vmlab status (- : the same as QEMU)
CASES=(
    "hello      hello      greeting=hi    -"
    "hello-exit hello      exit=5         -"
    "flags      flags      -              -"
    "paging     paging     -              -"
    "pagefault  pagefault  -              -"
    "ring3      ring3      -              -"
    "timer      timer      -              -"
    "exceptions exceptions -              -"
    "triple     triple     -              4"
    "cpubench   cpubench   iters=10       -"
    "disk       disk       -              -"
)
# The guests for the switch tests: interrupts and halts, a long computation,
# the disk. (The others add little and take long.)
SWITCH_CASES=(
    "switch-timer    timer    -        -"
    "switch-cpubench cpubench iters=10 -"
    "switch-disk     disk     -        -"
)
# Not the timer guest under --switch: a switch takes a few hundred
# microseconds (the kept KVM VM forgets its translations, the state is
# loaded: tests/hvm/bench.sh), and when one falls inside the 10th timer
# interrupt's handler the next tick can be pending at its IRET and be taken
# before the guest's CLI - architecturally right, but the guest then counts
# 11 ticks where it wants 10.
SCHEDULE_CASES=(
    "schedule-hello    hello    greeting=hi -"
    "schedule-cpubench cpubench iters=10    -"
    "schedule-disk     disk     -           -"
)

# compare_guest RUNNER NAME GUEST ARGS EXPECTED_STATUS
compare_guest() {
    local runner=$1 name=$2 guest=$3 args=$4 expected_status=$5
    local elf=$GUESTS/$guest.elf
    [ "$args" = - ] && args=""
    if [ ! -f "$elf" ]; then
        fail "$name: $elf missing (make guests)"
        return
    fi
    local vmlab_disk=() qemu_disk=()
    if [ "$guest" = disk ]; then
        fresh_image "$WORK/vmlab.img"
        fresh_image "$WORK/qemu.img"
        vmlab_disk=(--disk "$WORK/vmlab.img")
        qemu_disk=(-drive "file=$WORK/qemu.img,format=raw,if=ide,index=0")
    fi
    run_qemu "$WORK/qemu.out" "$elf" "$args" "${qemu_disk[@]}"
    if [ "$runner" = switch ]; then
        run_switch "$WORK/vmlab.out" "$WORK/vmlab.err" "${vmlab_disk[@]}" "$elf" ${args:+"$args"}
    elif [ "$runner" = schedule ]; then
        run_schedule "$WORK/vmlab.out" "$WORK/vmlab.err" "${vmlab_disk[@]}" "$elf" ${args:+-- $args}
    else
        run_vmlab "$WORK/vmlab.out" "$WORK/vmlab.err" "${vmlab_disk[@]}" "$elf" ${args:+-- $args}
    fi
    [ "$expected_status" = - ] && expected_status=$qemu_status
    local why=""
    if [ "$status" -ne "$expected_status" ]; then
        why="exit status $status, expected $expected_status (QEMU $qemu_status)"
    elif ! cmp -s "$WORK/vmlab.out" "$WORK/qemu.out"; then
        why="serial output differs from QEMU's"
    elif [ "$guest" = disk ] && ! cmp -s "$WORK/vmlab.img" "$WORK/qemu.img"; then
        why="the disk image differs from QEMU's"
    fi
    if [ -n "$why" ]; then
        why="$why: $({ diff "$WORK/qemu.out" "$WORK/vmlab.out" || true; } | grep '^>' |
            head -2 | tr '\n' '|')$({ grep -v '^vmlab: hvm[ :]' "$WORK/vmlab.err" || true; } |
            head -2 | tr '\n' '|')"
        fail_or_known "$name" "$guest" "$why"
    else
        pass "$name (status $status, $(wc -c < "$WORK/vmlab.out") bytes as QEMU)"
    fi
}

for case in "${CASES[@]}"; do
    read -r name guest args expected <<< "$case"
    compare_guest vmlab "$name" "$guest" "$args" "$expected"
done

# switch_test links against the objects `make` built (the sanitizer ones
# when testing build/vmlab-san), with the Makefile's libraries.
objects=build/obj
build_flags=(-O2)
if [[ $VMLAB == *-san ]]; then
    objects=build/san
    build_flags=(-O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined)
fi
switch_objects=$(find "$objects" -name '*.o' ! -path "$objects/core/ui/main.o" 2> /dev/null || true)
libraries=$(make --no-print-directory -s --eval='print-libs: ; @echo $(LIBS)' print-libs \
    2> /dev/null || echo -lcjson -lm)
if [ -z "$switch_objects" ] ||
    ! gcc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. "${build_flags[@]}" \
        -o "$WORK/switch_test" tests/hvm/switch_test.c $switch_objects $libraries \
        2> "$WORK/cc.err"; then
    fail "switch_test does not build: $(head -3 "$WORK/cc.err" 2> /dev/null | tr '\n' '|')"
else
    for case in "${SWITCH_CASES[@]}"; do
        read -r name guest args expected <<< "$case"
        compare_guest switch "$name" "$guest" "$args" "$expected"
    done
fi
for case in "${SCHEDULE_CASES[@]}"; do
    read -r name guest args expected <<< "$case"
    compare_guest schedule "$name" "$guest" "$args" "$expected"
done

# ---- 2. statistics -------------------------------------------------------------

# json_count FILE CATEGORY REASON: that row's count (0 if absent).
json_count() {
    jq --arg c "$2" --arg r "$3" \
        '[.counters[] | select(.category == $c and .reason == $r) | .count] | add // 0' "$1"
}

run_vmlab "$WORK/out" "$WORK/err" --stats-json "$WORK/stats.json" "$GUESTS/hello.elf"
if [ ! -s "$WORK/stats.json" ]; then
    fail "stats-json: no file written (status $status)"
else
    technique=$(jq -r .technique "$WORK/stats.json")
    io=$(json_count "$WORK/stats.json" exit io)
    com1=$(json_count "$WORK/stats.json" exit io-port-0x3f8)
    kvm_exits=$(json_count "$WORK/stats.json" kvm exits)
    kvm_rows=$(jq '[.counters[] | select(.category == "kvm")] | length' "$WORK/stats.json")
    bytes=$(wc -c < "$WORK/out")
    if [ "$technique" != hvm ]; then
        fail "stats-json: technique is '$technique'"
    elif [ "$com1" -lt "$bytes" ] || [ "$io" -lt "$com1" ]; then
        fail "stats-json: exit/io-port-0x3f8 = $com1, exit/io = $io for $bytes bytes of output"
    elif [ "$kvm_rows" -lt 1 ] || [ "$kvm_exits" -lt "$io" ]; then
        fail "stats-json: $kvm_rows kvm rows, kvm/exits = $kvm_exits (user-space exits: $io)"
    else
        pass "stats-json (exit/io-port-0x3f8 $com1, exit/io $io, kvm/exits $kvm_exits," \
            "$kvm_rows kvm rows)"
    fi
fi

# ---- 3. guests of our own ---------------------------------------------------------

build_guest() {
    gcc -m32 -c "tests/hvm/guests/$1.S" -o "$WORK/$1.o" &&
        ld -m elf_i386 --no-warn-rwx-segments -T tests/hvm/guests/flat.ld -o "$WORK/$1.elf" \
            "$WORK/$1.o"
}
build_guest spin
build_guest legacy_hole
build_guest string_io
build_guest cpuid

start=$(date +%s%N)
status=0
timeout 30 "$VMLAB" run --technique hvm --timeout 1 "$WORK/spin.elf" > /dev/null 2> "$WORK/err" ||
    status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
if [ "$status" -ne 6 ]; then
    fail "deadline: a guest that never exits, --timeout 1: status $status, expected 6"
elif [ "$elapsed_ms" -gt 3000 ]; then
    fail "deadline: --timeout 1 took $elapsed_ms ms"
else
    pass "deadline: a guest that never exits stops at --timeout 1 (status 6 after $elapsed_ms ms)"
fi

run_vmlab "$WORK/out" "$WORK/err" --stats-json "$WORK/hole.json" "$WORK/legacy_hole.elf"
mmio=$(json_count "$WORK/hole.json" exit mmio 2> /dev/null || echo 0)
if [ "$status" -ne 1 ]; then
    fail "legacy hole: status $status, expected 1 (the guest saw RAM where there is none)"
elif [ "$mmio" -ne 6 ]; then
    fail "legacy hole: $mmio MMIO exits, expected 6"
else
    pass "legacy hole and beyond RAM read all ones, writes dropped (6 MMIO exits)"
fi

run_vmlab "$WORK/out" "$WORK/err" --stats-json "$WORK/string.json" "$WORK/string_io.elf"
longest=$(jq '[.recent_events[] | select(.category == "exit") | .detail |
    capture("x(?<n>[0-9]+)$").n | tonumber] | max // 0' "$WORK/string.json" 2> /dev/null || echo 0)
if [ "$status" -ne 1 ] || [ "$(cat "$WORK/out")" != "string io ok" ]; then
    fail "string I/O: status $status, output '$(head -c 80 "$WORK/out")'"
elif [ "$longest" -lt 2 ]; then
    fail "string I/O: no exit with count > 1 in the event ring"
else
    pass "string I/O: REP INSB/OUTSB (one exit carried $longest items)"
fi

status=0
"$VMLAB" run --technique interp "$WORK/cpuid.elf" > "$WORK/cpuid.interp" 2> /dev/null ||
    status=$?
run_vmlab "$WORK/cpuid.hvm" "$WORK/err" "$WORK/cpuid.elf"
if [ "$status" -ne 1 ] || [ ! -s "$WORK/cpuid.interp" ]; then
    fail "cpuid: the guest failed under interp (status $status)"
elif ! cmp -s "$WORK/cpuid.interp" "$WORK/cpuid.hvm"; then
    fail_or_known cpuid cpuid "CPUID under hvm: $(sed -n 2p "$WORK/cpuid.hvm"), under interp: $(
        sed -n 2p "$WORK/cpuid.interp")"
else
    pass "cpuid: the guest sees the interpreter's CPU ($(sed -n 2p "$WORK/cpuid.hvm"))"
fi

# ---- 3b. a guest that ran under trapemu stays off hvm --------------------------------

# trapemu leaves stand-in selectors (guest selector | 4) in guest memory that
# the real CPU would fault on (core/cpu.h, stand_in_selectors_leaked), so a
# switch to hvm after trapemu must be refused with a "not possible:" reason,
# and the guest must finish as if nothing had been asked. Also after a detour
# through interp: the mark travels with the guest. trapemu is not in the
# sanitizer build, so this uses build/vmlab.
# expect_refused NAME GUEST ARGS...
expect_refused() {
    local name=$1 guest=$2
    shift 2
    local reference_status=0 status=0
    timeout 60 "$TRAPEMU_VMLAB" run --technique trapemu --timeout 30 "$guest" \
        > "$WORK/ref.out" 2> /dev/null < /dev/null || reference_status=$?
    timeout 60 "$TRAPEMU_VMLAB" run --timeout 30 --stats-json "$WORK/refused.json" "$@" "$guest" \
        > "$WORK/refused.out" 2> "$WORK/refused.err" < /dev/null || status=$?
    local attached
    attached=$(jq '[.counters[] | select(.category == "attach" and .reason == "hvm") | .count] |
        add // 0' "$WORK/refused.json" 2> /dev/null || echo "?")
    if [ "$status" -ne "$reference_status" ] || ! cmp -s "$WORK/ref.out" "$WORK/refused.out"; then
        fail "$name: status $status (trapemu alone: $reference_status), output" \
            "$(cmp -s "$WORK/ref.out" "$WORK/refused.out" && echo same || echo differs)"
    elif ! grep -q "cannot switch to hvm: not possible: .*stand-in selectors (guest selector | 4" \
        "$WORK/refused.err" || ! grep -q "interp can take" "$WORK/refused.err"; then
        fail "$name: no refusal on stderr: $(head -c 300 "$WORK/refused.err")"
    elif [ "$attached" != 0 ]; then
        fail "$name: hvm attached $attached times"
    else
        pass "$name (refused, same output and status $status as under trapemu alone)"
    fi
}
TRAPEMU_VMLAB=build/vmlab
if ! VMLAB=$TRAPEMU_VMLAB technique_available trapemu; then
    skip "trapemu then hvm: $technique_why"
else
    expect_refused "trapemu then hvm" "$GUESTS/timer.elf" --technique trapemu --switch hvm@50ms
    expect_refused "trapemu, interp, then hvm" "$GUESTS/timer.elf" --technique trapemu \
        --switch interp@30ms,hvm@60ms
fi

finish
