/*
 * world_switch.c - from the 64-bit VMM into 32-bit guest code and back.
 *
 * In: direct_world_enter() saves the VMM's callee-saved registers and stack
 * pointer, builds an interrupt-return frame (SS, RSP, RFLAGS, CS, RIP) whose
 * CS is 0x23, the host's 32-bit user code segment, loads the guest's
 * general registers and executes IRETQ. IRETQ to a code segment with L=0
 * and D=1 enters compatibility mode (SDM vol. 3, 5.8.1 and 7.3 "IRET in
 * IA-32e mode"; vol. 1, 3.2.1). DS and ES must hold a valid data selector:
 * in 64-bit mode the VMM runs with null DS/ES, and in compatibility mode a
 * data access through a null DS is a #GP the guest never caused. The
 * selectors loaded are flat data descriptors of our LDT that stand for the
 * guest's own DS and ES (traps.c explains why).
 *
 * Out: there is no instruction for it. A trap delivers a signal; when the
 * handler decides the VMM must run (traps.c), it rewrites the saved context
 * so that rt_sigreturn "returns" to direct_world_exit, in 64-bit mode (CS
 * 0x33), on the VMM's stack saved at entry, with RAX = the exit code.
 * direct_world_exit pops the callee-saved registers and returns from
 * direct_world_enter as if it were an ordinary function.
 *
 * The flags: the guest's EFLAGS.AC and NT must not reach the VMM (see the
 * comments at direct_signal_entry and direct_world_exit).
 *
 * The signal entry: guest code may have loaded FS with a selector of its
 * own, which replaces the FS base (the VMM's thread pointer, used by glibc
 * for errno, the stack protector canary and every __thread variable). So
 * the handler's first instructions, before any C, put the VMM's FS base
 * back: WRFSBASE where the kernel enables it (Linux 5.9+, HWCAP2_FSGSBASE
 * in AT_HWCAP2; Documentation/arch/x86/x86_64/fsgs.rst), else
 * arch_prctl(ARCH_SET_FS).
 */
#include "core/direct/world_switch.h"

#include <stddef.h>

/* Read by the signal entry stub below before any C runs: globals because
 * a signal handler has no other way in (set once per attach, by traps.c). */
__attribute__((visibility("hidden"))) uint64_t direct_vmm_fs_base;
__attribute__((visibility("hidden"))) uint8_t direct_have_wrfsbase;

/* The offsets the assembly uses. */
_Static_assert(offsetof(struct direct_frame, host_rsp) == 0, "frame layout");
_Static_assert(offsetof(struct direct_frame, regs) == 8, "frame layout");
_Static_assert(offsetof(struct direct_frame, eip) == 40, "frame layout");
_Static_assert(offsetof(struct direct_frame, eflags) == 44, "frame layout");
_Static_assert(offsetof(struct direct_frame, ds) == 48, "frame layout");
_Static_assert(offsetof(struct direct_frame, es) == 50, "frame layout");

__asm__(
    ".text\n"
    ".globl direct_world_enter\n"
    ".type direct_world_enter, @function\n"
    "direct_world_enter:\n"               /* rdi = struct direct_frame * */
    "    push %rbp\n"
    "    push %rbx\n"
    "    push %r12\n"
    "    push %r13\n"
    "    push %r14\n"
    "    push %r15\n"
    "    mov %rsp, 0(%rdi)\n"             /* where direct_world_exit resumes */
    "    pushq $0x2b\n"                   /* SS */
    "    movl 24(%rdi), %eax\n"           /* ESP = regs[REG_ESP] */
    "    push %rax\n"
    "    movl 44(%rdi), %eax\n"           /* RFLAGS */
    "    push %rax\n"
    "    pushq $0x23\n"                   /* CS: compatibility mode */
    "    movl 40(%rdi), %eax\n"           /* RIP = EIP */
    "    push %rax\n"
    "    movzwl 48(%rdi), %eax\n"
    "    mov %eax, %ds\n"
    "    movzwl 50(%rdi), %eax\n"
    "    mov %eax, %es\n"
    "    movl 8(%rdi), %eax\n"
    "    movl 12(%rdi), %ecx\n"
    "    movl 16(%rdi), %edx\n"
    "    movl 20(%rdi), %ebx\n"
    "    movl 28(%rdi), %ebp\n"
    "    movl 32(%rdi), %esi\n"
    "    movl 36(%rdi), %edi\n"
    "    iretq\n"
    ".size direct_world_enter, .-direct_world_enter\n"

    ".globl direct_world_exit\n"
    ".type direct_world_exit, @function\n"
    "direct_world_exit:\n"                /* rsp = the saved host_rsp, rax = exit code */
    /* rt_sigreturn restored the flags of our rewritten context, except NT,
     * which Linux takes from the handler's own flags - the guest's, if it
     * set NT. The VMM's next IRETQ (direct_world_enter) would then raise
     * #GP (SDM vol. 3, 7.3: IRET with NT = 1 in IA-32e mode). Start the
     * VMM again from clean flags: IF (which user mode cannot change
     * anyway) and the always-1 bit 1. */
    "    pushq $0x202\n"
    "    popfq\n"
    "    xor %ecx, %ecx\n"
    "    mov %ecx, %ds\n"                 /* the VMM's own null DS/ES again */
    "    mov %ecx, %es\n"
    "    pop %r15\n"
    "    pop %r14\n"
    "    pop %r13\n"
    "    pop %r12\n"
    "    pop %rbx\n"
    "    pop %rbp\n"
    "    ret\n"
    ".size direct_world_exit, .-direct_world_exit\n"

    ".globl direct_signal_entry\n"
    ".type direct_signal_entry, @function\n"
    "direct_signal_entry:\n"              /* rdi, rsi, rdx: the SA_SIGINFO arguments */
    /* Linux clears only DF, TF and RF for a handler: a guest that set
     * EFLAGS.AC would have the VMM's C code run with alignment checking
     * (CR0.AM is set for user mode), and the first misaligned access of,
     * say, memset is a SIGBUS inside the handler, which kills the process.
     * AC comes back from the saved context at sigreturn, so clear it here. */
    "    pushfq\n"
    "    andq $~0x40000, (%rsp)\n"
    "    popfq\n"
    "    movq direct_vmm_fs_base(%rip), %rax\n"
    "    cmpb $0, direct_have_wrfsbase(%rip)\n"
    "    je 1f\n"
    "    wrfsbase %rax\n"
    "    jmp direct_signal_dispatch\n"
    "1:  push %rdi\n"
    "    push %rsi\n"
    "    push %rdx\n"
    "    mov %rax, %rsi\n"
    "    mov $0x1002, %edi\n"             /* ARCH_SET_FS */
    "    mov $158, %eax\n"                /* SYS_arch_prctl */
    "    syscall\n"
    "    pop %rdx\n"
    "    pop %rsi\n"
    "    pop %rdi\n"
    "    jmp direct_signal_dispatch\n"
    ".size direct_signal_entry, .-direct_signal_entry\n");
