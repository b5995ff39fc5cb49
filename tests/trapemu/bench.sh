#!/usr/bin/env bash
# tests/trapemu/bench.sh - what one trap costs under trap-and-emulate.
#
# In one run, on this machine:
#   - the floor: a bare SIGSEGV round trip from a `cli` in compatibility
#     mode (tests/trapemu/signal_roundtrip.c, no vmlab code);
#   - the teaching kernel's trapping microbenchmarks under trapemu, through
#     `vmlab bench` (CPU time of the child, differenced; the traps per
#     operation from its statistics), and so the cost of one trap: ns per
#     operation over traps per operation;
#   - hidden (shadow) page faults: how many per second the handler takes,
#     from the ("trap", "shadow-pf") row of --stats-json.
#
#   tests/trapemu/bench.sh [ROUNDS]     (default 2)
#
# Where trapemu cannot run (no compatibility mode, no seccomp, the ASan
# build), it says SKIP with vmlab's reason and exits 0: `make bench` runs
# on every host.
set -euo pipefail
cd "$(dirname "$0")/../.." && . tests/lib.sh
ROUNDS=${1:-2}
KERNEL=build/guests/kernel.elf
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -x "$VMLAB" ] || make -s all >/dev/null

if ! technique_available trapemu; then
    echo "SKIP trapemu trap costs: $technique_why"
    exit 0
fi

gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$WORK/signal_roundtrip" tests/trapemu/signal_roundtrip.c
floor=$("$WORK/signal_roundtrip" 200000)
signal_ns=$(echo "$floor" | sed -n 's/.*ns_per_signal=\([0-9]*\).*/\1/p')
echo "bare signal round trip (cli in compat mode, SIGSEGV, step over): ${signal_ns:-?} ns"

"$VMLAB" bench --techniques trapemu --rounds "$ROUNDS" --format json --output "$WORK/bench.json" \
    --benchmarks cli-sti,in,cr3,hlt,syscall,divzero,pgfault,ptemod,ctxsw
echo
echo "trapemu, median of $ROUNDS rounds (ns: CPU time of the child; traps: --stats-json)"
printf "%-11s %12s %12s %12s %16s\n" bench "ns/op" "traps/op" "shadow/op" "ns per trap"
jq -r '.rows[] | select(.technique == "trapemu") |
    [.benchmark, (.ns_per_op // "-"), (.events_per_op.trap // 0), (.events_per_op.shadow // 0),
     (.why_not // "")] | @tsv' "$WORK/bench.json" |
while IFS=$'\t' read -r bench ns traps shadow why; do
    if [ -n "$why" ]; then
        printf "%-11s %s\n" "$bench" "not measured: $why"
        continue
    fi
    awk -v b="$bench" -v ns="$ns" -v t="$traps" -v s="$shadow" 'BEGIN {
        per_trap = (t >= 0.5) ? sprintf("%.0f", ns / t) : "-"
        printf "%-11s %12.0f %12.2f %12.2f %16s\n", b, ns, t, s, per_trap }'
done
echo "(a trap beside the bare signal round trip above is the emulator's own share)"
echo

# Hidden page faults: the handler's rate, from its own timing.
status=0
"$VMLAB" run --technique trapemu --stats-json "$WORK/pf.json" "$KERNEL" -- bench=ctxsw \
    iters=5000 >/dev/null 2>&1 </dev/null || status=$?
if [ "$status" != 1 ] || ! jq -e . "$WORK/pf.json" >/dev/null 2>&1; then
    echo "hidden page faults: the ctxsw run ended with status $status: not measured"
    exit 0
fi
jq -r --arg signal "${signal_ns:-0}" '
    [.counters[] | select(.category == "trap" and .reason == "shadow-pf")] as $rows |
    ($rows | map(.count) | add // 0) as $count |
    ($rows | map(.total_ns) | add // 0) as $total |
    if $count > 0 and $total > 0 then
        "hidden page faults: \($count) in bench=ctxsw; handler \($total / $count | round) ns each " +
        "(\(1e9 / ($total / $count) | round)/s in the handler, about " +
        "\(1e9 / ($total / $count + ($signal | tonumber)) | round)/s with the signal round trip)"
    else "hidden page faults: none counted" end' "$WORK/pf.json"
