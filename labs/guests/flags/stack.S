/*
 * stack.S - push, pop, pusha, popa, enter and leave on a private stack.
 *
 * Each routine takes the top of a scratch area, runs its instructions with
 * ESP inside it, and stores the registers it observed in stack_result[] for
 * the C side (stack.c) to record together with the area's contents.
 * The rules under test (Intel SDM vol. 2):
 *  - PUSH ESP pushes the value ESP had before the instruction;
 *  - PUSH m32 with an ESP-based address computes it before the decrement,
 *    POP m32 after the increment;
 *  - PUSHA pushes the original ESP; POPA skips the ESP slot;
 *  - ENTER n, L copies L-1 frame pointers from [EBP-4], [EBP-8], ... then
 *    pushes the new frame pointer; LEAVE = mov ebp -> esp; pop ebp.
 */
    .text

    .macro ENTER_PRIVATE_STACK
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, saved_esp
    movl 20(%esp), %esp         /* first argument: top of the scratch area */
    .endm

    .macro LEAVE_PRIVATE_STACK
    movl saved_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
    .endm

    .globl stack_push_pop
stack_push_pop:
    ENTER_PRIVATE_STACK
    xorl %eax, %eax             /* popw below fills only AX */
    pushl $0x12345678           /* imm32 */
    pushl $-3                   /* imm8, sign-extended to 32 bits */
    pushw $0x1234               /* operand-size prefix: ESP -= 2 */
    pushw $0x5678
    pushl %esp                  /* the old ESP */
    pushl 4(%esp)               /* address taken before the decrement */
    popl 8(%esp)                /* address taken after the increment */
    popw %ax
    movl %eax, stack_result
    movl %esp, stack_result + 4
    LEAVE_PRIVATE_STACK

    .globl stack_pusha_popa
stack_pusha_popa:
    ENTER_PRIVATE_STACK
    movl $0x11111111, %eax
    movl $0x22222222, %ecx
    movl $0x33333333, %edx
    movl $0x44444444, %ebx
    movl $0x55555555, %ebp
    movl $0x66666666, %esi
    movl $0x77777777, %edi
    pushal
    movl $0xdeadbeef, 12(%esp)  /* the ESP slot: POPA must ignore it */
    addl $0x01010101, 28(%esp)  /* the EAX slot: POPA must load it */
    popal
    pushw $0xabcd
    pushaw                      /* 16-bit: eight words */
    popaw
    popw %si
    movl %eax, stack_result
    movl %ecx, stack_result + 4
    movl %edx, stack_result + 8
    movl %ebx, stack_result + 12
    movl %ebp, stack_result + 16
    movl %esi, stack_result + 20
    movl %edi, stack_result + 24
    movl %esp, stack_result + 28
    LEAVE_PRIVATE_STACK

/* EBP points into the area where C placed a chain of fake frame pointers. */
    .globl stack_enter_leave
stack_enter_leave:
    ENTER_PRIVATE_STACK
    leal -64(%esp), %ebp
    enter $16, $0
    movl %esp, stack_result
    movl %ebp, stack_result + 4
    leave
    movl %esp, stack_result + 8
    movl %ebp, stack_result + 12
    enter $8, $1
    movl %esp, stack_result + 16
    movl %ebp, stack_result + 20
    leave
    enter $4, $3
    movl %esp, stack_result + 24
    movl %ebp, stack_result + 28
    leave
    movl %esp, stack_result + 32
    movl %ebp, stack_result + 36
    LEAVE_PRIVATE_STACK

    .data
saved_esp:
    .long 0
    .globl stack_result
stack_result:
    .fill 10, 4, 0

    .section .note.GNU-stack, "", @progbits
