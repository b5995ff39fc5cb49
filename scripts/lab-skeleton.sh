#!/usr/bin/env bash
# scripts/lab-skeleton.sh - write the student tree of one lab.
#
#   scripts/lab-skeleton.sh NN OUT       (make lab-skeleton LAB=NN OUT=DIR)
#   scripts/lab-skeleton.sh --filter NN  one file, stdin to stdout (for the test)
#
# The tree is every file git tracks in this repository (with the working
# tree's contents), so the student builds the real VMM. In it, each solution
# region of lab NN,
#
#     /* LAB NN: BEGIN what the region does */
#     ... the solution ...
#     /* LAB NN: STUB
#     ... code that compiles and says "not implemented (lab NN)" ...
#        LAB NN: END */
#
# becomes "/* LAB NN: your code here (what the region does) */" followed by
# the stub's lines. In a file commented with '#', stub lines start with "#| "
# and lose that prefix. A region with no STUB part becomes the comment
# alone. The markers of other labs are left as they are: their STUB part sits
# inside a comment, so those regions stay solved.
#
# What the student must not get: labs/README.md keeps only what lies outside
# its "INSTRUCTOR: BEGIN" / "INSTRUCTOR: END" lines (the answers), and a file
# named labs/*/SOLUTION* is left out, and the regions in labs/NN-topic/
# (answers files) become stubs whichever lab the tree is for. Regions are looked for in core/,
# techniques/ and labs/ only (the scripts and tests mention the markers).
set -euo pipefail

filter() {
    local lab=$1
    awk -v lab="$lab" '
        BEGIN { tag = "LAB " lab ":"; state = "copy" }
        state == "copy" && index($0, tag " BEGIN") {
            what = $0
            sub(".*" tag " BEGIN *", "", what)
            sub(" *\\*/ *$", "", what)
            indent = $0; sub("[^ \t].*$", "", indent)
            lead = $0; sub("^[ \t]*", "", lead)
            if (substr(lead, 1, 1) == "#")
                print indent "# LAB " lab ": your code here" (what != "" ? " (" what ")" : "")
            else
                print indent "/* LAB " lab ": your code here" (what != "" ? " (" what ")" : "") " */"
            state = "solution"; next
        }
        state == "solution" && index($0, tag " STUB") { state = "stub"; next }
        state != "copy" && index($0, tag " END") { state = "copy"; next }
        state == "stub" { line = $0; sub("^#\\| ?", "", line); sub("^([ \t]*)#\\| ?", "\\1", line); print line; next }
        state == "solution" { next }
        { print }
        END { if (state != "copy") { print "lab-skeleton: LAB " lab ": BEGIN without END" > "/dev/stderr"; exit 3 } }
    '
}

if [ "${1:-}" = --filter ]; then
    filter "$2"
    exit
fi

if [ $# -ne 2 ] || ! [[ $1 =~ ^[0-9][0-9]$ ]]; then
    echo "usage: $0 NN OUT   (NN: the lab's two digits, e.g. 01)" >&2
    exit 2
fi
lab=$1 out=$2
cd "$(dirname "$0")/.."
if ! ls -d labs/"$lab"-*/ >/dev/null 2>&1; then
    echo "lab-skeleton: there is no lab $lab (make labs lists them)" >&2
    exit 2
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
    echo "lab-skeleton: $out exists and is not empty" >&2
    exit 2
fi
mkdir -p "$out"

# Every file as it is, then the lab's files filtered over their copies.
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [ -f "$file" ] && printf '%s\0' "$file"; done |
    xargs -0 cp -p --parents -t "$out"
rm -f "$out"/labs/*/SOLUTION*
if [ -f labs/README.md ]; then
    sed '/INSTRUCTOR: BEGIN/,/INSTRUCTOR: END/d' labs/README.md >"$out/labs/README.md"
fi
regions=0
while IFS= read -r file; do
    [ -f "$file" ] || continue
    filter "$lab" <"$file" >"$out/$file"
    regions=$((regions + $(grep -c "LAB $lab: BEGIN" "$file")))
done < <(grep -rlF "LAB $lab: BEGIN" core techniques labs | grep -v "^labs/README.md$" | sort)
# A lab's own material (lab 07's answers file) is every student's to write:
# whatever the lab, the regions under labs/NN-topic/ become their stubs.
while IFS= read -r file; do
    own=${file#labs/}; own=${own%%-*}
    [ "$own" = "$lab" ] && continue
    filter "$own" <"$file" >"$out/$file"
done < <(grep -rlE "LAB [0-9][0-9]: BEGIN" labs/[0-9][0-9]-*/ 2>/dev/null | sort)

echo "lab-skeleton: lab $lab written to $out ($regions regions to fill in)"
