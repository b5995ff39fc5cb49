#!/usr/bin/env bash
# tests/kernel/run.sh - the teaching kernel (labs/guests/kernel) under QEMU
# and under vmlab.
#
# Every scenario runs under qemu-system-i386 -kernel; its transcript must
# equal tests/kernel/expected/NAME.txt (a QEMU run checked by reading) and
# its exit status must be 1 (the guest wrote 0 to isa-debug-exit). Then it
# runs under build/vmlab and build/vmlab-san, whose transcript and status
# must equal QEMU's byte for byte. Every benchmark runs once with a small
# iteration count and must print its one machine-readable line.
#
#   tests/kernel/run.sh                    run the tests (from the repo root)
#   tests/kernel/run.sh --update-expected  rewrite expected/ from QEMU runs
#                                          (read the diff before committing!)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

KERNEL=build/guests/kernel.elf
EXPECTED=tests/kernel/expected
SCENARIOS=(boot syscalls sched pagefault sensitive disk console)
BENCHMARKS=(syscall in cr3 callret pgfault divzero ptemod cli-sti pushf-popf ctxsw cpu hlt)
BENCH_ITERS=50
CONSOLE_INPUT=$'hello\nvirtual machines\nquit\n'
SHELL_INPUT=$'test syscalls\nps\nticks\nhalt\n'
UPDATE=no
[ "${1:-}" = "--update-expected" ] && UPDATE=yes

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ! -f "$KERNEL" ]; then
    make -s "$KERNEL" >/dev/null
fi

# What is typed on the console during a run, by guest command line: lines
# for the console scenario, commands for the shell (no command line).
stdin_for() {
    case "$1" in
    test=console) printf '%s' "$CONSOLE_INPUT" ;;
    "") printf '%s' "$SHELL_INPUT" ;;
    esac
}

# run_qemu OUT DISK ARGS: sets $status. Empty ARGS: the shell.
run_qemu() {
    local out=$1 disk=$2 args=$3 drive=()
    [ -n "$disk" ] && drive=(-drive "file=$disk,format=raw,if=ide,index=0")
    status=0
    stdin_for "$args" | timeout 60 qemu-system-i386 -accel tcg -m 64 -kernel "$KERNEL" \
        -append "$args" -device isa-debug-exit,iobase=0xf4,iosize=4 -serial stdio \
        -display none -no-reboot -monitor none "${drive[@]}" >"$out" 2>"$out.err" || status=$?
}

# run_vmlab VMLAB OUT DISK ARGS: sets $status.
run_vmlab() {
    local vmlab=$1 out=$2 disk=$3 args=$4 drive=()
    [ -n "$disk" ] && drive=(--disk "$disk")
    status=0
    # shellcheck disable=SC2086 # the guest's arguments are words
    stdin_for "$args" | timeout 90 "$vmlab" run --timeout 60 "${drive[@]}" "$KERNEL" \
        -- $args >"$out" 2>"$out.err" || status=$?
}

# The vmlab builds that exist; the others are reported as skipped.
VMLABS=()
for v in build/vmlab build/vmlab-san; do
    if [ -x "$v" ]; then
        VMLABS+=("$v")
    else
        skip "vmlab: $v is not built (only the QEMU half runs)"
    fi
done

# ---- scenarios -------------------------------------------------------------
for name in "${SCENARIOS[@]}"; do
    disk=""
    [ "$name" = disk ] && { disk="$WORK/qemu.img"; new_disk "$disk"; }
    qemu_out="$WORK/$name.qemu"
    run_qemu "$qemu_out" "$disk" "test=$name"
    qemu_status=$status
    if [ "$UPDATE" = yes ] && [ "$qemu_status" = 1 ]; then
        cp "$qemu_out" "$EXPECTED/$name.txt"
    fi
    if [ "$qemu_status" != 1 ]; then
        fail "$name qemu (exit status $qemu_status, expected 1)"
        sed 's/^/    /' "$qemu_out" "$qemu_out.err" | tail -n 20
    elif [ ! -f "$EXPECTED/$name.txt" ]; then
        fail "$name qemu (no $EXPECTED/$name.txt; see --update-expected)"
    elif ! cmp -s "$EXPECTED/$name.txt" "$qemu_out"; then
        fail "$name qemu (transcript differs from $EXPECTED/$name.txt)"
        diff "$EXPECTED/$name.txt" "$qemu_out" | sed 's/^/    /' | head -n 20 || true
    else
        pass "$name qemu"
    fi
    if [ -n "$disk" ]; then
        if disk_holds_pattern "$disk"; then pass "$name image qemu"
        else fail "$name image qemu (the image does not hold the written sectors)"; fi
    fi

    for vmlab in "${VMLABS[@]}"; do
        label=$(basename "$vmlab")
        [ -n "$disk" ] && { disk="$WORK/$label.img"; new_disk "$disk"; }
        out="$WORK/$name.$label"
        run_vmlab "$vmlab" "$out" "$disk" "test=$name"
        if [ "$status" != "$qemu_status" ]; then
            fail "$name $label (exit status $status, QEMU's $qemu_status)"
            sed 's/^/    /' "$out" "$out.err" | tail -n 20
        elif ! cmp -s "$qemu_out" "$out"; then
            fail "$name $label (transcript differs from QEMU's)"
            diff "$qemu_out" "$out" | sed 's/^/    /' | head -n 20 || true
        else
            pass "$name $label"
        fi
        if [ -n "$disk" ]; then
            if disk_holds_pattern "$disk"; then pass "$name image $label"
            else fail "$name image $label (the image does not hold the written sectors)"; fi
        fi
    done
done

# ---- the shell: it echoes typed input as it arrives, so its transcript
# depends on timing; check only that the commands ran --------------------
shell_ok() {   # FILE STATUS
    [ "$2" = 1 ] && grep -q "test syscalls: passed" "$1" && grep -Eq "1 +exited +calls" "$1" &&
        grep -Eq "[0-9]+ ticks \(100 Hz\)" "$1"
}
out="$WORK/shell.qemu"
run_qemu "$out" "" ""
if shell_ok "$out" "$status"; then pass "shell qemu"
else fail "shell qemu (status $status)"; sed 's/^/    /' "$out" | tail -n 10; fi
for vmlab in "${VMLABS[@]}"; do
    label=$(basename "$vmlab")
    out="$WORK/shell.$label"
    run_vmlab "$vmlab" "$out" "" ""
    if shell_ok "$out" "$status"; then pass "shell $label"
    else fail "shell $label (status $status)"; sed 's/^/    /' "$out" "$out.err" | tail -n 10; fi
done

# ---- benchmarks (smoke test: the line is there, the run succeeded) --------
bench_ok() {   # FILE NAME STATUS
    [ "$3" = 1 ] && grep -Eq "^bench=$2 iters=$BENCH_ITERS cycles_per_op=[0-9]+"$'\r'"?$" "$1"
}

for name in "${BENCHMARKS[@]}"; do
    out="$WORK/bench-$name.qemu"
    run_qemu "$out" "" "bench=$name iters=$BENCH_ITERS"
    if bench_ok "$out" "$name" "$status"; then pass "bench $name qemu"
    else fail "bench $name qemu (status $status, no bench= line)"; sed 's/^/    /' "$out" | tail -n 5; fi
    for vmlab in "${VMLABS[@]}"; do
        label=$(basename "$vmlab")
        out="$WORK/bench-$name.$label"
        run_vmlab "$vmlab" "$out" "" "bench=$name iters=$BENCH_ITERS"
        if bench_ok "$out" "$name" "$status"; then pass "bench $name $label"
        else fail "bench $name $label (status $status, no bench= line)"; sed 's/^/    /' "$out" "$out.err" | tail -n 5; fi
    done
done

finish
