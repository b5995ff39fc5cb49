#!/usr/bin/env bash
# tests/hvm/bench.sh - what one VM exit to user space costs under vmlab's hvm,
# next to the smallest possible KVM_RUN loop, measured in the same run.
#
#   tests/hvm/bench.sh                  from the repo root, after `make`
#   ITERATIONS=N ROUNDS=R tests/hvm/bench.sh
#
# The guest (tests/hvm/guests/in_loop.S) executes N `in` instructions from
# port 0x21; under KVM each is a KVM_EXIT_IO round trip guest -> KVM ->
# user space -> KVM -> guest. The same guest runs
#   - under tests/hvm/bare_kvm.c: raw ioctls, the in answered with all ones;
#   - under `vmlab run --technique hvm`: the exit goes through the bus to the
#     8259A model, is counted and timed in the statistics, and the deadline
#     timer, the interrupt check and the stop check run as always.
# Rounds alternate between the two so that drift on the host hits both; the
# median of each side is reported (and the fastest round, less disturbed by
# the host). vmlab's time per exit is its run time (--stats-json run_seconds)
# over its exit count (the N ins and the final out to isa-debug-exit); its
# own share, the time between KVM_RUN returning and the exit being handled,
# is the average of the ("exit", "io") row.
#
# Then what a live switch costs: build/guests/cpubench.elf under
# `--switch hvm@2ms,interp@4ms,...` (32 switches each way), SWITCH_ROUNDS
# times; each switch event carries its cost (core/switch.c), and the
# ("switch", "interp->hvm") and ("switch", "hvm->interp") rows' averages
# are reported (median over the rounds, and the fastest round), with
# ("attach", "hvm") and ("attach", "hvm-reuse-reset"), the part of an
# attach that makes the kept KVM VM forget its translations (kvm_setup.c).
set -euo pipefail
cd "$(dirname "$0")/../.."
VMLAB=${VMLAB:-build/vmlab}
ITERATIONS=${ITERATIONS:-200000}
ROUNDS=${ROUNDS:-5}
SWITCH_ROUNDS=${SWITCH_ROUNDS:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$VMLAB" ]; then
    echo "bench: $VMLAB does not exist: run make first" >&2
    exit 2
fi
if [[ $("$VMLAB" techniques | grep '^hvm ' || true) != *" available"* ]]; then
    echo "SKIP hvm exit and switch costs: hvm is not available here:" \
        "$("$VMLAB" techniques | grep '^hvm ' | sed 's/.* -- //' || echo 'not built')"
    exit 0
fi

gcc -m32 -c -DITERATIONS="$ITERATIONS" tests/hvm/guests/in_loop.S -o "$WORK/in_loop.o"
ld -m elf_i386 --no-warn-rwx-segments -T tests/hvm/guests/flat.ld -o "$WORK/in_loop.elf" \
    "$WORK/in_loop.o"
gcc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 tests/hvm/bare_kvm.c -o "$WORK/bare_kvm"

# Both sides on the same host CPU (the last one), so that neither gains from
# a quieter core or loses to a migration.
pin=()
if command -v taskset > /dev/null; then
    pin=(taskset -c "$(($(nproc) - 1))")
fi

exits=$((ITERATIONS + 1))
bare=()
vmlab=()
handling=()
for round in $(seq "$ROUNDS"); do
    line=$("${pin[@]}" "$WORK/bare_kvm" "$WORK/in_loop.elf")
    bare+=("$(awk '{print $(NF-3)}' <<< "$line")")
    status=0
    "${pin[@]}" "$VMLAB" run --technique hvm --stats-json "$WORK/stats.json" "$WORK/in_loop.elf" \
        > /dev/null 2> "$WORK/err" < /dev/null || status=$?
    if [ "$status" -ne 1 ]; then
        echo "bench: vmlab ended with status $status: $(cat "$WORK/err")" >&2
        exit 1
    fi
    counted=$(jq '[.counters[] | select(.category == "exit" and .reason == "io") | .count] | add' \
        "$WORK/stats.json")
    if [ "$counted" -ne "$exits" ]; then
        echo "bench: vmlab counted $counted I/O exits, expected $exits" >&2
        exit 1
    fi
    vmlab+=("$(jq --argjson n "$exits" '.run_seconds * 1e9 / $n * 10 | round / 10' \
        "$WORK/stats.json")")
    handling+=("$(jq '[.counters[] | select(.category == "exit" and .reason == "io") |
        .average_ns] | add * 10 | round / 10' "$WORK/stats.json")")
    echo "round $round: bare ${bare[-1]} ns, vmlab ${vmlab[-1]} ns per exit"
done

median() {
    printf '%s\n' "$@" | sort -g |
        awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
fastest() { printf '%s\n' "$@" | sort -g | head -1; }

bare_median=$(median "${bare[@]}")
vmlab_median=$(median "${vmlab[@]}")
awk -v b="$bare_median" -v v="$vmlab_median" -v bf="$(fastest "${bare[@]}")" \
    -v vf="$(fastest "${vmlab[@]}")" -v h="$(median "${handling[@]}")" -v n="$exits" \
    -v r="$ROUNDS" 'BEGIN {
    printf "in-exit round trip, %d exits, median of %d rounds:\n", n, r
    printf "  bare KVM_RUN loop  %9.1f ns per exit (fastest round %.1f)\n", b, bf
    printf "  vmlab hvm          %9.1f ns per exit (fastest round %.1f)\n", v, vf
    printf "  vmlab / bare       %9.3f   (%+.1f%%; target: within +10%%)\n", v / b,
        (v / b - 1) * 100
    printf "  of which vmlab handling the exit in user space (bus, statistics): %.1f ns\n", h
}'

# ---- live switches ---------------------------------------------------------------

guest=build/guests/cpubench.elf
if [ ! -f "$guest" ]; then
    echo "SKIP switch costs: $guest missing (make guests)"
    exit 0
fi
schedule=$(for i in $(seq 1 64); do
    if [ $((i % 2)) -eq 1 ]; then technique=hvm; else technique=interp; fi
    printf '%s@%dms,' "$technique" $((2 * i))
done | sed 's/,$//')
# row_us FILE CATEGORY REASON: that row's average in microseconds.
row_us() {
    jq --arg c "$2" --arg r "$3" '[.counters[] | select(.category == $c and .reason == $r) |
        .average_ns] | add // 0 | . / 100 | round / 10' "$1"
}
to_hvm=()
to_interp=()
attach=()
reset=()
for round in $(seq "$SWITCH_ROUNDS"); do
    status=0
    "$VMLAB" run --technique interp --switch "$schedule" --stats-json "$WORK/switch.json" \
        "$guest" -- iters=200 > /dev/null 2> "$WORK/err" < /dev/null || status=$?
    if [ "$status" -ne 1 ]; then
        echo "bench: the switch run ended with status $status: $(cat "$WORK/err")" >&2
        exit 1
    fi
    to_hvm+=("$(row_us "$WORK/switch.json" switch 'interp->hvm')")
    to_interp+=("$(row_us "$WORK/switch.json" switch 'hvm->interp')")
    attach+=("$(row_us "$WORK/switch.json" attach hvm)")
    reset+=("$(row_us "$WORK/switch.json" attach hvm-reuse-reset)")
    echo "switch round $round: interp->hvm ${to_hvm[-1]} us, hvm->interp ${to_interp[-1]} us"
done
awk -v th="$(median "${to_hvm[@]}")" -v ti="$(median "${to_interp[@]}")" \
    -v thf="$(fastest "${to_hvm[@]}")" -v tif="$(fastest "${to_interp[@]}")" \
    -v a="$(median "${attach[@]}")" -v z="$(median "${reset[@]}")" -v r="$SWITCH_ROUNDS" 'BEGIN {
    printf "live switch, 32 each way per round, median of %d rounds (us per switch):\n", r
    printf "  interp->hvm        %9.1f (fastest round %.1f)\n", th, thf
    printf "  hvm->interp        %9.1f (fastest round %.1f)\n", ti, tif
    printf "  round trip         %9.1f   (target: under 1000)\n", th + ti
    printf "  of which hvm attach %.1f, in it the kept VM'"'"'s reset %.1f\n", a, z
}'
