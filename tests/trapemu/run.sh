#!/usr/bin/env bash
# tests/trapemu/run.sh - trap-and-emulate (techniques/trapemu, core/direct).
#
#  1. every test guest and kernel scenario under trapemu prints what it
#     prints under interp, with the same status - except the lines that are
#     not virtualizable under direct execution, asserted exactly:
#     tests/trapemu/expected/NAME.diff is `diff interp trapemu` (a guest
#     reading its CS natively, a segment load that happens to be valid on
#     the host, an SS limit), and the kernel's `sensitive` scenario must
#     report DIFFERS for exactly the instructions in SENSITIVE_DIFFERS;
#  2. live switching among interp, hvm and trapemu every 2 ms keeps the
#     transcripts identical;
#  3. hostile guests (tests/trapemu/guests/*.S) end with a diagnosis or a
#     guest-visible exception, vmlab survives, and no host file is created;
#  4. under the sanitizer build trapemu is refused with the reason.
#
#   tests/trapemu/run.sh          (from anywhere; builds what it needs)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

VMLAB=build/vmlab
KERNEL=build/guests/kernel.elf
EXPECTED=tests/trapemu/expected
CANARY=/tmp/vmlab-trapemu-canary
SENSITIVE_DIFFERS="popf push mov smsw sgdt sidt str lar lsl verr"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

[ -x "$VMLAB" ] || make -s build/vmlab >/dev/null
[ -f "$KERNEL" ] || make -s "$KERNEL" >/dev/null

# run TECHNIQUE OUT [vmlab options...] -- GUEST ARGS: sets $status.
run() {
    local technique=$1 out=$2
    shift 2
    status=0
    timeout 120 "$VMLAB" run --technique "$technique" --timeout 60 "$@" \
        >"$out" 2>"$out.err" </dev/null || status=$?
}

# ---- 4. the sanitizer build refuses, with the reason --------------------------
if [ -x build/vmlab-san ]; then
    line=$(build/vmlab-san techniques | grep '^trapemu' || true)
    if echo "$line" | grep -q 'unavailable.*AddressSanitizer'; then
        pass "vmlab-san refuses trapemu (${line#*-- })"
        skip "every trapemu run under vmlab-san: ${line#*-- }"
    else
        fail "vmlab-san should refuse trapemu under AddressSanitizer: $line"
    fi
fi

if ! technique_available trapemu; then
    skip "trapemu: $technique_why"
    finish
fi

# ---- 1. guests: trapemu against interp ----------------------------------------
#  label              guest       args
GUEST_CASES=(
    "hello             hello       greeting=hi"
    "hello-exit        hello       exit=5"
    "flags             flags       -"
    "paging            paging      -"
    "pagefault         pagefault   -"
    "ring3             ring3       -"
    "timer             timer       -"
    "exceptions        exceptions  -"
    "exceptions-limits exceptions  limits=1"
    "triple            triple      -"
    "cpubench          cpubench    iters=10"
    "disk              disk        -"
)
for case in "${GUEST_CASES[@]}"; do
    read -r label guest args <<<"$case"
    [ "$args" = - ] && args=""
    for technique in interp trapemu; do
        truncate -s 0 "$WORK/$technique.img"
        truncate -s 1M "$WORK/$technique.img"
        # shellcheck disable=SC2086 # the guest's arguments are words
        run "$technique" "$WORK/$label.$technique" --disk "$WORK/$technique.img" \
            "build/guests/$guest.elf" -- $args
        eval "status_$technique=$status"
    done
    diff "$WORK/$label.interp" "$WORK/$label.trapemu" >"$WORK/$label.diff" || true
    want=/dev/null
    [ -f "$EXPECTED/$label.diff" ] && want="$EXPECTED/$label.diff"
    if ! cmp -s "$want" "$WORK/$label.diff"; then
        fail "$label: trapemu's transcript differs from interp's other than in $want"
        diff "$want" "$WORK/$label.diff" | sed 's/^/    /' | head -20 || true
        tail -n 2 "$WORK/$label.trapemu.err" | sed 's/^/    /'
    elif [ "$want" = /dev/null ] && [ "$status_interp" != "$status_trapemu" ]; then
        fail "$label: status $status_trapemu under trapemu, $status_interp under interp"
    elif ! cmp -s "$WORK/interp.img" "$WORK/trapemu.img"; then
        fail "$label: the disk images differ"
    else
        if [ "$want" = /dev/null ]; then
            pass "$label (status $status_trapemu, same transcript as interp)"
        else
            pass "$label (status $status_trapemu; differs from interp exactly as $want)"
        fi
    fi
done

# ---- 1. kernel scenarios ---------------------------------------------------------
console_input=$'hello\nvirtual machines\nquit\n'
for scenario in boot syscalls sched pagefault disk console; do
    truncate -s 1M "$WORK/k.img"
    printf 'vmlab disk image\n' | dd of="$WORK/k.img" conv=notrunc status=none
    input=/dev/null
    if [ "$scenario" = console ]; then
        printf '%s' "$console_input" >"$WORK/input"
        input="$WORK/input"
    fi
    status=0
    timeout 120 "$VMLAB" run --technique trapemu --timeout 60 --disk "$WORK/k.img" "$KERNEL" \
        -- "test=$scenario" <"$input" >"$WORK/k.out" 2>"$WORK/k.err" || status=$?
    rm -f "$WORK/k.img"
    if [ "$status" = 1 ] && cmp -s tests/kernel/expected/$scenario.txt "$WORK/k.out"; then
        pass "kernel $scenario"
    else
        fail "kernel $scenario (status $status)"
        diff tests/kernel/expected/$scenario.txt "$WORK/k.out" | sed 's/^/    /' | head -10 || true
        tail -n 2 "$WORK/k.err" | sed 's/^/    /'
    fi
done

# sensitive: the non-virtualizable instructions must show, exactly these.
run trapemu "$WORK/sensitive" "$KERNEL" -- test=sensitive
tr -d '\r' <"$WORK/sensitive" >"$WORK/sensitive.lf"     # the kernel prints CR LF
differs=$(grep '^sensitive: [a-z]* .*DIFFERS$' "$WORK/sensitive.lf" | awk '{print $2}' | xargs || true)
as_hardware=$(grep -c 'as hardware$' "$WORK/sensitive.lf" || true)
if [ "$status" = 3 ] && [ "$differs" = "$SENSITIVE_DIFFERS" ] && [ "$as_hardware" = 1 ] &&
   grep -q '^sensitive: pushf .*as hardware$' "$WORK/sensitive.lf"; then
    pass "kernel sensitive: DIFFERS exactly for $differs (pushf with IF=1 as hardware)"
else
    fail "kernel sensitive: status $status, DIFFERS for '$differs', expected '$SENSITIVE_DIFFERS'"
    sed 's/^/    /' "$WORK/sensitive"
fi

# the interactive shell: commands ran (its echo depends on timing)
status=0
printf 'test syscalls\nps\nticks\nhalt\n' | timeout 120 "$VMLAB" run --technique trapemu \
    --timeout 60 "$KERNEL" >"$WORK/shell" 2>&1 || status=$?
if [ "$status" = 1 ] && grep -q "test syscalls: passed" "$WORK/shell" &&
   grep -Eq "[0-9]+ ticks \(100 Hz\)" "$WORK/shell"; then
    pass "kernel shell"
else
    fail "kernel shell (status $status)"
    tail -n 5 "$WORK/shell" | sed 's/^/    /'
fi

# every benchmark runs and prints its line
for bench in syscall in cr3 callret pgfault divzero ptemod cli-sti pushf-popf ctxsw cpu; do
    run trapemu "$WORK/bench" "$KERNEL" -- "bench=$bench" iters=50
    if [ "$status" = 1 ] && grep -Eq "^bench=$bench iters=50 cycles_per_op=[0-9]+" "$WORK/bench" 2>/dev/null; then
        pass "kernel bench=$bench"
    else
        fail "kernel bench=$bench (status $status)"
    fi
done

# ---- 2. live switching ---------------------------------------------------------
# The reference is an unswitched interp run.
switches_with_trapemu() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(c["count"] for c in d["counters"]
          if c["category"] == "switch" and "->" in c["reason"] and "trapemu" in c["reason"]))' "$1"
}
# (flags is left out: hvm's AAM/AAD flags differ from interp's on their own.)
for guest in hello paging pagefault timer cpubench exceptions ring3; do
    run interp "$WORK/reference" "build/guests/$guest.elf"
    reference_status=$status
    for start in interp trapemu; do
        run "$start" "$WORK/switched" --switch-every 2ms --stats-json "$WORK/switch.json" \
            "build/guests/$guest.elf"
        if [ "$start" = trapemu ] && [ -f "$EXPECTED/$guest.diff" ]; then
            continue    # a documented difference already shows before any switch
        fi
        if [ "$status" = "$reference_status" ] && cmp -s "$WORK/reference" "$WORK/switched"; then
            pass "$guest switched every 2ms from $start ($(switches_with_trapemu "$WORK/switch.json") switches to or from trapemu)"
        else
            fail "$guest switched every 2ms from $start: status $status (expected $reference_status)"
            diff "$WORK/reference" "$WORK/switched" | sed 's/^/    /' | head -5 || true
            grep -v 'cannot switch' "$WORK/switched.err" | tail -n 2 | sed 's/^/    /'
        fi
    done
done
# The kernel loads TR and saves DS/ES in its trap frames with a native
# `push %ds`: under trapemu those are stand-in selectors, which the core's
# segment loader maps back after a switch (the "leak" statistics row).
leaked_selectors() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(c["count"] for c in d["counters"] if c["category"] == "leak"))' "$1"
}
total_leaked=0
for scenario in boot syscalls sched pagefault; do
    for start in interp trapemu; do
        run "$start" "$WORK/switched" --switch-every 2ms --stats-json "$WORK/switch.json" \
            "$KERNEL" -- "test=$scenario"
        switches=$(switches_with_trapemu "$WORK/switch.json" 2>/dev/null || echo 0)
        if [ "$status" = 1 ] && cmp -s tests/kernel/expected/$scenario.txt "$WORK/switched" &&
           [ "$switches" -gt 0 ]; then
            leaked=$(leaked_selectors "$WORK/switch.json")
            total_leaked=$((total_leaked + leaked))
            pass "kernel $scenario switched every 2ms from $start ($switches switches to or from trapemu, $leaked stand-in selectors reloaded)"
        else
            fail "kernel $scenario switched every 2ms from $start (status $status, $switches switches to or from trapemu)"
            diff tests/kernel/expected/$scenario.txt "$WORK/switched" | sed 's/^/    /' | head -5 || true
            grep -v 'cannot switch' "$WORK/switched.err" | tail -n 2 | sed 's/^/    /'
        fi
    done
done
if [ "$total_leaked" -gt 0 ]; then
    pass "interp reloaded $total_leaked stand-in selectors that trapemu had left in trap frames"
else
    fail "no stand-in selector was reloaded after a switch: the leak path went untested"
fi
# Alternating interp and trapemu every 10 ms through sched: six processes
# sleep in trap frames filled under one technique and resume under the other.
alternating=$(python3 -c 'print(",".join(("interp" if i % 2 == 0 else "trapemu") + "@%dms" % (10 * (i + 1)) for i in range(64)))')
run trapemu "$WORK/switched" --switch "$alternating" --stats-json "$WORK/switch.json" \
    "$KERNEL" -- test=sched
switches=$(switches_with_trapemu "$WORK/switch.json" 2>/dev/null || echo 0)
if [ "$status" = 1 ] && cmp -s tests/kernel/expected/sched.txt "$WORK/switched" && [ "$switches" -gt 2 ]; then
    pass "kernel sched alternating trapemu and interp every 10ms ($switches switches, $(leaked_selectors "$WORK/switch.json") stand-in selectors reloaded)"
else
    fail "kernel sched alternating trapemu and interp every 10ms (status $status, $switches switches)"
    grep -v 'cannot switch' "$WORK/switched.err" | tail -n 2 | sed 's/^/    /'
fi

# ---- 3. hostile guests ---------------------------------------------------------
mkdir -p "$WORK/hostile"
gcc -m32 -c tests/trapemu/guests/common.S -o "$WORK/hostile/common.o"
build_hostile() {
    gcc -m32 -c "tests/trapemu/guests/$1.S" -o "$WORK/hostile/$1.o"
    ld -m elf_i386 -T labs/guests/lib/guest.ld -nostdlib --no-warn-rwx-segments \
        -o "$WORK/hostile/$1.elf" "$WORK/hostile/common.o" "$WORK/hostile/$1.o"
}

# name               trapemu status  what must hold
HOSTILE=(
    "int80_write       same  guest vector 0x80, nothing written by Linux"
    "int80_open        same  guest vector 0x80, no file created"
    "int80_execve      same  guest vector 0x80, nothing executed"
    "sysenter_open     same  guest #GP(0): SYSENTER_CS is 0"
    "syscall_open      10    compat SYSCALL: stopped, no file created"
    "far33             10    left compatibility mode: stopped, no file created"
    "far33_spin        10    64-bit spin: the deadline timer takes the CPU back"
    "trap_flood        same  a trap flood still times out (status 6)"
    "user_reads_kernel same  guest #PF error 5: user cannot read kernel memory"
    "page0_top         same  page 0 and 0xfffff000 hold what the guest wrote"
    "ptloop            same  a PTE edit through a self-mapped directory takes effect"
)
for case in "${HOSTILE[@]}"; do
    read -r name expect what <<<"$case"
    build_hostile "$name"
    rm -f "$CANARY"
    run interp "$WORK/hostile/$name.interp" --timeout 2 "$WORK/hostile/$name.elf"
    interp_status=$status
    run trapemu "$WORK/hostile/$name.trapemu" --timeout 2 "$WORK/hostile/$name.elf"
    problem=""
    [ -e "$CANARY" ] && problem="the guest created $CANARY on the host"
    grep -q LEAKED "$WORK/hostile/$name.trapemu" && problem="Linux ran the guest's write"
    # vmlab survived if it ended with its own closing line
    grep -q 'guest instructions in' "$WORK/hostile/$name.trapemu.err" ||
        problem="vmlab died (status $status)"
    if [ -z "$problem" ]; then
        if [ "$expect" = same ]; then
            if [ "$status" != "$interp_status" ] ||
               ! cmp -s "$WORK/hostile/$name.interp" "$WORK/hostile/$name.trapemu"; then
                problem="status $status and transcript differ from interp's ($interp_status)"
            fi
        elif [ "$status" != "$expect" ]; then
            problem="status $status, expected $expect"
        elif ! grep -q 'trapemu: .*\(left 32-bit compatibility mode\|system call\)' \
                "$WORK/hostile/$name.trapemu.err"; then
            problem="no diagnosis on stderr"
        fi
    fi
    if [ -z "$problem" ]; then
        pass "hostile $name: $what (status $status)"
    else
        fail "hostile $name: $problem"
        sed 's/^/    /' "$WORK/hostile/$name.trapemu" "$WORK/hostile/$name.trapemu.err" | head -6
    fi
done
rm -f "$CANARY"

finish
