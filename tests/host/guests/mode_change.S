/*
 * mode_change.S - a guest that changes CPU mode while it runs: about 6
 * million instructions (tens of milliseconds under interp) with paging
 * off, then CR0.PG on (one 4 MiB identity page, CR4.PSE), then a loop until
 * --timeout. tests/host/run.sh asks for a technique this host cannot run
 * in both modes and checks that the refusal is said once, not once per
 * mode. The two loops have labels of their own, so the EIP of each refusal
 * (in --stats-json's recent events) says which mode it happened in.
 */

#include "../../guests/multiboot_header.inc"

    .text
    .globl _start, before_paging, after_paging
_start:
    cli
    mov $3000000, %ecx
before_paging:
    dec %ecx
    jnz before_paging

    movl $0x00000083, page_directory     /* 4 MiB page at 0: present, writable, PS */
    mov $page_directory, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x10, %eax                       /* CR4.PSE */
    mov %eax, %cr4
    mov %cr0, %eax
    or $0x80000000, %eax                 /* CR0.PG */
    mov %eax, %cr0
after_paging:
    jmp after_paging

    .bss
    .balign 4096
page_directory:
    .skip 4096

    .section .note.GNU-stack, "", @progbits
