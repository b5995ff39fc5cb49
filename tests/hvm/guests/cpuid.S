/*
 * cpuid.S - prints what CPUID leaves 0, 1 and 2 report, as
 * "leaf: eax ebx ecx edx" in hex, one line each, on COM1, then exits with
 * status 1. hvm sets the vCPU's CPUID from the interpreter's (kvm_setup.c),
 * so this output must be the same under interp and hvm (not QEMU: its CPU
 * is its own). Leaf 2 is above the highest leaf (1): like an Intel CPU, it
 * repeats leaf 1 (SDM vol. 2, CPUID, "if a value entered for CPUID.EAX is
 * higher than the maximum input value").
 */
#define COM1 0x3f8

#include "../../guests/multiboot_header.inc"

    .text
    .globl _start
_start:
    movl $stack_top, %esp
    xorl %esi, %esi                 /* leaf */
next_leaf:
    movl %esi, %eax
    call print_hex
    movb $':', %al
    call putc
    movl %esi, %eax
    xorl %ecx, %ecx
    cpuid
    pushl %edx
    pushl %ecx
    pushl %ebx
    pushl %eax
    movl $4, %edi
1:  movb $' ', %al
    call putc
    popl %eax
    call print_hex
    decl %edi
    jnz 1b
    movb $'\n', %al
    call putc
    incl %esi
    cmpl $3, %esi
    jne next_leaf
    movb $0, %al
    outb %al, $0xf4
    hlt

/* print_hex: EAX as 8 hex digits. Clobbers EAX, ECX, EDX. */
print_hex:
    movl %eax, %edx
    movl $8, %ecx
2:  roll $4, %edx
    movl %edx, %eax
    andl $0xf, %eax
    movb digits(%eax), %al
    call putc
    loop 2b
    ret

/* putc: AL to COM1 (the UART's transmitter is always ready in a VM). */
putc:
    pushl %edx
    movw $COM1, %dx
    outb %al, %dx
    popl %edx
    ret

digits:
    .ascii "0123456789abcdef"

    .bss
    .skip 4096
stack_top:

    .section .note.GNU-stack, "", @progbits
