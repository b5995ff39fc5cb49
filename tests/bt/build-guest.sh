#!/usr/bin/env bash
# tests/bt/build-guest.sh NAME DIR - build the test guest tests/bt/NAME.c
# into DIR/NAME.elf, with the flags and library labs/guests/guests.mk uses
# for the guests in labs/guests/ (used by tests/bt/run.sh and
# labs/04-bt/grade.sh). Run from the repository root.
set -euo pipefail
name=$1 dir=$2
GUEST_CFLAGS="-m32 -std=gnu11 -ffreestanding -fno-pic -fno-stack-protector -nostdlib -O2
    -Wall -Wextra -Werror -mno-sse -mno-mmx -mno-80387 -mgeneral-regs-only
    -fno-asynchronous-unwind-tables -Ilabs/guests/lib"
[ -f build/guests/obj/lib/start.S.o ] || make -s guests >/dev/null
# shellcheck disable=SC2086 # the flags are words
gcc $GUEST_CFLAGS -c "tests/bt/$name.c" -o "$dir/$name.o"
ld -m elf_i386 -T labs/guests/lib/guest.ld -nostdlib --no-warn-rwx-segments \
    -o "$dir/$name.elf" "$dir/$name.o" build/guests/obj/lib/*.o
