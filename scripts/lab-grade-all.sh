#!/usr/bin/env bash
# scripts/lab-grade-all.sh DIR NN - make grade-all SUBMISSIONS=DIR LAB=NN.
#
# Every subdirectory of DIR is one student's tree (a copy of the tree
# make lab-skeleton wrote, with their work in it). Each is built and graded
# by its own `make grade` -- the grader of the tree, as the student ran it --
# JOBS at a time (default 2). Writes DIR/grades-labNN.csv, one row per tree:
#
#   submission,score,max,status
#
# status is make grade's: 0 full, 1 points lost, 2 build failed or no such
# lab, 3 nothing gradable on this host. Each tree's transcript is
# DIR/NAME.labNN.log. Exits 1 if any tree lost points or failed to build.
set -uo pipefail
if [ $# -ne 2 ] || [ ! -d "$1" ] || ! [[ $2 =~ ^[0-9][0-9]$ ]]; then
    echo "usage: make grade-all SUBMISSIONS=DIR LAB=NN [JOBS=2]" >&2
    exit 2
fi
dir=$(cd "$1" && pwd) lab=$2
csv=$dir/grades-lab$lab.csv

grade_one() {   # grade_one TREE: prints "name,score,max,status"
    local tree=$1 lab=$2 name log row status
    name=$(basename "$tree")
    log=$tree.lab$lab.log
    row=$(mktemp)
    GRADE_CSV=$row make -C "$tree" -s grade LAB="$lab" >"$log" 2>&1
    status=$?
    if [ -s "$row" ]; then
        echo "$name,$(cat "$row")"
    else
        echo "$name,0,,$status"         # no score: the build or the grader failed
    fi
    rm -f "$row"
}
export -f grade_one

trees=$(find -L "$dir" -mindepth 1 -maxdepth 1 -type d -exec test -f {}/Makefile \; -print | sort)
if [ -z "$trees" ]; then
    echo "grade-all: no trees (folders with a Makefile) in $dir" >&2
    exit 2
fi
{
    echo "submission,score,max,status"
    echo "$trees" | xargs -P "${JOBS:-2}" -I{} bash -c 'grade_one "$1" "$2"' _ {} "$lab" | sort
} >"$csv"
cat "$csv"
echo "grade-all: $(($(wc -l <"$csv") - 1)) trees graded, $csv (transcripts: $dir/*.lab$lab.log)"
! tail -n +2 "$csv" | cut -d, -f4 | grep -qvE '^(0|3)$'
