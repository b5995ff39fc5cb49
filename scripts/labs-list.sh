#!/usr/bin/env bash
# scripts/labs-list.sh - make labs: every lab, what it needs from the host,
# and whether this host has it. A lab's needs are the "# needs:" line of its
# grade.sh: host features as `vmlab host` names them (compat, kvm), or
# techniques as `vmlab techniques` names them.
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
echo "The labs (labs/README.md; the handout of each is labs/NN-topic/README.md):"
echo
for dir in labs/[0-9][0-9]-*/; do
    dir=${dir%/}
    title=$(head -n 1 "$dir/README.md" | sed 's/^# *//')
    needs=$(sed -n 's/^# needs: *//p' "$dir/grade.sh" 2>/dev/null | head -n 1)
    here=gradable
    for need in $needs; do
        case $need in
            -) ;;
            compat|kvm|ldt|seccomp) host_has "$need" || here="SKIPPED here ($need: $host_why)" ;;
            *) technique_available "$need" || here="SKIPPED here ($need: $technique_why)" ;;
        esac
    done
    printf '  %-14s %s\n' "$(basename "$dir")" "$title"
    printf '  %-14s needs: %s; on this host: %s\n' "" "${needs:--}" "$here"
done
echo
echo "  make lab-skeleton LAB=NN OUT=DIR    the student tree of lab NN"
echo "  make grade LAB=NN                   grade this tree (Score: N/M)"
echo "  make grade-all SUBMISSIONS=DIR LAB=NN   grade every tree in DIR (CSV)"
