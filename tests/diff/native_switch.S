/*
 * native_switch.S - into 32-bit compatibility mode and back (x86-64 Linux).
 *
 * Linux x86-64 gives user space a 32-bit code selector (0x23, __USER32_CS)
 * next to the 64-bit one (0x33) and a flat data selector (0x2b). IRETQ to
 * 0x23 enters compatibility mode with every register and EFLAGS set at once
 * (SDM vol. 3, 5.8.5 / vol. 2 IRET: a return to a 32-bit segment from
 * 64-bit mode); nothing is pushed on the guest's stack, which is compared.
 * The way back is the exit stub that native.c appends to the sequence: it
 * stores the registers and EFLAGS in the save area and far-jumps to
 * 0x33:STUB64_BASE, which jumps here (this code is mapped above 4 GiB, out
 * of reach of a 32-bit far jump).
 */
#include "layout_asm.h"

    .text
    .globl diff_native_enter
    .type diff_native_enter, @function
/* void diff_native_enter(const struct machine_state *initial) */
diff_native_enter:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, diff_host_rsp(%rip)
    /* A sequence may have left NT set (POPF at CPL 3 may change it), and
     * IRETQ with NT = 1 is #GP in IA-32e mode (SDM vol. 2 IRET). */
    pushq $0x202
    popfq
    /* Compatibility-mode data accesses need a usable DS/ES (a null selector
     * is a #GP there, unlike in 64-bit mode). */
    mov $0x2b, %eax
    mov %eax, %ds
    mov %eax, %es
    pushq $0x2b                 /* SS */
    mov 16(%rdi), %eax          /* ESP */
    push %rax
    mov 32(%rdi), %eax          /* EFLAGS */
    push %rax
    pushq $0x23                 /* CS: 32-bit user code */
    mov $CODE_BASE_ASM, %eax    /* EIP */
    push %rax
    mov 0(%rdi), %eax
    mov 4(%rdi), %ecx
    mov 8(%rdi), %edx
    mov 12(%rdi), %ebx
    mov 20(%rdi), %ebp
    mov 24(%rdi), %esi
    mov 28(%rdi), %edi          /* last: it held the pointer */
    iretq
    .size diff_native_enter, . - diff_native_enter

    .globl diff_native_return
    .type diff_native_return, @function
/* Reached in 64-bit mode from the stub at STUB64_BASE; returns from
 * diff_native_enter. */
diff_native_return:
    mov diff_host_rsp(%rip), %rsp
    xor %eax, %eax
    mov %eax, %ds
    mov %eax, %es
    pushq $0x202                /* DF = 0 for the SysV ABI; no NT, ID, AC left over */
    popfq
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .size diff_native_return, . - diff_native_return

    .bss
    .align 8
diff_host_rsp:
    .quad 0

    .section .note.GNU-stack, "", @progbits
