#!/usr/bin/env bash
# make bench: guest instructions per second under the interpreter, with QEMU
# TCG timed on the same guest image in the same invocation as the reference.
#
# Start-up costs are taken out by running each engine at two iteration
# counts and using the difference: (instructions(big) - instructions(small))
# / (time(big) - time(small)). The instruction counts come from vmlab's own
# retired-instruction counter; the workload is deterministic, so QEMU runs the
# same instructions. Each measurement is the best of $REPEAT runs (these
# machines are shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/../.."
VMLAB=build/vmlab
GUEST=build/guests/cpubench.elf
SMALL=${SMALL:-20}
BIG=${BIG:-400}
REPEAT=${REPEAT:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ns() { date +%s%N; }

# vmlab_run ITERS: prints "instructions seconds" of the best run.
vmlab_run() {
    local best=""
    for _ in $(seq "$REPEAT"); do
        local start end
        start=$(now_ns)
        "$VMLAB" run --stats-json "$work/s.json" "$GUEST" -- "iters=$1" > /dev/null 2> "$work/err" ||
            [ $? -eq 1 ] || { cat "$work/err" >&2; exit 1; }
        end=$(now_ns)
        local elapsed=$((end - start))
        if [ -z "$best" ] || [ "$elapsed" -lt "$best" ]; then best=$elapsed; fi
    done
    local instructions
    instructions=$(sed -n 's/.*"guest_instructions":[[:space:]]*\([0-9.e+]*\).*/\1/p' "$work/s.json")
    echo "$instructions $best"
}

qemu_run() {
    local best=""
    for _ in $(seq "$REPEAT"); do
        local start end
        start=$(now_ns)
        timeout 300 qemu-system-i386 -accel tcg -m 64 -kernel "$GUEST" -append "iters=$1" \
            -device isa-debug-exit,iobase=0xf4,iosize=4 -serial null -display none \
            -no-reboot -monitor none > /dev/null 2>&1 || [ $? -eq 1 ] || { echo "qemu failed" >&2; exit 1; }
        end=$(now_ns)
        local elapsed=$((end - start))
        if [ -z "$best" ] || [ "$elapsed" -lt "$best" ]; then best=$elapsed; fi
    done
    echo "$best"
}

read -r small_instructions vmlab_small < <(vmlab_run "$SMALL")
read -r big_instructions vmlab_big < <(vmlab_run "$BIG")
qemu_small=$(qemu_run "$SMALL")
qemu_big=$(qemu_run "$BIG")

awk -v si="$small_instructions" -v bi="$big_instructions" \
    -v vs="$vmlab_small" -v vb="$vmlab_big" -v qs="$qemu_small" -v qb="$qemu_big" 'BEGIN {
    work = bi - si
    vmlab_mips = work / ((vb - vs) / 1e9) / 1e6
    qemu_mips = work / ((qb - qs) / 1e9) / 1e6
    printf "cpubench: %.0f guest instructions between iters small and big\n", work
    printf "interp      %8.1f million guest instructions per second\n", vmlab_mips
    printf "qemu-tcg    %8.1f million guest instructions per second (reference, same run)\n", qemu_mips
    printf "ratio       interp / qemu-tcg = %.3f\n", vmlab_mips / qemu_mips
}'
