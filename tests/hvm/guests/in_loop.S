/*
 * in_loop.S - the exit-cost microbenchmark guest: ITERATIONS `in` instructions
 * from port 0x21 (the master 8259A's mask register: claimed by a device in
 * vmlab, and without side effects on a read), then exit through
 * isa-debug-exit with status 0.
 *
 * Under KVM every `in` is a VM exit to user space (KVM_EXIT_IO), so the run
 * time divided by ITERATIONS is the cost of one exit round trip: guest ->
 * KVM -> user space -> KVM -> guest. Built by tests/hvm/bench.sh with
 * -DITERATIONS=N; loaded by vmlab (Multiboot) and by tests/hvm/bare_kvm.c.
 */
#ifndef ITERATIONS
#define ITERATIONS 1000000
#endif

#include "../../guests/multiboot_header.inc"

    .text
    .globl _start
_start:
    movl $ITERATIONS, %ecx
1:  inb $0x21, %al
    decl %ecx
    jnz 1b
    movb $0, %al            /* isa-debug-exit: status (0 << 1) | 1 = 1 */
    outb %al, $0xf4
2:  hlt                     /* not reached under a VMM that honours 0xf4 */
    jmp 2b

    .section .note.GNU-stack, "", @progbits
