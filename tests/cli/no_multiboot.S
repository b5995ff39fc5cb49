/* An ELF32 i386 executable with no Multiboot header: vmlab must refuse it. */
    .text
    .globl _start
_start:
    hlt
