/*
 * switch.S - switch_context(&old, new): the kernel's context switch.
 *
 * Saves the callee-saved registers (the C ABI says the caller already
 * saved the others) on the current kernel stack, stores that stack pointer
 * in *old, loads new, and pops the same registers from it. The return
 * address on the new stack decides where execution continues.
 */
    .text
    .globl switch_context
switch_context:
    movl 4(%esp), %eax              /* struct context **old */
    movl 8(%esp), %edx              /* struct context *new */
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, (%eax)
    movl %edx, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

    .section .note.GNU-stack, "", @progbits
