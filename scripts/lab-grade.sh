#!/usr/bin/env bash
# scripts/lab-grade.sh NN - make grade LAB=NN: runs labs/NN-*/grade.sh.
# Exit statuses: 0 full marks, 1 points lost, 2 bad input or the build
# failed, 3 nothing gradable on this host (labs/grade-lib.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
lab=${1:-}
if ! [[ $lab =~ ^[0-9][0-9]$ ]]; then
    echo "usage: make grade LAB=NN   (make labs lists the labs)" >&2
    exit 2
fi
dir=$(ls -d labs/"$lab"-*/ 2>/dev/null | head -n 1)
if [ -z "$dir" ] || [ ! -x "$dir/grade.sh" ]; then
    echo "make grade: there is no lab $lab (make labs lists the labs)" >&2
    exit 2
fi
echo "== lab $lab: ${dir%/}"
exec "$dir/grade.sh"
