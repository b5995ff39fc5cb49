/*
 * spin.S - a guest that never exits to the VMM: a tight loop with
 * interrupts off. Under hvm only the deadline timer (techniques/hvm/deadline.c)
 * can get control back, so `--timeout 1` ending the run on time (status 6)
 * shows that KVM_RUN is left at vm->deadline_ns.
 */

#include "../../guests/multiboot_header.inc"

    .text
    .globl _start
_start:
    cli
1:  jmp 1b

    .section .note.GNU-stack, "", @progbits
