#!/usr/bin/env bash
# tests/trapemu/bench.sh - what a trap costs under trap-and-emulate.
#
# In one run, on this machine:
#   - the floor: a bare SIGSEGV round trip from a `cli` in compatibility
#     mode (tests/trapemu/signal_roundtrip.c, no vmlab code);
#   - the teaching kernel's microbenchmarks (labs/guests/kernel/bench.c)
#     under trapemu, hvm and interp: cycles per operation (the guest's
#     rdtsc; under trapemu and hvm that is the host TSC) and ns per trap;
#   - hidden (shadow) page faults: how many per second the handler takes,
#     from the trap/shadow-pf row of --stats-json;
#   - the CPU-bound cpubench guest: wall time under trapemu, hvm, interp.
#
#   tests/trapemu/bench.sh [ITERATIONS]     (default 5000)
set -euo pipefail
cd "$(dirname "$0")/../.."
ITERS=${1:-5000}
VMLAB=build/vmlab
KERNEL=build/guests/kernel.elf
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -x "$VMLAB" ] || make -s build/vmlab >/dev/null
[ -f "$KERNEL" ] || make -s "$KERNEL" >/dev/null

if ! "$VMLAB" techniques | grep -q '^trapemu  *available'; then
    echo "SKIP trapemu benchmarks: $("$VMLAB" techniques | grep '^trapemu')"
    exit 0
fi
available() { "$VMLAB" techniques | grep -q "^$1  *available"; }

gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$WORK/signal_roundtrip" tests/trapemu/signal_roundtrip.c
floor=$("$WORK/signal_roundtrip" 200000)
signal_ns=$(echo "$floor" | sed 's/.*ns_per_signal=\([0-9]*\).*/\1/')
tsc_per_ns=$(echo "$floor" | sed 's/.*tsc_per_ns=\([0-9.]*\).*/\1/')
echo "bare signal round trip (cli in compat mode, SIGSEGV, step over): $signal_ns ns  (TSC $tsc_per_ns GHz)"
echo

# cycles TECHNIQUE BENCH: the guest's cycles per operation, or "-".
cycles() {
    local out
    out=$(timeout 300 "$VMLAB" run --technique "$1" --timeout 240 "$KERNEL" -- "bench=$2" \
          "iters=$ITERS" 2>/dev/null | tr -d '\r' | sed -n 's/.*cycles_per_op=\([0-9]*\).*/\1/p')
    echo "${out:--}"
}

# bench name, traps per operation under trapemu (what one op costs in traps)
ROWS=(
    "cli-sti    2   cli + sti: two #GP traps"
    "in         1   in from a port: one #GP trap, one device access"
    "cr3        1   mov to cr3: one trap, and a shadow flush"
    "hlt        9   sti+hlt woken by a pending irq 4: sti (hlt in its shadow), 3 out, in, 2 mov-seg, iret, cli"
    "syscall    2   int 0x80 + iret: SIGSYS and #GP, CPL 3 -> 0 -> 3"
    "pgfault    -   a guest #PF: reflected through the emulator"
    "ptemod     -   a PTE write: write-protected page table, emulated"
    "ctxsw      -   a process switch: cr3 write, shadow rebuilt"
    "callret    0   call/ret: native, no trap"
    "pushf-popf 0   pushf/popf: native, no trap (and not virtualized)"
    "cpu        0   integer loop: native"
)
techniques=(trapemu)
available hvm && techniques+=(hvm)
techniques+=(interp)
printf "%-11s" "bench"
for t in "${techniques[@]}"; do printf "%14s" "$t cyc/op"; done
printf "%16s  %s\n" "trapemu ns/trap" "what"
for row in "${ROWS[@]}"; do
    read -r bench traps what <<<"$row"
    printf "%-11s" "$bench"
    trapemu_cycles=-
    for t in "${techniques[@]}"; do
        c=$(cycles "$t" "$bench")
        [ "$t" = trapemu ] && trapemu_cycles=$c
        printf "%14s" "$c"
    done
    per_trap=-
    if [ "$trapemu_cycles" != - ] && [ "$traps" != - ] && [ "$traps" != 0 ]; then
        per_trap=$(awk -v c="$trapemu_cycles" -v n="$traps" -v f="$tsc_per_ns" 'BEGIN { printf "%.0f", c / n / f }')
    fi
    printf "%16s  %s\n" "$per_trap" "$what"
done
echo

# Hidden page faults: the handler's rate, from its own timing.
"$VMLAB" run --technique trapemu --stats-json "$WORK/pf.json" "$KERNEL" -- bench=ctxsw \
    "iters=$ITERS" >/dev/null 2>&1 || true
python3 - "$WORK/pf.json" "$signal_ns" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
signal_ns = float(sys.argv[2])
row = next((c for c in d["counters"] if c["category"] == "trap" and c["reason"] == "shadow-pf"), None)
if row and row["count"]:
    handler = row["total_ns"] / row["count"]
    print(f"hidden page faults: {row['count']} in bench=ctxsw; handler {handler:.0f} ns each "
          f"({1e9 / handler:,.0f}/s in the handler, about {1e9 / (handler + signal_ns):,.0f}/s "
          f"with the signal round trip)")
else:
    print("hidden page faults: none counted")
PY
echo

# The CPU-bound guest: wall time.
for t in "${techniques[@]}"; do
    start=$(date +%s%N)
    "$VMLAB" run --technique "$t" build/guests/cpubench.elf -- iters=50 >/dev/null 2>&1 || true
    end=$(date +%s%N)
    printf "cpubench iters=50 under %-8s %6d ms\n" "$t" $(((end - start) / 1000000))
done
