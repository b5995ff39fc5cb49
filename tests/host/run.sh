#!/usr/bin/env bash
# tests/host/run.sh - the quick checks once more, as if this host had
# neither 32-bit compatibility mode nor KVM (VMLAB_PRETEND_HOST, core/host.c),
# so that the refusals and every suite's skip logic run on whatever host
# `make test` lands on.
#
#   tests/host/run.sh           (from anywhere; after `make`)
#
# 1. vmlab host / vmlab techniques say so, with the pretend reason;
# 2. --technique trapemu and --technique hvm: status 2, one line naming it;
# 3. --switch naming them: the guest keeps running on interp and finishes
#    as unswitched, and the refusal is printed once per technique, even
#    across a change of CPU mode (tests/host/guests/mode_change.S turns
#    paging on midway);
# 4. --switch-every picks only among techniques that can run: no refusal;
# 5. the suites' own skip logic under the same pretence (tests/lib.sh's
#    host_has and technique_available first): each exits 0,
#    fails nothing, and prints SKIP with the pretend reason (the dashboard
#    suite thereby checks keys 2 and 4: a status-line message, and the
#    guest keeps running).
# Never a death by a signal (status >= 128): asserted for every command.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh

PRETEND=no-compat,no-kvm
export VMLAB_PRETEND_HOST=$PRETEND
GUESTS=build/guests
KERNEL=$GUESTS/kernel.elf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for file in "$VMLAB" build/vmlab-san "$KERNEL" "$GUESTS/hello.elf" "$GUESTS/cpubench.elf"; do
    [ -e "$file" ] || { fail "setup: $file missing (run make)"; finish; }
done

# run NAME COMMAND...: stdout in $work/out, stderr in $work/err, $status;
# a death by a signal is a failure of its own.
run() {
    local name=$1
    shift
    status=0
    timeout 120 "$@" >"$work/out" 2>"$work/err" </dev/null || status=$?
    if [ "$status" -ge 128 ]; then
        fail "$name: died by signal $((status - 128)) (status $status)"
        return 1
    fi
}

# ---- 1. the host facts and the technique list ---------------------------------
run "vmlab host" "$VMLAB" host
for fact in compat kvm; do
    if [ "$status" = 0 ] && grep -Eq "^$fact +no .*VMLAB_PRETEND_HOST=$PRETEND" "$work/out"; then
        pass "vmlab host: $fact no, by the pretence"
    else
        fail "vmlab host should say $fact no (VMLAB_PRETEND_HOST): status $status: $(cat "$work/out")"
    fi
done
run "vmlab techniques" "$VMLAB" techniques
for technique in trapemu hvm; do
    if [ "$status" = 0 ] && grep -Eq "^$technique +unavailable .*VMLAB_PRETEND_HOST=$PRETEND" "$work/out"; then
        pass "vmlab techniques: $technique unavailable, with the pretend reason"
    else
        fail "vmlab techniques should list $technique as unavailable: $(grep "^$technique" "$work/out")"
    fi
done
if grep -Eq '^interp +available' "$work/out"; then
    pass "vmlab techniques: interp still available"
else
    fail "vmlab techniques: interp should be available: $(cat "$work/out")"
fi

# tests/lib.sh asks vmlab, so every suite's host_has and technique_available
# (the guests suite's flags-host, the switch suite's hvm half) skip the same.
for fact in compat kvm; do
    if ! host_has "$fact" && [[ $host_why == *VMLAB_PRETEND_HOST=$PRETEND* ]]; then
        pass "tests/lib.sh: host_has $fact is false, with the pretend reason"
    else
        fail "tests/lib.sh: host_has $fact should be false under the pretence ('$host_why')"
    fi
done
for technique in trapemu hvm; do
    if ! technique_available "$technique" && [[ $technique_why == *VMLAB_PRETEND_HOST=$PRETEND* ]]; then
        pass "tests/lib.sh: technique_available $technique is false, with the pretend reason"
    else
        fail "tests/lib.sh: technique_available $technique should be false ('$technique_why')"
    fi
done

# ---- 2. --technique: a clean refusal ---------------------------------------------
for technique in trapemu hvm; do
    run "--technique $technique" "$VMLAB" run --technique "$technique" "$GUESTS/hello.elf" || continue
    if [ "$status" = 2 ] && [ "$(wc -l <"$work/err")" = 1 ] && [ ! -s "$work/out" ] &&
        grep -q "^vmlab: $technique: .*VMLAB_PRETEND_HOST=$PRETEND" "$work/err"; then
        pass "--technique $technique: status 2, one line ($(cat "$work/err"))"
    else
        fail "--technique $technique: status $status (want 2), stderr: $(head -c 400 "$work/err")"
    fi
done

# ---- 3. --switch to them: refused once, the guest finishes on interp --------------
run "--switch" "$VMLAB" run --switch trapemu@0ms,hvm@0ms,trapemu@300ms,hvm@300ms --timeout 60 \
    "$KERNEL" -- test=sched
if [ "$status" = 1 ] && cmp -s tests/kernel/expected/sched.txt "$work/out"; then
    pass "--switch to trapemu and hvm: refused, the kernel finishes on interp as unswitched"
else
    fail "--switch to trapemu and hvm: status $status (want 1), transcript $(
        cmp -s tests/kernel/expected/sched.txt "$work/out" && echo same || echo differs)"
fi
# A guest that turns paging on midway (tests/host/guests/mode_change.S) is
# asked every 20 ms: the refusals fall in two CPU modes (their EIPs are in
# its two loops), yet the reason is a host fact, said once per technique.
gcc -m32 -c tests/host/guests/mode_change.S -o "$work/mode_change.o" &&
    ld -m elf_i386 --no-warn-rwx-segments -T tests/hvm/guests/flat.ld -o "$work/mode_change.elf" \
        "$work/mode_change.o" || fail "building tests/host/guests/mode_change.S"
schedule=$(for i in $(seq 0 31); do printf 'trapemu@%dms,hvm@%dms,' $((20 * i)) $((20 * i)); done)
run "--switch in two CPU modes" "$VMLAB" run --switch "${schedule%,}" --timeout 1 \
    --stats-json "$work/s.json" "$work/mode_change.elf"
loop_of() { nm "$work/mode_change.elf" | awk -v s="$1" '$3 == s { print "0x" $1 }'; }
before=$(loop_of before_paging) after=$(loop_of after_paging)
modes=$(jq -r --arg before "$before" --arg after "$after" '[.recent_events[] |
    select(.category == "switch" and .reason == "refused") | .eip |
    (ltrimstr("0x") | ascii_downcase) as $eip |
    if ("0x" + $eip) == ($after | ascii_downcase) then "paging" else "flat" end] | unique | join(",")' \
    "$work/s.json" 2>/dev/null)
if [ "$status" = 6 ] && [ "$modes" = "flat,paging" ]; then
    pass "--switch: $(grep -c 'cannot switch' "$work/err") refusal lines for refusals in both modes ($modes)"
else
    fail "--switch in two CPU modes: status $status (want 6, --timeout), refusals in modes '$modes' (want flat,paging)"
fi
for technique in trapemu hvm; do
    said=$(grep -c "^vmlab: cannot switch to $technique: .*VMLAB_PRETEND_HOST=$PRETEND.*(staying on interp)$" "$work/err")
    if [ "$said" = 1 ]; then
        pass "--switch: the refusal of $technique is printed once, with the host fact"
    else
        fail "--switch: the refusal of $technique should be printed once, not $said times: $(cat "$work/err")"
    fi
done

# ---- 4. --switch-every: only techniques that can run ---------------------------------
# Under the pretence the runnable ones are interp and whatever needs neither
# compatibility mode nor KVM (bt): every switch must stay among them.
runnable=$("$VMLAB" techniques | awk '$2 == "available" { print $1 }' | tr '\n' ' ')
only_runnable() {   # only_runnable "a->b c->d" ALLOWED...: every move among ALLOWED
    local move allowed=" ${*:2} "
    for move in $1; do
        case "$allowed" in *" ${move%%->*} "*) ;; *) return 1 ;; esac
        case "$allowed" in *" ${move##*->} "*) ;; *) return 1 ;; esac
    done
    [ -n "$1" ]
}
run "reference" "$VMLAB" run "$GUESTS/cpubench.elf" -- iters=20
cp "$work/out" "$work/reference"
reference_status=$status
for among in "" "interp,trapemu,hvm"; do
    label="--switch-every 1ms${among:+ --switch-among $among}"
    run "$label" "$VMLAB" run --switch-every 1ms ${among:+--switch-among "$among"} \
        --stats-json "$work/every.json" "$GUESTS/cpubench.elf" -- iters=20 || continue
    moves=$(jq -r '[.counters[] | select(.category == "switch" and .count > 0) | .reason] |
        join(" ")' "$work/every.json" 2>/dev/null)
    if [ -n "$among" ]; then allowed="interp"; else allowed=$runnable; fi
    if [ "$status" = "$reference_status" ] && cmp -s "$work/reference" "$work/out" &&
        only_runnable "$moves" $allowed && ! grep -q 'cannot switch' "$work/err"; then
        pass "$label: only $allowed chosen (switches: $moves), the output as unswitched"
    else
        fail "$label: status $status (want $reference_status), switches '$moves', stderr: $(head -c 300 "$work/err")"
    fi
done

# ---- 5. every suite's skip logic under the pretence ------------------------------------
# suite_skips NAME COMMAND...: exits 0, fails nothing, skips with the reason.
suite_skips() {
    local name=$1
    shift
    run "$name" env -u VMLAB_TEST_TOTALS "$@" || return
    local last
    last=$(tail -n 1 "$work/out")
    if [ "$status" = 0 ] && echo "$last" | grep -Eq '^[0-9]+ passed, 0 failed, [1-9][0-9]* skipped$' &&
        grep -q "^SKIP .*VMLAB_PRETEND_HOST=$PRETEND" "$work/out"; then
        pass "$name under the pretence: $last, SKIP with the reason"
    else
        fail "$name under the pretence: status $status, last line '$last'"
        grep -E '^(FAIL|SKIP)' "$work/out" | head -5 | sed 's/^/    /'
    fi
}
suite_skips "unit tests (test_execute_bcd)" tests/unit/run.sh build/unit/test_execute_bcd
suite_skips "the differential oracle" env DIFF_BT_COUNT=1000 DIFF_SENSITIVE_COUNT=300 tests/diff/run.sh
suite_skips "trapemu" tests/trapemu/run.sh
suite_skips "containment" tests/trapemu/containment.sh
suite_skips "hvm" tests/hvm/run.sh
suite_skips "fuzz's trapemu and hvm halves" tests/fuzz/run.sh --strict --count 2
suite_skips "the dashboard" tests/dashboard/run.sh

finish
