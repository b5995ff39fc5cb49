/*
 * vectors.S - the entry points in the IDT, and the common path that turns
 * any interrupt, exception or system call into a call of trap(tf).
 *
 * The CPU pushes an error code for some exceptions only (Intel SDM vol. 3,
 * 6.13 and table 6-1: 8, 10-14, 17, 21); for the others we push a zero so
 * that every trapframe has the same layout (struct trapframe in trap.h).
 */
#include "trapnum.h"

.macro vector num, has_error_code
    .globl vector\num
vector\num:
    .if \has_error_code == 0
    pushl $0
    .endif
    pushl $\num
    jmp all_traps
.endm

    .text
    vector 0, 0
    vector 1, 0
    vector 2, 0
    vector 3, 0
    vector 4, 0
    vector 5, 0
    vector 6, 0
    vector 7, 0
    vector 8, 1
    vector 9, 0
    vector 10, 1
    vector 11, 1
    vector 12, 1
    vector 13, 1
    vector 14, 1
    vector 15, 0
    vector 16, 0
    vector 17, 1
    vector 18, 0
    vector 19, 0
    vector 20, 0
    vector 21, 1
    vector 22, 0
    vector 23, 0
    vector 24, 0
    vector 25, 0
    vector 26, 0
    vector 27, 0
    vector 28, 0
    vector 29, 0
    vector 30, 0
    vector 31, 0
    vector 32, 0
    vector 33, 0
    vector 34, 0
    vector 35, 0
    vector 36, 0
    vector 37, 0
    vector 38, 0
    vector 39, 0
    vector 40, 0
    vector 41, 0
    vector 42, 0
    vector 43, 0
    vector 44, 0
    vector 45, 0
    vector 46, 0
    vector 47, 0
#ifdef PV
    vector 48, 0                    /* PV_UPCALL_VECTOR: events (core/pv/abi.h) */
#endif
    vector 128, 0

/* Save the rest of the interrupted state, switch to kernel data segments
 * (a trap from ring 3 arrives with the user's DS and ES still loaded) and
 * call trap(). The layout pushed here is struct trapframe, bottom up. */
all_traps:
#ifdef PV
    movb $1, pv_shared_info         /* events masked, as an interrupt gate clears IF */
#endif
    pushl %ds
    pushl %es
    pushl %fs
    pushl %gs
    pushal
    movw $SEL_KERNEL_DATA_ASM, %ax
    movw %ax, %ds
    movw %ax, %es
    pushl %esp                      /* trap(struct trapframe *tf) */
    call trap
    addl $4, %esp

/* Also where a new process starts: its kernel stack is built to look as
 * if it had trapped from ring 3. */
    .globl trap_return
trap_return:
    popal
    popl %gs
    popl %fs
    popl %es
    popl %ds
    addl $8, %esp                   /* trap number and error code */
#ifdef PV
    jmp *pv_iret_entry              /* PV_IRET: restores the mask from the frame's IF */
#else
    iret
#endif

    .section .note.GNU-stack, "", @progbits
