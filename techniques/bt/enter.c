/*
 * enter.c - from the VMM into translated code and back.
 *
 * Translated code is ordinary 64-bit code in our own process (CS 0x33): no
 * mode switch, no privilege change, just a jump. What changes is who owns
 * the registers:
 *
 *   guest EAX..EDI   live in host EAX..EDI (the same encodings, so an
 *                    instruction kept as it is names the same register);
 *   guest ESP        lives in RSP, zero-extended: the guest stack is host
 *                    memory at the same address (guest-virtual = host);
 *   guest flags      the arithmetic flags and DF live in RFLAGS; IF, IOPL
 *                    and the rest stay virtual in struct cpu;
 *   R15              points at struct bt_context: 32-bit code has no
 *                    encoding for R8-R15 (they need a REX prefix, SDM
 *                    vol. 2, 2.2.1), so no guest instruction can reach it;
 *   R14              counts the guest instructions completed since bt_enter
 *                    (each block exit adds its count with LEA, which leaves
 *                    the flags alone);
 *   R11              a scratch register for rewritten instructions.
 *
 * bt_enter saves the VMM's callee-saved registers and stack pointer in the
 * context, loads the guest's flags (POPFQ on the VMM's stack), registers
 * and ESP, and jumps to the block. A block ends with
 *
 *      lea   count(%r14), %r14
 *      movl  $next_eip, 40(%r15)
 *      jmp   *56(%r15)         -> bt_exit_branch (or *64: bt_exit_callout)
 *
 * or, for a direct branch, with an exit that can be chained (bt.c):
 *
 *      lea    count(%r14), %r14
 *      movl   $next_eip, 40(%r15)
 *      movl   $site, 80(%r15)  which exit this is
 *      movabs $bt_exit_branch, %r11   <- patched to the next block's code
 *      jmp    *72(%r15)        the gate: bt_chain_stub (jmp *%r11), or
 *                              bt_exit_branch when the dispatcher wants
 *                              control back
 *
 * bt_exit_* stores the guest registers, switches back to the VMM's stack,
 * stores the flags with PUSHFQ there (never on the guest's stack: that is
 * guest memory, maybe not even mapped), and returns from bt_enter. A fault
 * handler leaves the same way through bt_return (fault.c).
 */
#include <stddef.h>

#include "bt_internal.h"

_Static_assert(offsetof(struct bt_context, host_rsp) == 0, "context layout");
_Static_assert(offsetof(struct bt_context, regs) == 8, "context layout");
_Static_assert(offsetof(struct bt_context, eip) == BT_CONTEXT_EIP, "context layout");
_Static_assert(offsetof(struct bt_context, eflags) == 44, "context layout");
_Static_assert(offsetof(struct bt_context, exit_reason) == 48, "context layout");
_Static_assert(offsetof(struct bt_context, exit_branch) == BT_CONTEXT_EXIT_BRANCH, "context layout");
_Static_assert(offsetof(struct bt_context, exit_callout) == BT_CONTEXT_EXIT_CALLOUT, "context layout");
_Static_assert(offsetof(struct bt_context, gate) == BT_CONTEXT_GATE, "context layout");
_Static_assert(offsetof(struct bt_context, exit_site) == BT_CONTEXT_EXIT_SITE, "context layout");
_Static_assert(offsetof(struct bt_context, virtual_if) == BT_CONTEXT_VIRTUAL_IF, "context layout");
_Static_assert(offsetof(struct bt_context, virtual_flags) == BT_CONTEXT_VIRTUAL_FLAGS, "context layout");
_Static_assert(offsetof(struct bt_context, interrupt_pending) == BT_CONTEXT_INTERRUPT_PENDING,
               "context layout");
_Static_assert(offsetof(struct bt_context, selectors) == BT_CONTEXT_SELECTORS, "context layout");
_Static_assert(BT_CONTEXT_SELECTORS + 4 * SEG_COUNT <= 128, "selectors within a disp8 of R15");

__asm__(
    ".text\n"
    ".globl bt_enter\n"
    ".type bt_enter, @function\n"
    "bt_enter:\n"                        /* rdi = context, rsi = code */
    "    push %rbp\n"
    "    push %rbx\n"
    "    push %r12\n"
    "    push %r13\n"
    "    push %r14\n"
    "    push %r15\n"
    "    mov %rdi, %r15\n"
    "    mov %rsp, 0(%r15)\n"
    "    mov %rsi, %r11\n"
    "    xor %r14d, %r14d\n"             /* before POPFQ: XOR writes the flags */
    "    movl 44(%r15), %eax\n"          /* the guest's flags, via the VMM's stack */
    "    push %rax\n"
    "    popfq\n"
    "    movl 8(%r15), %eax\n"           /* MOV changes no flag */
    "    movl 12(%r15), %ecx\n"
    "    movl 16(%r15), %edx\n"
    "    movl 20(%r15), %ebx\n"
    "    movl 28(%r15), %ebp\n"
    "    movl 32(%r15), %esi\n"
    "    movl 36(%r15), %edi\n"
    "    movl 24(%r15), %esp\n"          /* a 32-bit write zero-extends into RSP */
    "    jmp *%r11\n"
    ".size bt_enter, .-bt_enter\n"

    ".globl bt_exit_branch\n"
    ".type bt_exit_branch, @function\n"
    "bt_exit_branch:\n"
    "    movl $1, 48(%r15)\n"            /* BT_EXIT_BRANCH */
    "    jmp 1f\n"
    ".globl bt_exit_callout\n"
    "bt_exit_callout:\n"
    "    movl $2, 48(%r15)\n"            /* BT_EXIT_CALLOUT */
    "1:  movl %eax, 8(%r15)\n"
    "    movl %ecx, 12(%r15)\n"
    "    movl %edx, 16(%r15)\n"
    "    movl %ebx, 20(%r15)\n"
    "    movl %esp, 24(%r15)\n"
    "    movl %ebp, 28(%r15)\n"
    "    movl %esi, 32(%r15)\n"
    "    movl %edi, 36(%r15)\n"
    "    movl %r14d, 52(%r15)\n"
    "    mov 0(%r15), %rsp\n"
    "    pushfq\n"
    "    pop %rax\n"
    "    movl %eax, 44(%r15)\n"
    ".globl bt_return\n"
    "bt_return:\n"                       /* rsp = the VMM's stack as bt_enter left it */
    "    cld\n"                          /* the C ABI wants DF clear */
    "    pop %r15\n"
    "    pop %r14\n"
    "    pop %r13\n"
    "    pop %r12\n"
    "    pop %rbx\n"
    "    pop %rbp\n"
    "    ret\n"
    ".size bt_exit_branch, .-bt_exit_branch\n"

    ".globl bt_chain_stub\n"
    ".type bt_chain_stub, @function\n"
    "bt_chain_stub:\n"
    "    jmp *%r11\n"
    ".size bt_chain_stub, .-bt_chain_stub\n");
