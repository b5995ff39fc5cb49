#!/usr/bin/env bash
# tests/labs/skeleton.sh - the skeleton generator's own test: the filter on
# small inputs (C and '#' files, the lab's regions and another lab's), and
# its refusals.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/in.c" <<'IN'
int f(int x)
{
    /* LAB 07: BEGIN doubling */
    return 2 * x;
    /* LAB 07: STUB
    LAB_NOT_IMPLEMENTED(7, "doubling");
    return x;
       LAB 07: END */
}
int g(void)
{
    /* LAB 08: BEGIN another lab's */
    return 8;
    /* LAB 08: STUB
    return 0;
       LAB 08: END */
}
    /* LAB 07: BEGIN */
    h();
    /* LAB 07: END */
IN
cat >"$work/want.c" <<'OUT'
int f(int x)
{
    /* LAB 07: your code here (doubling) */
    LAB_NOT_IMPLEMENTED(7, "doubling");
    return x;
}
int g(void)
{
    /* LAB 08: BEGIN another lab's */
    return 8;
    /* LAB 08: STUB
    return 0;
       LAB 08: END */
}
    /* LAB 07: your code here */
OUT
if scripts/lab-skeleton.sh --filter 07 <"$work/in.c" | diff "$work/want.c" - >"$work/diff"; then
    pass "C regions: the lab's become stubs, another lab's stay solved"
else
    fail "C regions"; cat "$work/diff"
fi

printf 'a = 1\n# LAB 07: BEGIN the answers\nq1 = yes\n# LAB 07: STUB\n#| q1 = ?\n# LAB 07: END\nz\n' >"$work/in.txt"
printf 'a = 1\n# LAB 07: your code here (the answers)\nq1 = ?\nz\n' >"$work/want.txt"
if scripts/lab-skeleton.sh --filter 07 <"$work/in.txt" | diff "$work/want.txt" - >"$work/diff"; then
    pass "'#' regions: '#| ' stub lines lose the prefix"
else
    fail "'#' regions"; cat "$work/diff"
fi

printf '/* LAB 07: BEGIN */\nx;\n' | scripts/lab-skeleton.sh --filter 07 >/dev/null 2>&1
[ $? = 3 ] && pass "a BEGIN without END is an error" || fail "a BEGIN without END is not an error"

scripts/lab-skeleton.sh 99 "$work/t" >/dev/null 2>&1
[ $? = 2 ] && [ ! -e "$work/t" ] && pass "an unknown lab is refused" || fail "an unknown lab is not refused"
mkdir "$work/full" && touch "$work/full/x"
scripts/lab-skeleton.sh 01 "$work/full" >/dev/null 2>&1
[ $? = 2 ] && pass "a non-empty OUT is refused" || fail "a non-empty OUT is not refused"
finish
