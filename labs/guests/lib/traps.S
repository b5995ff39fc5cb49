/*
 * traps.S - the 256 IDT entry stubs, the common trap path, and the jump
 * into and back out of ring 3.
 *
 * The CPU pushes an error code for vectors 8, 10-14 and 17 only (Intel SDM
 * vol. 3, 6.13 and table 6-1); the stubs push a 0 for the others so that
 * every trap frame has the same shape (struct trapframe in guest.h).
 */
    .text
    .globl trap_stubs
    .balign 16
trap_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17)
    nop; nop                        /* the CPU already pushed an error code */
    .else
    pushl $0
    .endif
    pushl $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

trap_common:
    pushal
    cld                             /* C code assumes DF = 0, the trapped code may not */
    pushl %esp                      /* struct trapframe * */
    call trap_dispatch
    addl $4, %esp
    popal
    addl $8, %esp                   /* vector and error code */
    iretl

/*
 * uint32_t run_user(void (*fn)(void), void *user_stack_top)
 *
 * Saves the kernel's callee-saved registers and stack pointer, then "returns"
 * to ring 3 with iret: a frame with an RPL-3 CS makes iret pop SS:ESP too and
 * drop to CPL 3 (SDM vol. 3, 6.12.1 and IRET pseudo-code). EFLAGS = 0x2:
 * IF = 0 and IOPL = 0, so cli/hlt/in/out in ring 3 fault.
 */
    .globl run_user
run_user:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, saved_kernel_esp
    movl 20(%esp), %eax             /* fn */
    movl 24(%esp), %ecx             /* user stack top */
    movw $0x23, %dx                 /* SEL_UDATA */
    movw %dx, %ds
    movw %dx, %es
    movw %dx, %fs
    movw %dx, %gs
    pushl $0x23                     /* SS */
    pushl %ecx                      /* ESP */
    pushl $0x2                      /* EFLAGS */
    pushl $0x1b                     /* CS = SEL_UCODE */
    pushl %eax                      /* EIP */
    iretl

/*
 * void user_return(uint32_t value): called from a trap handler (on the TSS
 * esp0 stack); abandons the trap frame and returns from run_user.
 */
    .globl user_return
user_return:
    movl 4(%esp), %eax
    movw $0x10, %dx                 /* SEL_KDATA */
    movw %dx, %ds
    movw %dx, %es
    movw %dx, %fs
    movw %dx, %gs
    movl saved_kernel_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

    .data
saved_kernel_esp:
    .long 0

    .section .note.GNU-stack, "", @progbits
