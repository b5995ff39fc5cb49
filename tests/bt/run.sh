#!/usr/bin/env bash
# tests/bt/run.sh - binary translation (techniques/bt) against the QEMU
# transcripts the interp suites use.
#
#  1. every test guest under bt: status and serial output equal to
#     tests/guests/expected/NAME.out (QEMU's, checked by tests/guests/run.sh);
#  2. every teaching-kernel scenario under bt (tests/kernel/expected), the
#     disk image it writes, and each kernel benchmark's line;
#  3. live switching between interp and bt every 2 ms (--switch-every
#     2ms --switch-among interp,bt): the same transcripts, with switches
#     between the two recorded;
#  4. the statistics: bt-translate, bt-callout and shadow rows in
#     --stats-json;
#  5. the sanitizer build refuses bt with the reason (ASan's shadow memory
#     occupies the low 4 GiB bt's guest lives in);
#  6. self-modifying code (tests/bt/smc.c), faults in the middle of a
#     block with the exact EIP and registers (tests/bt/fault.c); user
#     and kernel code sharing pages across 2000 system calls while user
#     code cannot touch the kernel's (tests/bt/views.c: the supervisor
#     and user views); the inline cli/sti/pushf/popf/push sreg/mov sreg
#     at CPL 0, CPL 3 IOPL 0 and CPL 3 IOPL 3 with the interrupts they
#     let in (tests/bt/vflags.c), built here: QEMU's transcripts
#     (tests/bt/expected/) under bt and interp; the kernel's cli-sti and
#     pushf-popf benchmarks call none of their instructions out (bt-callout
#     rows in --stats-json); adaptive translation: a store that keeps
#     editing a page table (tests/bt/ptstore.c, the kernel's bench=ptemod)
#     faults a few times, then is a callout that tells the shadow
#     (bt-adaptive rows);
#  7. trapemu's hostile guests (tests/trapemu/guests: int 0x80 open/write/
#     execve, sysenter, syscall, far jumps to the host's 64-bit selector
#     0x33, trap floods, page 0, ...): under bt each one behaves exactly as
#     under interp - none of them is ever emitted as host code - and no file
#     appears on the host.
#
# bt needs only an x86-64 Linux host; where vmlab says it is unavailable,
# every check is a counted skip with the reason.
set -uo pipefail
cd "$(dirname "$0")/../.." && . tests/lib.sh

GUESTS=build/guests
KERNEL=$GUESTS/kernel.elf
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if ! technique_available bt; then
    skip "bt: $technique_why"
    finish
fi

# name guest cmdline status (as tests/guests/run.sh)
GUEST_CASES=(
    "hello      hello      greeting=hi       1"
    "hello-exit hello      exit=5            11"
    "flags      flags      -                 1"
    "paging     paging     -                 1"
    "pagefault  pagefault  -                 1"
    "ring3      ring3      -                 1"
    "timer      timer      -                 1"
    "exceptions exceptions -                 1"
    "exceptions-limits exceptions limits=1   1"
    "triple     triple     -                 4"
    "cpubench   cpubench   iters=10          1"
    "disk       disk       -                 1"
)
SCENARIOS=(boot syscalls sched pagefault sensitive disk console)
BENCHMARKS=(syscall in cr3 callret pgfault divzero ptemod cli-sti pushf-popf ctxsw cpu hlt)
CONSOLE_INPUT=$'hello\nvirtual machines\nquit\n'

new_disk() {   # FILE SIZE: a fresh image, as the other suites make it
    rm -f "$1"
    truncate -s "$2" "$1"
}

# run OUT [vmlab options...] -- GUEST [ARGS]: sets $status
run() {
    local out=$1
    shift
    status=0
    timeout 120 "$VMLAB" run --timeout 60 --mem 64M "$@" >"$out" 2>"$out.err" || status=$?
}

same() {   # LABEL EXPECTED_FILE OUT EXPECTED_STATUS (the run's status in $status)
    expect_transcript "$1" "$status" "$4" "$2" "$3" "$3.err"
}

# ---- 1. the test guests ------------------------------------------------------
for entry in "${GUEST_CASES[@]}"; do
    read -r name guest cmdline expected_status <<<"$entry"
    [ "$cmdline" = - ] && cmdline=""
    disk=()
    if [ "$guest" = disk ]; then
        new_disk "$WORK/guest.img" 1M
        disk=(--disk "$WORK/guest.img")
    fi
    # shellcheck disable=SC2086 # the guest's arguments are words
    run "$WORK/$name.out" --technique bt "${disk[@]}" "$GUESTS/$guest.elf" -- $cmdline </dev/null
    same "guest $name bt" "tests/guests/expected/$name.out" "$WORK/$name.out" "$expected_status"
done

# ---- 2. the kernel -----------------------------------------------------------
kernel_disk() {
    new_disk "$1" 1M
    printf 'vmlab disk image\n' | dd of="$1" conv=notrunc status=none
}

# What the disk scenario leaves in sectors 1-3 (as tests/kernel/run.sh).
kernel_disk_written() {
    [ "$(head -c 17 "$1")" = "vmlab disk image" ] || return 1
    local s
    for s in 1 2 3; do
        cmp -s <(dd if="$1" bs=512 skip="$s" count=1 status=none) \
               <(for _ in $(seq 30); do printf 'vmlab disk test sector %d\n' "$s"; done | head -c 512) ||
            return 1
    done
}

stdin_for() {
    [ "$1" = console ] && printf '%s' "$CONSOLE_INPUT"
    return 0
}

for name in "${SCENARIOS[@]}"; do
    disk=()
    [ "$name" = disk ] && { kernel_disk "$WORK/kernel.img"; disk=(--disk "$WORK/kernel.img"); }
    stdin_for "$name" | { run "$WORK/k-$name.out" --technique bt "${disk[@]}" "$KERNEL" -- "test=$name"
                          echo "$status" >"$WORK/k-$name.status"; }
    status=$(cat "$WORK/k-$name.status")
    same "kernel $name bt" "tests/kernel/expected/$name.txt" "$WORK/k-$name.out" 1
    if [ "$name" = disk ]; then
        if kernel_disk_written "$WORK/kernel.img"; then pass "kernel disk image bt"
        else fail "kernel disk image bt (the image does not hold the written sectors)"; fi
    fi
done

for name in "${BENCHMARKS[@]}"; do
    run "$WORK/b-$name.out" --technique bt "$KERNEL" -- "bench=$name" iters=50 </dev/null
    if [ "$status" = 1 ] && grep -Eq "^bench=$name iters=50 cycles_per_op=[0-9]+"$'\r'"?$" "$WORK/b-$name.out"; then
        pass "kernel bench $name bt"
    else
        fail "kernel bench $name bt (status $status, no bench= line)"
        sed 's/^/    /' "$WORK/b-$name.out.err" | tail -n 5
    fi
done

# ---- 3. switching interp <-> bt every 2 ms ---------------------------------------
switched() {   # LABEL EXPECTED STATUS GUEST ARGS...
    local label=$1 expected=$2 expected_status=$3
    shift 3
    local out=$WORK/switch.out
    rm -f "$WORK/switch.json"
    # It starts under bt, so even a guest that ends before the first
    # switch has run under bt.
    stdin_for "${label#* }" | { run "$out" --technique bt --switch-every 2ms \
                                    --switch-among interp,bt --stats-json "$WORK/switch.json" "$@"
                                echo "$status" >"$WORK/switch.status"; }
    status=$(cat "$WORK/switch.status")
    same "switch $label interp<->bt" "$expected" "$out" "$expected_status"
    if grep -Eq '"(interp->bt|bt->interp)"' "$WORK/switch.json" 2>/dev/null; then
        pass "switch $label: switches were recorded"
    elif [ "${label%% *}" = guest ]; then
        skip "switch $label: the guest ended before the first switch (a short test guest)"
    else
        fail "switch $label (no switch between interp and bt was recorded)"
    fi
}

switched "guest cpubench" tests/guests/expected/cpubench.out 1 "$GUESTS/cpubench.elf" -- iters=10
switched "guest pagefault" tests/guests/expected/pagefault.out 1 "$GUESTS/pagefault.elf"
switched "guest timer" tests/guests/expected/timer.out 1 "$GUESTS/timer.elf"
for name in boot syscalls sched pagefault sensitive console; do
    switched "kernel $name" "tests/kernel/expected/$name.txt" 1 "$KERNEL" -- "test=$name"
done

# ---- 4. statistics -----------------------------------------------------------------
run "$WORK/stats.out" --technique bt --stats-json "$WORK/stats.json" "$KERNEL" -- test=syscalls </dev/null
for row in '"bt-translate"' '"bt-callout"' '"shadow"' '"inject"'; do
    if grep -q "$row" "$WORK/stats.json"; then pass "stats row $row"
    else fail "stats row $row (not in --stats-json)"; fi
done

# ---- 5. the sanitizer build refuses bt -------------------------------------------------
if [ -x build/vmlab-san ]; then
    status=0
    build/vmlab-san run --technique bt "$GUESTS/hello.elf" >/dev/null 2>"$WORK/san.err" </dev/null || status=$?
    if [ "$status" = 2 ] && grep -q "AddressSanitizer" "$WORK/san.err"; then
        pass "vmlab-san refuses bt with the reason"
    else
        fail "vmlab-san and bt (status $status: $(head -c 300 "$WORK/san.err"))"
    fi
else
    skip "vmlab-san refuses bt: build/vmlab-san is not built"
fi

# ---- 6. self-modifying code, precise faults mid-block, the two views, the virtual flags ----
for name in smc fault views vflags ptstore; do
    if ! tests/bt/build-guest.sh "$name" "$WORK"; then
        fail "building tests/bt/$name.c"
        continue
    fi
    if command -v qemu-system-i386 >/dev/null; then
        status=0
        timeout 60 qemu-system-i386 -accel tcg -m 64 -kernel "$WORK/$name.elf" \
            -device isa-debug-exit,iobase=0xf4,iosize=4 -serial stdio -display none \
            -no-reboot -monitor none >"$WORK/$name.qemu" 2>"$WORK/$name.qemu.err" || status=$?
        same "$name qemu" "tests/bt/expected/$name.out" "$WORK/$name.qemu" 1
    else
        skip "$name qemu: qemu-system-i386 is not installed (vmlab is compared with the expected file)"
    fi
    for technique in interp bt; do
        run "$WORK/$name.$technique" --technique "$technique" --stats-json "$WORK/$name.json" \
            "$WORK/$name.elf" </dev/null
        same "$name $technique" "tests/bt/expected/$name.out" "$WORK/$name.$technique" 1
    done
done
invalidated=$(grep -A2 '"category":.*"bt-smc"' "$WORK/smc.json" 2>/dev/null |
              sed -n 's/.*"count":[^0-9]*\([0-9]*\).*/\1/p')
if [ "${invalidated:-0}" -gt 0 ]; then
    pass "smc bt invalidated translated pages ($invalidated bt-smc)"
else
    fail "smc bt: no bt-smc invalidation was counted"
fi
# Two views: 2000 entries to CPL 3 and not one revocation of the kernel's
# pages (the one-view shadow counts shadow/cpl3-revoke at each).
revoked=$(grep -A2 '"reason":.*"cpl3-revoke"' "$WORK/views.json" 2>/dev/null |
          sed -n 's/.*"count":[^0-9]*\([0-9]*\).*/\1/p')
if [ "${revoked:-x}" = 0 ]; then
    pass "views bt: no page revoked on entering CPL 3 (shadow/cpl3-revoke 0)"
else
    fail "views bt: shadow/cpl3-revoke is ${revoked:-missing}, want 0"
fi

# Inline, not called out: the benchmark's 20000 operations would be 20000
# callouts of each instruction; the boot has a handful (an sti with an
# interrupt pending is called out on purpose, virtual_state.c).
for bench in cli-sti pushf-popf; do
    run "$WORK/inline-$bench.out" --technique bt --stats-json "$WORK/inline-$bench.json" \
        "$KERNEL" -- "bench=$bench" iters=20000 </dev/null
    callouts=$(jq '[.counters[] | select(.category == "bt-callout" and
                     (.reason == "cli" or .reason == "sti" or .reason == "pushf" or .reason == "popf"))
                    | .count] | add // 0' "$WORK/inline-$bench.json" 2>/dev/null)
    if [ "$status" = 1 ] && [ -n "$callouts" ] && [ "$callouts" -lt 100 ]; then
        pass "bench $bench bt: $callouts cli/sti/pushf/popf callouts for 20000 operations"
    else
        fail "bench $bench bt: status $status, ${callouts:-no statistics} cli/sti/pushf/popf callouts for 20000 operations"
    fi
done

# count JSON CATEGORY REASON: the row's count (0 if absent).
count() {
    jq --arg c "$2" --arg r "$3" '[.counters[] | select(.category == $c and .reason == $r) | .count]
                                  | add // 0' "$1" 2>/dev/null
}
faults=$(count "$WORK/ptstore.json" bt-callout pt-write)
stores=$(count "$WORK/ptstore.json" bt-adaptive pt-store)
if [ "${faults:-99}" -lt 10 ] && [ "${stores:-0}" -ge 30 ]; then
    pass "ptstore bt: $faults page-table write faults, then $stores stores as adaptive callouts"
else
    fail "ptstore bt: ${faults:-?} page-table write faults and ${stores:-?} adaptive stores for 40 edits"
fi
run "$WORK/ptemod.out" --technique bt --stats-json "$WORK/ptemod.json" "$KERNEL" -- bench=ptemod iters=2000 </dev/null
faults=$(count "$WORK/ptemod.json" bt-callout pt-write)
stores=$(count "$WORK/ptemod.json" bt-adaptive pt-store)
if [ "$status" = 1 ] && [ "${faults:-99}" -lt 10 ] && [ "${stores:-0}" -ge 1990 ]; then
    pass "bench ptemod bt: $faults page-table write faults for 2000 edits ($stores adaptive stores)"
else
    fail "bench ptemod bt: status $status, ${faults:-?} page-table write faults and ${stores:-?} adaptive stores for 2000 edits"
fi

# ---- 7. hostile guests ------------------------------------------------------------------
CANARY=/tmp/vmlab-trapemu-canary          # the file the guests try to create (common.S)
mkdir -p "$WORK/hostile"
gcc -m32 -c tests/trapemu/guests/common.S -o "$WORK/hostile/common.o"
for source in tests/trapemu/guests/*.S; do
    name=$(basename "$source" .S)
    [ "$name" = common ] && continue
    gcc -m32 -c "$source" -o "$WORK/hostile/$name.o" &&
        ld -m elf_i386 -T labs/guests/lib/guest.ld -nostdlib --no-warn-rwx-segments \
            -o "$WORK/hostile/$name.elf" "$WORK/hostile/common.o" "$WORK/hostile/$name.o" ||
        { fail "hostile $name: does not build"; continue; }
    rm -f "$CANARY"
    run "$WORK/hostile/$name.interp" --technique interp --timeout 2 "$WORK/hostile/$name.elf" </dev/null
    interp_status=$status
    run "$WORK/hostile/$name.bt" --technique bt --timeout 2 "$WORK/hostile/$name.elf" </dev/null
    if [ -e "$CANARY" ]; then
        fail "hostile $name: the guest created $CANARY on the host"
    elif grep -q LEAKED "$WORK/hostile/$name.bt"; then
        fail "hostile $name: Linux ran the guest's write"
    elif ! grep -q 'guest instructions in' "$WORK/hostile/$name.bt.err"; then
        fail "hostile $name: vmlab died (status $status)"
    else
        same "hostile $name bt=interp" "$WORK/hostile/$name.interp" "$WORK/hostile/$name.bt" \
             "$interp_status"
    fi
done
rm -f "$CANARY"

finish
