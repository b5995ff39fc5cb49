/*
 * random_code.S - the fixed part of the guest-survival fuzz guest: a
 * Multiboot header, a GDT (kernel 0x08/0x10, user 0x1b/0x23, TSS 0x28; no
 * entry 6, so 0x33 is not a guest segment), an IDT whose 256 vectors
 * report "fuzz: vector V error E eip X cs C" on COM1 and then exit through
 * isa-debug-exit (or, while the seed's resume budget lasts, go back into
 * the random code), and the jump into the random code.
 *
 * Everything up to `launch` is deterministic; fuzz_setup (random_code.c)
 * reads seed= from the command line, fills the code buffer and fills
 * fuzz_state, and launch loads it and jumps (ring 0) or IRETs (ring 3).
 *
 * Exit values (vmlab status = value * 2 + 1):
 *   0x10 + V  exception V (0..31)     -> status 33..95
 *   0x30      any vector 32..255      -> status 97
 *   0x31      a fault inside the handler itself (re-entered) -> status 99
 * Anything else came from the random code writing port 0xf4 itself.
 */
#define COM1 0x3f8
#define DEBUG_EXIT 0xf4
#define CODE_SIZE 8192                  /* as in random_code.c */

#include "../guests/multiboot_header.inc"

    .text
    .globl _start
_start:
    cli
    cld
    movl $kernel_stack_top, %esp
    movl %ebx, mbi_pointer
    lgdt gdt_descriptor
    ljmp $0x08, $1f
1:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    pushl $0x2
    popfl
    call build_tss
    call build_idt
    lidt idt_descriptor
    movw $0x28, %ax
    ltr %ax
    pushl mbi_pointer
    call fuzz_setup                 /* fills the buffer, page tables, fuzz_state */
    addl $4, %esp
    /* fall through into launch */

/* launch: fuzz_state = cr3, cr4, cr0, eflags, ring, eip, esp, eax, ecx,
 * edx, ebx, ebp, esi, edi (offsets 0, 4, ... 52) */
launch:
    movl fuzz_state + 0, %eax
    movl %eax, %cr3
    movl fuzz_state + 4, %eax
    movl %eax, %cr4
    movl fuzz_state + 8, %eax
    movl %eax, %cr0
    ljmp $0x08, $2f                 /* serialize after a possible PG change */
2:  cmpl $0, fuzz_state + 16
    jne to_ring3
    movl fuzz_state + 24, %esp
    pushl fuzz_state + 12           /* eflags */
    pushl $0x08
    pushl fuzz_state + 20           /* eip */
    jmp load_gprs
to_ring3:
    movl $kernel_stack_top, %esp
    pushl $0x23                     /* ss */
    pushl fuzz_state + 24           /* esp */
    pushl fuzz_state + 12           /* eflags */
    pushl $0x1b                     /* cs */
    pushl fuzz_state + 20           /* eip */
    movw $0x23, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
load_gprs:
    movl %ss:fuzz_state + 28, %eax
    movl %ss:fuzz_state + 32, %ecx
    movl %ss:fuzz_state + 36, %edx
    movl %ss:fuzz_state + 40, %ebx
    movl %ss:fuzz_state + 44, %ebp
    movl %ss:fuzz_state + 48, %esi
    movl %ss:fuzz_state + 52, %edi
    iret                            /* into the random code: nothing after this is ours */

exit:
    movw $DEBUG_EXIT, %dx
    outb %al, %dx
6:  cli
    hlt
    jmp 6b

/* [esp] vector, [esp+4] error code, [esp+8] eip, [esp+12] cs.
 * With resume_budget > 0 (chosen from the seed) the handler reports the
 * vector and returns into the random code instead of exiting: one byte past
 * the faulting EIP, or at a random place in the buffer if EIP left it. A
 * double fault (or IRQ 0 on vector 8: the PIC is not remapped) always
 * exits. */
trap_common:
    pushl %ds
    pushl %es
    pushal                          /* vector at 40(%esp), error 44, eip 48, cs 52 */
    cld
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    cmpl $0, in_handler
    je 7f
    movb $0x31, %al                 /* the handler faulted: leave at once */
    jmp exit
7:  movl $1, in_handler
    movl $msg_vector, %esi
    call print
    movl 40(%esp), %eax
    call print_hex
    movl $msg_error, %esi
    call print
    movl 44(%esp), %eax
    call print_hex
    movl $msg_eip, %esi
    call print
    movl 48(%esp), %eax
    call print_hex
    movl $msg_cs, %esi
    call print
    movl 52(%esp), %eax
    call print_hex
    movl $msg_newline, %esi
    call print
    movl 40(%esp), %eax
    cmpl $8, %eax
    je 8f
    cmpl $0, resume_budget
    je 8f
    decl resume_budget
    movl 48(%esp), %eax
    subl $code_buf, %eax
    cmpl $CODE_SIZE, %eax
    jae 10f
    incl 48(%esp)                   /* one byte further */
    jmp 11f
10: movl handler_rng, %eax          /* xorshift32 */
    movl %eax, %edx
    shll $13, %edx
    xorl %edx, %eax
    movl %eax, %edx
    shrl $17, %edx
    xorl %edx, %eax
    movl %eax, %edx
    shll $5, %edx
    xorl %edx, %eax
    movl %eax, handler_rng
    andl $(CODE_SIZE - 1), %eax
    addl $code_buf, %eax
    movl %eax, 48(%esp)
11: movl 40(%esp), %eax
    subl $0x20, %eax
    cmpl $16, %eax
    jae 12f
    movb $0x20, %al                 /* an IRQ (or int 0x20-0x2f): EOI to both PICs */
    outb %al, $0xa0
    outb %al, $0x20
12: movl $0, in_handler
    popal
    popl %es
    popl %ds
    addl $8, %esp
    iret
8:  cmpl $32, %eax
    jb 9f
    movl $0x20, %eax
9:  addl $0x10, %eax
    jmp exit

#include "../guests/runtime.inc"

    .data
    .align 8
    .globl idt, tss
msg_vector: .asciz "fuzz: vector "
msg_error: .asciz " error "
msg_eip: .asciz " eip "
msg_cs: .asciz " cs "
msg_newline: .asciz "\n"
in_handler: .long 0
mbi_pointer: .long 0

    .bss
    .align 4096
idt: .skip 256 * 8
tss: .skip 104
    .align 16
    .skip 16384
    .globl kernel_stack_top
kernel_stack_top:

    .section .note.GNU-stack, "", @progbits
