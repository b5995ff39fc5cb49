#!/usr/bin/env bash
# tests/guests/run.sh - boot every test guest under QEMU (the reference) and
# under vmlab (build/vmlab and the sanitizer build build/vmlab-san), and
# check exit statuses and that vmlab's serial output equals QEMU's byte for
# byte.
#
#   tests/guests/run.sh                     run everything (from the repo root)
#   tests/guests/run.sh --update-expected   rewrite tests/guests/expected/*.out
#                                           from QEMU's output
#   VMLAB_BINARIES="a b" tests/guests/run.sh  test other vmlab binaries
#                                           (default: build/vmlab build/vmlab-san)
#   TECHNIQUES="interp hvm" tests/guests/run.sh  run vmlab once per technique
#                                           (default: vmlab's default technique)
#
# QEMU's own transcript is also checked against tests/guests/expected/, so a
# change in a guest's output is noticed even before vmlab runs it; and if
# QEMU is not installed vmlab is compared with those files instead. Finally
# build/guests/flags-host runs the flags cases on the host CPU itself.
#
# Exit statuses: the isa-debug-exit port turns a guest's exit code v into
# status (v << 1) | 1, so a passing guest gives 1. A triple fault makes
# vmlab exit with 4, while QEMU with -no-reboot exits with 0.
set -euo pipefail

cd "$(dirname "$0")/../.."
. tests/lib.sh
GUESTS=build/guests
EXPECTED=tests/guests/expected
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

update=false
if [[ ${1:-} == --update-expected ]]; then
    update=true
fi

# A qemu status of "-" marks a check QEMU cannot make: the guest runs only
# under vmlab and is compared with its expected transcript, whose lines are
# the guest's own SDM-derived checks (QEMU's TCG skips segment limit and
# type checks on data accesses, so exceptions limits=1 would fail there).
#
# name        guest       command line      qemu status  vmlab status
CASES=(
    "hello      hello      greeting=hi       1 1"
    "hello-exit hello      exit=5            11 11"
    "flags      flags      -                 1 1"
    "paging     paging     -                 1 1"
    "pagefault  pagefault  -                 1 1"
    "ring3      ring3      -                 1 1"
    "timer      timer      -                 1 1"
    "exceptions exceptions -                 1 1"
    "exceptions-limits exceptions limits=1   - 1"
    "triple     triple     -                 0 4"
    "cpubench   cpubench   iters=10          1 1"
    "disk       disk       -                 1 1"
    "smc        smc        -                 1 1"
)

# The bytes the disk guest writes to sectors 1-8 (see labs/guests/disk/disk.c):
# sector s holds "vmlab disk sector s\n" repeated, cut at 512 bytes.
disk_pattern() {
    local s
    for s in 1 2 3 4 5 6 7 8; do
        printf "vmlab disk sector $s\n%.0s" {1..26} | head -c 512
    done
}

# check_image LABEL IMG: sectors 1-8 hold the pattern, the rest is zero.
check_image() {
    local label=$1 img=$2
    if ! cmp -s <(disk_pattern) <(dd if="$img" bs=512 skip=1 count=8 status=none); then
        fail "$label image (sectors 1-8 do not hold the pattern)"
        od -A d -c "$img" | head -12 || true
    elif ! cmp -s <(head -c 512 /dev/zero) <(dd if="$img" bs=512 count=1 status=none) ||
         ! cmp -s <(head -c $((2048 * 512 - 9 * 512)) /dev/zero) \
                  <(dd if="$img" bs=512 skip=9 status=none); then
        fail "$label image (data outside sectors 1-8)"
    else
        pass "$label image"
    fi
}

fresh_image() {
    rm -f "$1"
    truncate -s 1M "$1"
}

# run_qemu GUEST CMDLINE OUT [IMG] -> sets $status
run_qemu() {
    local guest=$1 cmdline=$2 out=$3 img=${4:-}
    local drive=()
    if [[ -n $img ]]; then drive=(-drive "file=$img,format=raw,if=ide,index=0"); fi
    status=0
    timeout 60 qemu-system-i386 -accel tcg -m 64 -kernel "$GUESTS/$guest.elf" \
        -append "$cmdline" -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -serial stdio -display none -no-reboot "${drive[@]}" \
        < /dev/null > "$out" 2> "$out.err" || status=$?
}

# run_vmlab BINARY[@TECHNIQUE] GUEST CMDLINE OUT [IMG] -> sets $status
run_vmlab() {
    local vmlab=${1%@*} guest=$2 cmdline=$3 out=$4 img=${5:-}
    local options=(--timeout 60 --mem 64M)     # QEMU runs with -m 64
    if [[ $1 == *@* ]]; then options+=(--technique "${1#*@}"); fi
    if [[ -n $img ]]; then options+=(--disk "$img"); fi
    status=0
    # the outer timeout only guards against a vmlab that ignores --timeout
    timeout 90 "$vmlab" run "${options[@]}" "$GUESTS/$guest.elf" -- $cmdline \
        < /dev/null > "$out" 2> "$out.err" || status=$?
}

show_diff() {
    diff -u --label "$3" --label "$4" "$1" "$2" | head -20 || true
}

# On a flags mismatch the hashes say which family differs; rerun both with
# verbose=1 to show the first differing cases.
explain_flags() {
    local vmlab=$1
    echo "  rerunning flags with verbose=1 under both:"
    run_qemu flags verbose=1 "$WORK/flags-verbose.qemu"
    run_vmlab "$vmlab" flags verbose=1 "$WORK/flags-verbose.vmlab"
    diff "$WORK/flags-verbose.qemu" "$WORK/flags-verbose.vmlab" | head -20 || true
}

if [[ ! -d $GUESTS ]] || ! ls "$GUESTS"/*.elf > /dev/null 2>&1; then
    make -s guests
fi

have_qemu=true
if ! command -v qemu-system-i386 > /dev/null; then
    have_qemu=false
    skip "qemu: qemu-system-i386 not installed; comparing vmlab with $EXPECTED"
fi
vmlabs=()
for v in ${VMLAB_BINARIES:-build/vmlab build/vmlab-san}; do
    if [[ -x $v && -n ${TECHNIQUES:-} ]]; then
        for t in $TECHNIQUES; do
            vmlabs+=("$v@$t")
        done
    elif [[ -x $v ]]; then
        vmlabs+=("$v")
    else
        skip "$(basename "$v"): $v not built"
    fi
done

for line in "${CASES[@]}"; do
    read -r name guest cmdline qemu_want vmlab_want <<< "$line"
    if [[ $cmdline == - ]]; then cmdline=""; fi
    img=""
    if [[ $guest == disk ]]; then img="$WORK/disk.img"; fi
    ref="$EXPECTED/$name.out"
    ref_name=expected

    if $have_qemu && [[ $qemu_want != - ]]; then
        if [[ -n $img ]]; then fresh_image "$img"; fi
        run_qemu "$guest" "$cmdline" "$WORK/$name.qemu" "$img"
        if $update && [[ $status == "$qemu_want" ]]; then
            cp "$WORK/$name.qemu" "$ref"
        fi
        if [[ $status != "$qemu_want" ]]; then
            fail "$name qemu (exit status $status, want $qemu_want)"
            tail -5 "$WORK/$name.qemu" "$WORK/$name.qemu.err"
        elif [[ ! -f $ref ]]; then
            fail "$name qemu (no expected transcript $ref; run with --update-expected)"
        elif ! cmp -s "$ref" "$WORK/$name.qemu"; then
            fail "$name qemu (transcript differs from $ref)"
            show_diff "$ref" "$WORK/$name.qemu" expected qemu
        else
            pass "$name qemu"
        fi
        if [[ -n $img ]]; then check_image "$name qemu" "$img"; fi
        ref="$WORK/$name.qemu"
        ref_name=qemu
    fi

    for vmlab in "${vmlabs[@]}"; do
        tag=$(basename "$vmlab")        # vmlab, vmlab-san or vmlab@hvm
        out="$WORK/$name.$tag"
        if [[ -n $img ]]; then fresh_image "$img"; fi
        run_vmlab "$vmlab" "$guest" "$cmdline" "$out" "$img"
        if [[ $status != "$vmlab_want" ]]; then
            fail "$name $tag (exit status $status, want $vmlab_want)"
            tail -5 "$out.err"
            show_diff "$ref" "$out" reference "$tag"
        elif ! cmp -s "$ref" "$out"; then
            fail "$name $tag=$ref_name (serial output differs)"
            show_diff "$ref" "$out" reference "$tag"
            if [[ $guest == flags ]]; then explain_flags "$vmlab"; fi
        else
            pass "$name $tag=$ref_name"
        fi
        if [[ -n $img ]]; then check_image "$name $tag" "$img"; fi
    done
done

# The host CPU as a third reference for the flags tester: flags-host runs
# the same cases as a 32-bit Linux process (labs/guests/flags/host/host.c),
# which needs the kernel's 32-bit emulation (compatibility mode).
ref="$EXPECTED/flags.out"
if $have_qemu; then ref="$WORK/flags.qemu"; fi
if [[ ! -x $GUESTS/flags-host ]]; then
    fail "flags host-cpu: $GUESTS/flags-host not built (make guests)"
elif ! host_has compat; then
    skip "flags host-cpu: $host_why"
else
    status=0
    "$GUESTS/flags-host" > "$WORK/flags.host" 2> "$WORK/flags.host.err" || status=$?
    if [[ $status != 0 ]]; then
        fail "flags host-cpu (exit status $status, want 0)"
    elif ! cmp -s "$ref" "$WORK/flags.host"; then
        fail "flags host-cpu=qemu (the host CPU disagrees)"
        show_diff "$ref" "$WORK/flags.host" reference host-cpu
    else
        pass "flags host-cpu=qemu"
    fi
fi

finish
