#!/usr/bin/env bash
# labs/01-interp/grade.sh - lab 01, the interpreter (make grade LAB=01).
#
# needs: -
#
# The flags guest prints one hash per instruction family over every case it
# runs; the expected hashes (tests/guests/expected/flags.out) are the real
# CPU's, checked against QEMU and the host CPU by tests/guests/run.sh. The
# smc guest rewrites its own code three ways. Everything runs under interp,
# which every host has.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. labs/grade-lib.sh

grade_build build/vmlab build/guests/flags.elf build/guests/smc.elf

flags=$GRADE_WORK/flags.out
smc=$GRADE_WORK/smc.out
flags_status=0; run_guest interp "$flags" build/guests/flags.elf || flags_status=$?
smc_status=0;   run_guest interp "$smc" build/guests/smc.elf || smc_status=$?
grep -h "not implemented (lab" "$flags.err" "$smc.err" | sort -u

# family_hash NAME: the family's line is the real CPU's.
family_hash() {
    local want got
    want=$(grep "^$1: " tests/guests/expected/flags.out)
    got=$(grep -a "^$1: " "$flags" || true)
    [ "$got" = "$want" ] || { echo "got:  ${got:-nothing}"; echo "want: $want"; return 1; }
}

# other_families: the families this lab does not touch still agree.
other_families() {
    local lab_families='^(add|adc|sub|sbb|cmp|neg|inc|dec): '
    diff <(grep -vE "$lab_families" tests/guests/expected/flags.out) \
         <(grep -avE "$lab_families" "$flags")
}


smc_case() { grep -aq "^$1: ok$" "$smc" || { grep -a "^$1: " "$smc"; return 1; }; }

for family in add adc sub sbb cmp neg inc dec; do
    check 2 "flags: $family" family_hash "$family"
done
check 2 "flags: the other families and encodings" other_families
check 2 "flags guest passes (status 1)" status_is 1 "$flags_status"
check 3 "smc: far-patch (another page)" smc_case far-patch
check 3 "smc: opcode-patch (inc becomes dec)" smc_case opcode-patch
check 3 "smc: near-patch (the running block)" smc_case near-patch
check 1 "smc guest passes (status 1)" status_is 1 "$smc_status"
grade_finish
