#!/usr/bin/env bash
# tests/fuzz/run.sh - guest survival: vmlab must outlive any guest.
#
# The guest (tests/fuzz/random_code.{S,c}) reads seed=N from its command
# line, fills 8 KiB with pseudo-random code mixed with privileged and
# sensitive instructions, picks paging/flat, ring 0/ring 3, IF and IOPL
# from the seed, starts the PIT (IRQ 0 at vector 0x20) and jumps in; every
# IDT vector reports on COM1 and exits through port 0xf4 (for half the
# seeds only after a budget of 1-400 exceptions, each resumed a byte
# further). The guest's exit value is 0x10 + vector (0x30 for vectors >= 32).
# For each seed and technique, vmlab must end with one of its own
# statuses and its closing lines:
#   odd (the guest wrote port 0xf4; stderr must say so, with that status),
#   4 triple fault, 6 --timeout, 8 HLT with IF=0, 10 technique error;
# and never: death by a signal, a hang past --timeout (the wall-clock guard
# fires), status 2 (bad input: not expected for this valid ELF), 12, a
# sanitizer report or "internal error" on stderr, a core dump, or a file
# appearing in its working directory or in the canary directory (the
# guest tries int 0x80 / sysenter open and execve of /bin/touch on it).
#
#   tests/fuzz/run.sh                          seeds 1..60 (FUZZ_COUNT, FUZZ_SEED_FROM)
#   tests/fuzz/run.sh 200                      seeds 1..200
#   tests/fuzz/run.sh --seed-from 1000 --count 500 [--jobs J] [--techniques interp,trapemu,hvm,bt]
#                     [--batch 20] [--timeout 5] [--keep] [--strict] [--no-pinned]
#
# First, under every technique, the pinned reproducers tests/fuzz/pinned/*.S
# (minimal guests for bugs the fuzzer found; --timeout 1) must survive too.
#
# WARN lines (not failures unless --strict or FUZZ_STRICT=1): vmlab's message
# names an exit status other than the one the process ended with.
#
# interp runs under build/vmlab-san (ASan+UBSan); trapemu and hvm under the
# release build/vmlab (trapemu cannot run under ASan; hvm as in make test).
# Each pinned reproducer, failing seed and clean batch of seeds is one
# check; a technique this host cannot run is one skip, with vmlab's reason.
# Exit status: 0 if every run passed, 1 otherwise.
set -uo pipefail
{   # the whole script is read before it runs: editing it mid-campaign is safe
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
ROOT=$(pwd)

SEED_FROM=${FUZZ_SEED_FROM:-1}
COUNT=${FUZZ_COUNT:-60}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
TECHNIQUES=${FUZZ_TECHNIQUES:-interp,trapemu,hvm,bt}
BATCH=${FUZZ_BATCH:-20}
VM_TIMEOUT=${FUZZ_TIMEOUT:-5}
KEEP=0
NO_PINNED=${FUZZ_NO_PINNED:-0}
STRICT=${FUZZ_STRICT:-0}
usage() {
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-2}"
}
while [ $# -gt 0 ]; do
    case $1 in
    --seed-from) SEED_FROM=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --jobs|-j) JOBS=$2; shift 2 ;;
    --techniques) TECHNIQUES=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --timeout) VM_TIMEOUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --no-pinned) NO_PINNED=1; shift ;;
    --strict) STRICT=1; shift ;;
    -h|--help) usage 0 ;;
    [0-9]*) COUNT=$1; shift ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
for v in SEED_FROM COUNT JOBS BATCH VM_TIMEOUT; do
    case ${!v} in ''|*[!0-9]*) echo "run.sh: $v must be a number" >&2; exit 2 ;; esac
done
WALL=$((VM_TIMEOUT + 15))      # the guard: vmlab's own --timeout must fire first
SEED_TO=$((SEED_FROM + COUNT - 1))

WORK=$(mktemp -d /tmp/vmlab-fuzz.XXXXXX)
CANARY="$WORK/canary"
mkdir -p "$CANARY" "$WORK/results" "$WORK/runs" "$WORK/logs"
kept() { [ "$KEEP" = 1 ] || [ -e "$WORK/failed" ]; }
cleanup() { kept || rm -rf "$WORK"; }
trap cleanup EXIT
# Says where the evidence is, then the closing line (which must stay last).
end_run() {
    if kept; then
        echo "(kept $WORK: the guest is $WORK/random_code.elf, the logs are in $WORK/logs)"
    fi
    finish
}

# ---- build ---------------------------------------------------------------------
if [ ! -x build/vmlab ] || [ ! -x build/vmlab-san ]; then
    make -s build/vmlab build/vmlab-san >/dev/null
fi
GUEST_CFLAGS="-m32 -std=gnu11 -ffreestanding -fno-pic -fno-stack-protector -nostdlib -O2
    -Wall -Wextra -Werror -mno-sse -mno-mmx -mno-80387 -mgeneral-regs-only
    -fno-asynchronous-unwind-tables"
# shellcheck disable=SC2086 # the flags are words
gcc $GUEST_CFLAGS -c tests/fuzz/random_code.c -o "$WORK/random_code.c.o" &&
gcc -m32 -c tests/fuzz/random_code.S -o "$WORK/random_code.S.o" &&
ld -m elf_i386 -T labs/guests/lib/guest.ld -nostdlib --no-warn-rwx-segments \
    -o "$WORK/random_code.elf" "$WORK/random_code.S.o" "$WORK/random_code.c.o" ||
    { fail "building the fuzz guest"; touch "$WORK/failed"; end_run; }
GUEST="$WORK/random_code.elf"
# The pinned reproducers: the bugs the fuzzer found, as minimal guests
# (tests/fuzz/pinned/*.S, linked with the hostile guests' runtime).
PINNED=()
if [ "$NO_PINNED" = 0 ]; then
    gcc -m32 -c tests/trapemu/guests/common.S -o "$WORK/common.o" ||
        { fail "building tests/trapemu/guests/common.S"; touch "$WORK/failed"; end_run; }
    for src in tests/fuzz/pinned/*.S; do
        [ -f "$src" ] || continue
        name=$(basename "$src" .S)
        gcc -m32 -c "$src" -o "$WORK/$name.o" &&
        ld -m elf_i386 -T labs/guests/lib/guest.ld -nostdlib --no-warn-rwx-segments \
            -o "$WORK/$name.elf" "$WORK/common.o" "$WORK/$name.o" ||
            { fail "building $src"; touch "$WORK/failed"; end_run; }
        PINNED+=("$name")
    done
fi

# ---- which techniques ----------------------------------------------------------
vmlab_for() { [ "$1" = interp ] && echo "$ROOT/build/vmlab-san" || echo "$ROOT/build/vmlab"; }
RUN_TECHNIQUES=()
IFS=, read -r -a wanted <<<"$TECHNIQUES"
for t in "${wanted[@]}"; do
    if VMLAB=$(vmlab_for "$t") technique_available "$t"; then
        RUN_TECHNIQUES+=("$t")
    else
        skip "$t runs: $technique_why ($(basename "$(vmlab_for "$t")") techniques)"
    fi
done

# ---- one run -------------------------------------------------------------------
# run_one TECHNIQUE KEY GUEST [GUEST ARGS]: writes results/TECHNIQUE.KEY, fields separated by \x1f:
# status, "ok" or the problem, the guest's mode line, vmlab's last word, a warning or "none".
# Each run has its own working directory and canary directory (canary= on
# the guest's command line), both of which must stay empty.
run_one() {
    local t=$1 key=$2 guest=$3 vmlab dir log canary status problem="" warning="" said
    shift 3
    vmlab=$(vmlab_for "$t")
    dir="$WORK/runs/$t.$key"
    log="$WORK/logs/$t.$key"
    canary="$CANARY/$t.$key"
    mkdir -p "$dir" "$canary"
    status=0
    (
        cd "$dir" || exit 99
        ulimit -c unlimited 2>/dev/null     # a crash leaves a core file here (core_pattern permitting)
        exec timeout -k 5 "$WALL" "$vmlab" run --technique "$t" --timeout "$VM_TIMEOUT" \
            "$guest" -- "$@" "canary=$canary" </dev/null >"$log.out" 2>"$log.err"
    ) || status=$?
    local closing=0 err="$log.err"
    grep -q 'guest instructions in' "$err" && closing=1
    if [ "$status" = 124 ] || [ "$status" = 137 ]; then
        problem="hung: still running ${WALL}s after start although --timeout $VM_TIMEOUT"
    elif grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error|internal error' "$err"; then
        problem="$(grep -Em1 'AddressSanitizer|LeakSanitizer|runtime error|internal error' "$err")"
    elif [ "$status" -ge 128 ] && [ "$closing" = 0 ]; then
        problem="died: status $status (signal $((status - 128)), $(kill -l $((status - 128)) 2>/dev/null)) with no closing line"
    elif [ "$status" = 2 ]; then
        problem="status 2 (bad input) for a valid ELF: $(head -c 300 "$err" | tr '\n' ' ')"
    elif [ $((status % 2)) = 1 ]; then
        # "the guest wrote V to isa-debug-exit: exit status S": S must be the
        # status, except that a process status has 8 bits (V >= 128 gives
        # S > 255, and the status is S & 255: a warning, an error with --strict)
        said=$(sed -n 's/.*the guest wrote \([0-9]*\) to isa-debug-exit: exit status \([0-9]*\)$/\1 \2/p' "$err" | tail -n 1)
        if [ -z "$said" ]; then
            problem="odd status $status without vmlab's isa-debug-exit line"
        elif [ "${said#* }" != "$status" ]; then
            if [ $(((${said% *} * 2 + 1) & 255)) = "$status" ]; then
                warning="stderr says 'exit status ${said#* }' but the status is $status (the guest wrote ${said% *})"
            else
                problem="status $status but stderr says the guest wrote ${said% *}, 'exit status ${said#* }'"
            fi
        fi
    else
        case $status in
        4|6|8|10) ;;
        *) problem="undefined status $status" ;;
        esac
    fi
    if [ -n "$warning" ] && [ "$STRICT" = 1 ]; then
        problem=$warning
        warning=""
    fi
    if [ -z "$problem" ] && [ "$closing" = 0 ]; then
        problem="status $status without the closing 'guest instructions in' line"
    fi
    if [ -z "$problem" ] && [ -n "$(ls -A "$dir")" ]; then
        problem="left files in its working directory: $(ls -A "$dir" | head -5 | xargs)"
    fi
    if [ -z "$problem" ] && [ -n "$(ls -A "$canary")" ]; then
        problem="the canary directory $canary is not empty: $(ls -A "$canary" | xargs)"
    fi
    if [ -z "$problem" ] && [ -n "$(ls -A /tmp/vmlab-fuzz-canary 2>/dev/null)" ]; then
        problem="/tmp/vmlab-fuzz-canary (the guest's default canary) exists"
    fi
    # what stopped it, for the summary (status 10's diagnosis, the vector)
    local why
    why=$(grep -av 'guest instructions in' "$err" | grep -E '^vmlab: ' | tail -n 1 | cut -c1-160)
    printf '%s\x1f%s\x1f%s\x1f%s\x1f%s\n' "$status" "${problem:-ok}" "$(grep -a -m1 '^fuzz: seed' "$log.out" | cut -c21- | tr -d '\r')" "$why" \
        "${warning:-none}" >"$WORK/results/$t.$key"
    # keep the logs of a failure only; the transcript may be large
    if [ -z "$problem" ]; then
        rm -rf "$dir" "$canary" "$log.out" "$log.err"
    else
        head -c 65536 "$log.out" >"$log.out.head" && rm -f "$log.out"
        # core files are ~100 MB (the guest's RAM): kept only with --keep
        [ "$KEEP" = 1 ] || rm -f "$dir"/core*
    fi
}

# ---- the campaign --------------------------------------------------------------
echo "fuzz: seeds $SEED_FROM..$SEED_TO, techniques ${RUN_TECHNIQUES[*]:-none}, --timeout $VM_TIMEOUT, $JOBS jobs"
START=$(date +%s)
running=0
for t in "${RUN_TECHNIQUES[@]}"; do
    for name in "${PINNED[@]}"; do
        VM_TIMEOUT=1 run_one "$t" "pinned-$name" "$WORK/$name.elf" 2>>"$WORK/runner.err" &
        running=$((running + 1))
        if [ "$running" -ge "$JOBS" ]; then
            wait -n
            running=$((running - 1))
        fi
    done
done
for t in "${RUN_TECHNIQUES[@]}"; do
    for ((seed = SEED_FROM; seed <= SEED_TO; seed++)); do
        # (bash's own "Bus error" job notices go to runner.err, not the report)
        run_one "$t" "$seed" "$GUEST" "seed=$seed" 2>>"$WORK/runner.err" &
        running=$((running + 1))
        if [ "$running" -ge "$JOBS" ]; then
            wait -n
            running=$((running - 1))
        fi
    done
done
wait

warned=0
for t in "${RUN_TECHNIQUES[@]}"; do
    for name in "${PINNED[@]}"; do
        r="$WORK/results/$t.pinned-$name"
        IFS=$'\x1f' read -r status problem mode why warning <"$r" || problem="no result"
        if [ "$problem" = ok ]; then
            pass "$t pinned $name (status $status)"
        else
            fail "$t pinned $name: $problem"
            echo "    vmlab said: $(grep -av 'guest instructions in' "$WORK/logs/$t.pinned-$name.err" 2>/dev/null | tail -n 2 | tr '\n' ' ' | cut -c1-300)"
            echo "    reproduce: (cd \$(mktemp -d) && timeout $WALL $(vmlab_for "$t") run --technique $t --timeout 1 $WORK/$name.elf </dev/null); see tests/fuzz/pinned/$name.S"
        fi
    done
done
for t in "${RUN_TECHNIQUES[@]}"; do
    for ((b = SEED_FROM; b <= SEED_TO; b += BATCH)); do
        e=$((b + BATCH - 1))
        [ "$e" -gt "$SEED_TO" ] && e=$SEED_TO
        bad=0
        for ((seed = b; seed <= e; seed++)); do
            r="$WORK/results/$t.$seed"
            if [ ! -f "$r" ]; then
                fail "$t seed $seed: no result (the runner itself failed)"
                bad=$((bad + 1))
                continue
            fi
            IFS=$'\x1f' read -r status problem mode why warning <"$r"
            if [ "$warning" != none ]; then
                echo "WARN $t seed $seed ($mode): $warning"
                warned=$((warned + 1))
            fi
            if [ "$problem" != ok ]; then
                bad=$((bad + 1))
                fail "$t seed $seed ($mode): $problem"
                echo "    vmlab said: $(grep -av 'guest instructions in' "$WORK/logs/$t.$seed.err" | tail -n 2 | tr '\n' ' ' | cut -c1-300)"
                echo "    reproduce: tests/fuzz/run.sh --seed-from $seed --count 1 --techniques $t --keep"
                echo "      or, with the kept guest: (cd \$(mktemp -d) && timeout $WALL $(vmlab_for "$t") run --technique $t --timeout $VM_TIMEOUT $GUEST -- seed=$seed canary=\$(mktemp -d) </dev/null)"
            fi
        done
        statuses=$(for ((seed = b; seed <= e; seed++)); do  cut -d$'\x1f' -f1 "$WORK/results/$t.$seed" 2>/dev/null; done |
                   sort -n | uniq -c | awk '{printf "%s%s:%s", sep, $2, $1; sep=" "}')
        if [ "$bad" = 0 ]; then
            pass "$t seeds $b-$e (status:count $statuses)"
        else
            echo "     $t seeds $b-$e: $bad failed, each counted above (status:count $statuses)"
        fi
    done
done

# ---- summary ---------------------------------------------------------------------
echo "summary: seeds $SEED_FROM..$SEED_TO in $(($(date +%s) - START)) s"
for t in "${RUN_TECHNIQUES[@]}"; do
    n=$(cat "$WORK/results/$t."[0-9]* 2>/dev/null | wc -l)
    f=$(cat "$WORK/results/$t."[0-9]* 2>/dev/null | awk -F $'\x1f' '$2 != "ok"' | wc -l)
    dist=$(cat "$WORK/results/$t."[0-9]* 2>/dev/null | cut -d$'\x1f' -f1 | sort -n | uniq -c |
           awk '{printf " %s=%s", $2, $1}')
    printf '  %-8s %d runs, %d failed; status=count:%s\n' "$t" "$n" "$f" "$dist"
    # the distinct diagnoses behind status 10
    cat "$WORK/results/$t."[0-9]* 2>/dev/null | awk -F $'\x1f' '$1 == 10 { print $4 }' |
        sed -E 's/0x[0-9a-f]+/0x.../g; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -5 |
        sed 's/^/      status 10: /'
done
if [ "$failed" != 0 ]; then
    touch "$WORK/failed"
    echo "fuzz: $failed failed runs ($warned warnings)"
else
    echo "fuzz: all runs survived ($warned warnings)"
fi
end_run
}
