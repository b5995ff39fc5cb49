# tests/lib.sh - what every test script shares: the counters, the host
# facts, and the closing line. Source it from the repository root:
#
#   cd "$(dirname "$0")/../.." && . tests/lib.sh
#
#   pass WHAT / fail WHAT / skip WHAT: REASON      count and print one check
#   host_has compat|ldt|seccomp|kvm                true if the host has it;
#                                                  $host_why says why not
#   technique_available NAME                       true if vmlab can run NAME
#                                                  here; $technique_why says why not
#   expect_transcript LABEL STATUS WANT REF OUT [ERR]
#                                                  a run's exit STATUS is WANT and
#                                                  its output OUT is exactly REF
#   finish                                         "N passed, N failed, N skipped";
#                                                  exits 1 if anything failed
#
# A skip is printed and counted, never a pass. Under `make test`,
# VMLAB_TEST_TOTALS names a file to which finish appends this suite's counts
# (tests/totals.sh adds them up).

passed=0
failed=0
skipped=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
skip() { echo "SKIP $*"; skipped=$((skipped + 1)); }

VMLAB=${VMLAB:-build/vmlab}

# The host's answer comes from vmlab itself (core/host.c), so the tests skip
# exactly what vmlab refuses, and VMLAB_PRETEND_HOST works for both.
host_has() {
    [ -x "$VMLAB" ] || make -s "$VMLAB" >/dev/null
    local line
    line=$("$VMLAB" host | grep "^$1 " || true)
    host_why=$(echo "$line" | sed -E 's/^[a-z]+ +(yes|no) *//')
    [ -n "$line" ] && echo "$line" | grep -qE "^$1 +yes"
}

technique_available() {
    [ -x "$VMLAB" ] || make -s "$VMLAB" >/dev/null
    local line
    line=$("$VMLAB" techniques | grep "^$1 " || true)
    if [ -z "$line" ]; then
        technique_why="not listed by vmlab techniques"
    elif [[ $line == *" -- "* ]]; then
        technique_why=${line#* -- }                          # "NAME unavailable WHAT -- WHY"
    else
        technique_why=$(echo "${line#"$1"}" | sed 's/^ *//')  # "pv  not implemented yet"
    fi
    echo "$line" | grep -qE "^$1 +available"
}

expect_transcript() {
    local label=$1 status=$2 want=$3 ref=$4 out=$5 err=${6:-}
    if [ "$status" != "$want" ]; then
        fail "$label (exit status $status, want $want)"
        if [ -n "$err" ]; then tail -n 5 "$err" | sed 's/^/    /'; fi
        diff -u "$ref" "$out" | head -n 20 | sed 's/^/    /'
    elif ! cmp -s "$ref" "$out"; then
        fail "$label (transcript differs from $ref)"
        diff -u "$ref" "$out" | head -n 20 | sed 's/^/    /'
    else
        pass "$label"
    fi
}

# The teaching kernel's disk scenario (tests/kernel, tests/pv).
# A fresh disk image: sector 0 says who made it, the rest is zero.
new_disk() {
    rm -f "$1"
    truncate -s 1M "$1"
    printf 'vmlab disk image\n' | dd of="$1" conv=notrunc status=none
}

# What the disk scenario must leave in sector N: its line, repeated, cut
# at 512 bytes (user/disk.c, fill_pattern).
expected_sector() {
    for _ in $(seq 30); do printf 'vmlab disk test sector %d\n' "$1"; done | head -c 512
}

disk_holds_pattern() {
    [ "$(head -c 17 "$1")" = "vmlab disk image" ] || return 1
    for s in 1 2 3; do
        cmp -s <(dd if="$1" bs=512 skip="$s" count=1 status=none) <(expected_sector "$s") || return 1
    done
}

finish() {
    echo "$passed passed, $failed failed, $skipped skipped"
    if [ -n "${VMLAB_TEST_TOTALS:-}" ]; then
        echo "${VMLAB_SUITE:-$0} $passed $failed $skipped" >>"$VMLAB_TEST_TOTALS"
    fi
    [ "$failed" = 0 ] || exit 1
    exit 0
}
