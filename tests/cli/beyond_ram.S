/* A valid Multiboot kernel whose code is linked at 128 MiB (tests/cli/run.sh
 * links it there with -Ttext): beyond the 64 MiB of RAM it is given. */
    .text
    .globl _start
    .align 4
multiboot_header:
    .long 0x1BADB002
    .long 0
    .long -0x1BADB002
_start:
    hlt
