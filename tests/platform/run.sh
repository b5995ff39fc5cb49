#!/usr/bin/env bash
# tests/platform/run.sh - the PC platform (BIOS data area, MP tables, local
# APIC, I/O APIC, fw_cfg, CRT controller, two ATA drives) as the platform
# guest (labs/guests/platform) sees it: its transcript under vmlab, under
# every technique that can run here and under the sanitizer build, must
# equal qemu-system-i386's. Then the teaching kernel's scenarios in apic=1
# mode, under both.
#
#   tests/platform/run.sh                    run everything (from the repo root)
#   tests/platform/run.sh --update-expected  rewrite tests/platform/expected/*.out
#                                            from QEMU's output
#
# QEMU's transcript is checked against tests/platform/expected/ too, so a
# change in QEMU or the guest is noticed; without QEMU, vmlab is compared
# with the expected files.
set -uo pipefail
cd "$(dirname "$0")/../.." && . tests/lib.sh

GUEST=build/guests/platform.elf
EXPECTED=tests/platform/expected
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
update=false
[[ ${1:-} == --update-expected ]] && update=true

# name   command line   (every case exits with status 1: the guest passed)
CASES=(
    "bda      test=bda"
    "mptable  test=mptable"
    "lapic    test=lapic"
    "ioapic   test=ioapic"
    "fw_cfg   test=fw_cfg"
    "cga      test=cga"
    "task     test=task"
    "uart     test=uart"
    "ata      test=ata"
)

# The ata case: a master and a slave image, 1 MiB each, sector 0 starting
# with "master" or "slave"; afterwards the slave's sector 1 must hold what
# the guest wrote and the master must be untouched.
fresh_images() {
    rm -f "$WORK/master.img" "$WORK/slave.img"
    truncate -s 1M "$WORK/master.img" "$WORK/slave.img"
    printf master | dd of="$WORK/master.img" conv=notrunc status=none
    printf slave | dd of="$WORK/slave.img" conv=notrunc status=none
}

check_images() {
    local label=$1 master_sum
    master_sum=$( (printf master; head -c $((1048576 - 6)) /dev/zero) | md5sum)
    if [[ $(md5sum < "$WORK/master.img") != "$master_sum" ]]; then
        fail "$label master image (changed)"
    elif [[ $(dd if="$WORK/slave.img" bs=512 skip=1 count=1 status=none | head -c 31) != \
            "written to the slave's sector 1" ]]; then
        fail "$label slave image (sector 1 does not hold what the guest wrote)"
    else
        pass "$label images"
    fi
}

[[ -f $GUEST ]] || make -s "$GUEST"
have_qemu=true
command -v qemu-system-i386 > /dev/null || have_qemu=false
$have_qemu || skip "qemu: qemu-system-i386 not installed; comparing with $EXPECTED"

runs=()
# pv takes only a pv guest (an image with the PV note; docs/pv.md) and
# refuses these native ones at attach: tests/pv runs kernel-pv.elf.
skip "platform under pv: pv runs only pv guests, and these are native"
for t in interp trapemu hvm bt; do
    if technique_available "$t"; then
        runs+=("build/vmlab@$t")
    else
        skip "platform under $t: $technique_why"
    fi
done
if [[ -x build/vmlab-san ]]; then runs+=("build/vmlab-san@interp"); fi

# Under trapemu the guest's LAR, STR, SGDT, SIDT and PUSHF run natively and
# see the host's descriptors and flags (tests/trapemu/run.sh asserts exactly
# that for the sensitive scenario), and the task probe's far JMP to selector
# 0x30 lands in the host's 64-bit code segment: those two cannot match QEMU.
not_virtualizable_under() {   # not_virtualizable_under TECHNIQUE CASE
    [[ $1 == trapemu && ( $2 == task || $2 == sensitive ) ]]
}

for line in "${CASES[@]}"; do
    read -r name cmdline <<< "$line"
    ref=$EXPECTED/$name.out
    if $have_qemu; then
        status=0
        drives=()
        if [[ $name == ata ]]; then
            fresh_images
            drives=(-drive "file=$WORK/master.img,format=raw,if=ide,index=0"
                    -drive "file=$WORK/slave.img,format=raw,if=ide,index=1")
        fi
        timeout 60 qemu-system-i386 -accel tcg -m 64 -kernel "$GUEST" -append "$cmdline" \
            -device isa-debug-exit,iobase=0xf4,iosize=4 -serial stdio -display none \
            -no-reboot "${drives[@]}" < /dev/null > "$WORK/$name.qemu" 2> "$WORK/$name.qemu.err" \
            || status=$?
        if [[ $name == ata ]]; then check_images "$name qemu"; fi
        if [[ $status == 1 ]] && $update; then cp "$WORK/$name.qemu" "$ref"; fi
        expect_transcript "$name qemu" "$status" 1 "$ref" "$WORK/$name.qemu"
        ref=$WORK/$name.qemu
    fi
    for run in "${runs[@]}"; do
        binary=${run%@*} technique=${run#*@}
        tag="$(basename "$binary")@$technique"
        if not_virtualizable_under "$technique" "$name"; then
            skip "$name $tag: its non-virtualizable instructions run natively under trapemu"
            continue
        fi
        out=$WORK/$name.$tag
        status=0
        disks=()
        if [[ $name == ata ]]; then
            fresh_images
            disks=(--disk "$WORK/master.img" --disk "slave=$WORK/slave.img")
        fi
        timeout 90 "$binary" run --timeout 60 --mem 64M --technique "$technique" "${disks[@]}" \
            "$GUEST" -- $cmdline < /dev/null > "$out" 2> "$out.err" || status=$?
        if [[ $name == ata ]]; then check_images "$name $tag"; fi
        expect_transcript "$name $tag" "$status" 1 "$ref" "$out" "$out.err"
    done
done
# ---- the teaching kernel in apic=1 mode -------------------------------------
# Its tick from the local APIC timer, the console's IRQ 4 through the I/O
# APIC, the 8259s masked (labs/guests/kernel/apic.c). Every scenario's
# transcript must be the one it has in 8259 mode (tests/kernel/expected),
# under QEMU and under vmlab.
KERNEL=build/guests/kernel.elf
[[ -f $KERNEL ]] || make -s "$KERNEL"
kernel_stdin() {
    if [[ $1 == console ]]; then printf 'hello\nvirtual machines\nquit\n'; fi
}
kernel_disk() {
    rm -f "$1"
    truncate -s 1M "$1"
    printf 'vmlab disk image\n' | dd of="$1" conv=notrunc status=none
}
for scenario in boot syscalls sched pagefault sensitive disk console; do
    ref=tests/kernel/expected/$scenario.txt
    name="kernel-apic $scenario"
    if $have_qemu; then
        drives=()
        if [[ $scenario == disk ]]; then
            kernel_disk "$WORK/kernel.img"
            drives=(-drive "file=$WORK/kernel.img,format=raw,if=ide,index=0")
        fi
        status=0
        kernel_stdin "$scenario" | timeout 60 qemu-system-i386 -accel tcg -m 64 -kernel "$KERNEL" \
            -append "test=$scenario apic=1" -device isa-debug-exit,iobase=0xf4,iosize=4 \
            -serial stdio -display none -no-reboot -monitor none "${drives[@]}" \
            > "$WORK/kernel.qemu" 2> "$WORK/kernel.qemu.err" || status=$?
        expect_transcript "$name qemu" "$status" 1 "$ref" "$WORK/kernel.qemu"
    fi
    for run in "${runs[@]}"; do
        binary=${run%@*} technique=${run#*@}
        tag="$(basename "$binary")@$technique"
        if not_virtualizable_under "$technique" "$scenario"; then
            skip "$name $tag: its non-virtualizable instructions run natively under trapemu"
            continue
        fi
        disks=()
        if [[ $scenario == disk ]]; then
            kernel_disk "$WORK/kernel.img"
            disks=(--disk "$WORK/kernel.img")
        fi
        status=0
        kernel_stdin "$scenario" | timeout 90 "$binary" run --timeout 60 --technique "$technique" \
            "${disks[@]}" "$KERNEL" -- "test=$scenario" apic=1 > "$WORK/kernel.out" \
            2> "$WORK/kernel.err" || status=$?
        expect_transcript "$name $tag" "$status" 1 "$ref" "$WORK/kernel.out" "$WORK/kernel.err"
    done
done
finish
