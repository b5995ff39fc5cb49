/*
 * common.S - the runtime every hostile guest links with: a Multiboot
 * header, a GDT (kernel 0x08/0x10, user 0x1b/0x23, TSS 0x28; no entry 6,
 * so selector 0x33 is NOT a guest segment), an IDT whose 256 vectors print
 * "vector V error E" on COM1 and exit through isa-debug-exit with
 * 0x40 + V, and print/exit helpers. Each guest defines hostile_main.
 */
#define COM1 0x3f8
#define DEBUG_EXIT 0xf4

#include "../../guests/multiboot_header.inc"

    .text
    .globl _start
_start:
    movl $kernel_stack_top, %esp
    lgdt gdt_descriptor
    ljmp $0x08, $1f
1:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    call build_tss
    call build_idt
    lidt idt_descriptor
    movw $0x28, %ax
    ltr %ax
    call hostile_main
    jmp exit                        /* exit code in eax */

/* exit: status eax, through isa-debug-exit */
    .globl exit
exit:
    movw $DEBUG_EXIT, %dx
    outb %al, %dx
5:  hlt
    jmp 5b

/* enter_user: iret to ring 3 at ebx with stack ecx, interrupts off */
    .globl enter_user
enter_user:
    movw $0x23, %ax
    movw %ax, %ds
    movw %ax, %es
    pushl $0x23
    pushl %ecx
    pushl $0x2
    pushl $0x1b
    pushl %ebx
    iret

trap_common:                        /* [esp] vector, [esp+4] error code */
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movl $msg_vector, %esi
    call print
    movl (%esp), %eax
    call print_hex
    movl $msg_error, %esi
    call print
    movl 4(%esp), %eax
    call print_hex
    movl $msg_newline, %esi
    call print
    movl (%esp), %eax
    addl $0x40, %eax
    jmp exit

#include "../../guests/runtime.inc"

    .data
    .align 8
msg_vector: .asciz "vector "
msg_error: .asciz " error "
msg_newline: .asciz "\n"

    .bss
    .align 4096
    .globl idt
idt: .skip 256 * 8
tss: .skip 104
    .align 16
    .skip 16384
    .globl kernel_stack_top
kernel_stack_top:
