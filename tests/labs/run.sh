#!/usr/bin/env bash
# tests/labs/run.sh - the labs (labs/README.md), in make test:
#   - the skeleton generator's own test (tests/labs/skeleton.sh);
#   - for every lab, `make grade-all` over two trees: this one (the staff
#     tree, the solution) and the generated student skeleton. The solution
#     grades full marks, or "nothing gradable" (status 3, no PASS or FAIL
#     line) where the host lacks what the lab needs; the skeleton builds,
#     and where gradable scores strictly less and says "not implemented".
# The skeleton reuses this tree's objects (copied with their times), so only
# the files the generator changed are compiled again.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tests/labs/skeleton.sh >"$work/skeleton.out" 2>&1
sed -n '/^\(PASS\|FAIL\|SKIP\) /p' "$work/skeleton.out" >"$work/checks"
while read -r verdict what; do
    case $verdict in PASS) pass "skeleton.sh: $what" ;; FAIL) fail "skeleton.sh: $what" ;; *) skip "skeleton.sh: $what" ;; esac
done <"$work/checks"

make -s all >/dev/null || { fail "the staff tree builds"; finish; }

if make -s labs >"$work/labs.out" 2>&1 && grep -q "^  01-interp" "$work/labs.out"; then pass "make labs lists the labs"; else fail "make labs lists nothing"; fi

for dir in labs/[0-9][0-9]-*/; do
    lab=$(basename "$dir"); lab=${lab%%-*}
    class=$work/class$lab
    mkdir -p "$class"
    ln -s "$PWD" "$class/staff"
    if ! scripts/lab-skeleton.sh "$lab" "$class/student" >/dev/null; then
        fail "lab $lab: the skeleton is generated"; continue
    fi
    if grep -q "INSTRUCTOR" "$class/student/labs/README.md" ||
       [ -n "$(find "$class/student/labs" -name 'SOLUTION*')" ] ||
       grep -rqE "LAB [0-9][0-9]: (BEGIN|STUB)" "$class/student/labs"/[0-9][0-9]-*/; then
        fail "lab $lab: the student tree holds instructor answers or solved lab material"
    else
        pass "lab $lab: the student tree has no instructor answers"
    fi
    mkdir -p "$class/student/build" && cp -a build/obj build/guests "$class/student/build/"
    # A submission that does not build is a row too, with make's status.
    mkdir -p "$class/broken" && printf 'grade:\n\t@echo "cc: error"; exit 2\n' >"$class/broken/Makefile"
    scripts/lab-grade-all.sh "$class" "$lab" >"$work/grade-all$lab.out" 2>&1
    IFS=, read -r _ s_score s_max s_status < <(grep '^staff,' "$class/grades-lab$lab.csv")
    IFS=, read -r _ k_score k_max k_status < <(grep '^student,' "$class/grades-lab$lab.csv")
    staff_log=$class/staff.lab$lab.log student_log=$class/student.lab$lab.log
    if [ "$s_status" = 0 ] && [ -n "$s_max" ] && [ "$s_score" = "$s_max" ] && [ "$s_max" -gt 0 ]; then
        pass "lab $lab: the solution grades full marks ($s_score/$s_max)"
    elif [ "$s_status" = 3 ] && [ "$s_max" = 0 ] && ! grep -qE '^(PASS|FAIL) ' "$staff_log"; then
        pass "lab $lab: the solution: nothing gradable on this host, every check skipped"
    else
        fail "lab $lab: the solution grades $s_score/$s_max (status $s_status)"; tail -n 20 "$staff_log"
    fi
    if [ "$k_status" = 2 ]; then
        fail "lab $lab: the skeleton builds and grades"; tail -n 20 "$student_log"
    elif [ "$k_status" = 3 ]; then
        pass "lab $lab: the skeleton builds (nothing gradable on this host)"
    elif [ "$k_status" = 1 ] && [ "$k_score" -lt "$k_max" ] &&
         grep -q "not implemented (lab $lab)" "$student_log"; then
        pass "lab $lab: the skeleton builds, grades less ($k_score/$k_max) and says not implemented"
    else
        fail "lab $lab: the skeleton grades $k_score/$k_max (status $k_status)"; tail -n 20 "$student_log"
    fi
    if grep -qE '^broken,0,,2$' "$class/grades-lab$lab.csv"; then
        pass "lab $lab: grade-all gives a tree that does not build a row with status 2"
    else
        fail "lab $lab: grade-all: the broken tree's row is '$(grep '^broken,' "$class/grades-lab$lab.csv")'"
    fi
done
finish
