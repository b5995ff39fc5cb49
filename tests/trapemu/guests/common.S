/*
 * common.S - the runtime every hostile guest links with: a Multiboot
 * header, a GDT (kernel 0x08/0x10, user 0x1b/0x23, TSS 0x28; no entry 6,
 * so selector 0x33 is NOT a guest segment), an IDT whose 256 vectors print
 * "vector V error E" on COM1 and exit through isa-debug-exit with
 * 0x40 + V, and print/exit helpers. Each guest defines hostile_main.
 */
#define COM1 0x3f8
#define DEBUG_EXIT 0xf4

    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002, 0, -0x1BADB002

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

/* print: the zero-terminated string at esi */
    .globl print
print:
    pushl %eax
    pushl %edx
    movw $COM1, %dx
2:  lodsb
    testb %al, %al
    jz 3f
    outb %al, %dx
    jmp 2b
3:  popl %edx
    popl %eax
    ret

/* print_hex: eax as 8 hex digits */
    .globl print_hex
print_hex:
    pushl %ecx
    pushl %edx
    pushl %eax
    movl $8, %ecx
    movw $COM1, %dx
4:  roll $4, %eax
    pushl %eax
    andl $15, %eax
    movb hex_digits(%eax), %al
    outb %al, %dx
    popl %eax
    loop 4b
    popl %eax
    popl %edx
    popl %ecx
    ret

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

#include "../../guests/idt_stubs.inc"

/* The TSS descriptor (type 9, available 32-bit TSS) and esp0/ss0. */
build_tss:
    movl $kernel_stack_top, tss + 4
    movl $0x10, tss + 8
    movl $tss, %eax
    movw %ax, gdt + 0x28 + 2
    shrl $16, %eax
    movb %al, gdt + 0x28 + 4
    movb %ah, gdt + 0x28 + 7
    ret

    .data
    .align 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08 kernel code */
    .quad 0x00cf92000000ffff        /* 0x10 kernel data */
    .quad 0x00cffa000000ffff        /* 0x18 user code (0x1b) */
    .quad 0x00cff2000000ffff        /* 0x20 user data (0x23) */
    .quad 0x0000890000000067        /* 0x28 TSS, base filled in */
gdt_end:
gdt_descriptor:
    .word gdt_end - gdt - 1
    .long gdt
idt_descriptor:
    .word 256 * 8 - 1
    .long idt
hex_digits: .ascii "0123456789abcdef"
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
