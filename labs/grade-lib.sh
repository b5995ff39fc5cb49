# labs/grade-lib.sh - what every lab's grade.sh shares. Source it from the
# repository root after tests/lib.sh (for host_has and technique_available):
#
#   check POINTS NAME COMMAND...   run COMMAND; PASS earns POINTS, else FAIL
#   check_skip POINTS NAME REASON  SKIP: not counted in the maximum
#   need_technique T POINTS NAME COMMAND...
#                                  check, or check_skip with vmlab's reason
#                                  when technique T cannot run here
#   grade_build TARGET...          make the targets, or stop with status 2
#   grade_finish                   "Score: N/M" and the exit status
#
# Exit statuses (labs/README.md): 0 full marks; 1 points were lost; 3 nothing
# was gradable on this host (every check skipped, M = 0) -- neither a pass
# nor a fail, so a script can tell it apart from both.
#
# A check's COMMAND prints its own diagnostics; they are indented under the
# check's line. GRADE_CSV=FILE appends "score,max,status" (for grade-all).

grade_got=0
grade_max=0
grade_skipped=0
GRADE_WORK=$(mktemp -d)
trap 'rm -rf "$GRADE_WORK"' EXIT

grade_build() {
    make -s "$@" >/dev/null || { echo "the build failed"; exit 2; }
}

check() {
    local points=$1 name=$2
    shift 2
    local out
    if out=$("$@" 2>&1); then
        printf 'PASS %-48s %2d/%d\n' "$name" "$points" "$points"
        grade_got=$((grade_got + points))
    else
        printf 'FAIL %-48s %2d/%d\n' "$name" 0 "$points"
    fi
    [ -n "$out" ] && printf '%s\n' "$out" | head -n 12 | sed 's/^/       /'
    grade_max=$((grade_max + points))
    return 0
}

check_skip() {
    printf 'SKIP %-48s  -/%d  %s\n' "$2" "$1" "$3"
    grade_skipped=$((grade_skipped + 1))
}

need_technique() {
    local technique=$1 points=$2 name=$3
    shift 3
    if technique_available "$technique"; then
        check "$points" "$name" "$@"
    else
        check_skip "$points" "$name" "$technique: $technique_why"
    fi
}

# run_guest TECHNIQUE OUTFILE ELF [ARGS...]: the guest's serial output in
# OUTFILE (vmlab's own lines go to OUTFILE.err), vmlab's exit status returned.
run_guest() {
    local technique=$1 out=$2 elf=$3
    shift 3
    local status=0 args=()
    [ $# -gt 0 ] && args=(-- "$@")
    timeout 120 "$VMLAB" run --technique "$technique" --timeout 60 \
        --stats-json "$out.json" "$elf" "${args[@]}" >"$out" 2>"$out.err" </dev/null || status=$?
    return "$status"
}

# ---- checks several labs share (each prints why it failed) -------------------

# status_is WANT GOT: vmlab's exit status.
status_is() {
    [ "$1" = "$2" ] || { echo "vmlab exit status $2, want $1 (see vmlab --help)"; return 1; }
}

# guest_transcript TECHNIQUE GUEST [ARGS...]: build/guests/GUEST.elf passes
# (status 1) and prints exactly tests/guests/expected/GUEST.out (checked
# against QEMU by tests/guests/run.sh, which gives hello "greeting=hi").
# Its files stay in $GRADE_WORK/GUEST.TECHNIQUE*.
guest_transcript() {
    local technique=$1 guest=$2 out=$GRADE_WORK/$2.$1 status=0
    shift 2
    run_guest "$technique" "$out" "build/guests/$guest.elf" "$@" || status=$?
    grep -h "not implemented (lab" "$out.err" | head -n 2
    status_is 1 "$status" || { tail -n 2 "$out.err"; return 1; }
    diff tests/guests/expected/"$guest".out "$out" | head -n 8
    cmp -s tests/guests/expected/"$guest".out "$out"
}

# kernel_scenario TECHNIQUE SCENARIO: the teaching kernel's test=SCENARIO
# passes and prints exactly tests/kernel/expected/SCENARIO.txt.
kernel_scenario() {
    local technique=$1 scenario=$2 out=$GRADE_WORK/kernel-$2.$1 status=0
    run_guest "$technique" "$out" build/guests/kernel.elf "test=$scenario" || status=$?
    grep -h "not implemented (lab" "$out.err" | head -n 2
    status_is 1 "$status" || { tail -n 2 "$out.err"; return 1; }
    diff tests/kernel/expected/"$scenario".txt "$out" | head -n 8
    cmp -s tests/kernel/expected/"$scenario".txt "$out"
}

# counted JSON CATEGORY [REASON]: the run's --stats-json counted at least one
# event of CATEGORY (and REASON).
counted() {
    local json=$1 category=$2 reason=${3:-} n
    [ -f "$json" ] || { echo "no statistics: the run before did not write $json"; return 1; }
    n=$(jq --arg c "$category" --arg r "$reason" \
        '[.counters[] | select(.category == $c and ($r == "" or .reason == $r)) | .count] | add // 0' "$json")
    echo "$category${reason:+ $reason}: $n events"
    [ "$n" -gt 0 ]
}

# counted_at_most JSON CATEGORY REASON N: at most N such events.
counted_at_most() {
    local json=$1 category=$2 reason=$3 most=$4 n
    [ -f "$json" ] || { echo "no statistics: the run before did not write $json"; return 1; }
    n=$(jq --arg c "$category" --arg r "$reason" \
        '[.counters[] | select(.category == $c and .reason == $r) | .count] | add // 0' "$json")
    echo "$category $reason: $n events (at most $most)"
    [ "$n" -le "$most" ]
}

grade_finish() {
    local status=0
    echo "Score: $grade_got/$grade_max"
    if [ "$grade_max" = 0 ]; then
        echo "nothing gradable on this host: every check was skipped ($grade_skipped); grade on a host that has what the SKIP lines name"
        status=3
    elif [ "$grade_got" != "$grade_max" ]; then
        status=1
    fi
    [ -n "${GRADE_CSV:-}" ] && echo "$grade_got,$grade_max,$status" >"$GRADE_CSV"
    exit "$status"
}
