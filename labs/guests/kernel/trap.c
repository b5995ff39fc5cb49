/*
 * trap.c - every interrupt, exception and system call comes through
 * trap(), called from vectors.S with the interrupted state in *tf.
 */
#include "proc.h"
#include "arch.h"

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
    "invalid opcode", "device not available", "double fault", "coprocessor overrun",
    "invalid TSS", "segment not present", "stack fault", "general protection",
    "page fault", "reserved", "x87 error", "alignment check", "machine check",
    "SIMD error", "virtualization", "control protection",
};

static void timer_interrupt(struct trapframe *tf)
{
    ticks++;
    proc_wakeup((void *)&ticks);
    interrupt_done(IRQ_TIMER);
    /* Preemption: a process in ring 3 has had its tick; let the next run.
     * Never in ring 0, where the kernel may be in the middle of something. */
    if (trap_from_user(tf) && proc_current()) {
        proc_current()->preemptions++;
        proc_yield();
    }
}

static void hardware_interrupt(struct trapframe *tf)
{
    int irq = (int)tf->trapno - T_IRQ0;
    if (interrupt_is_spurious(irq))
        return;
    if (irq == IRQ_TIMER) {
        timer_interrupt(tf);
        return;
    }
    if (irq == IRQ_UART)
        console_input_interrupt();
    interrupt_done(irq);
}

/* The #PF error code (SDM vol. 3, 4.7): bit 0 present, 1 write, 2 user. */
static void page_fault(struct trapframe *tf)
{
    uint32_t address = arch_get_cr2();
    bool present = tf->error_code & 1, write = tf->error_code & 2;
    if (!present && proc_current() && user_fault_resolve(address, write))
        return;                         /* demand paging: a zeroed page is now there */
    char why[96];
    format_string(why, sizeof(why), "page fault at 0x%08x (%s, %s)",
                  address, write ? "write" : "read", present ? "protection" : "not present");
    if (trap_from_user(tf))
        proc_kill(why);
    panic("kernel %s at eip 0x%08x", why, tf->eip);
}

/* A #DE in a process that registered a handler (system call
 * set_divide_handler): push the faulting EIP on its stack and continue in
 * the handler, which returns with ret. Like a Unix signal, minus the
 * register save (the handler saves what it uses). */
static bool deliver_divide_error(struct trapframe *tf)
{
    struct proc *p = proc_current();
    uint32_t sp = tf->user_esp - 4;
    if (!p || !p->divide_handler || !user_range_ok(sp, 4, true))
        return false;
    *(uint32_t *)sp = tf->eip;
    tf->user_esp = sp;
    tf->eip = p->divide_handler;
    return true;
}

static void exception(struct trapframe *tf)
{
    if (tf->trapno == T_PAGE_FAULT) {
        page_fault(tf);
        return;
    }
    if (tf->trapno == T_DIVIDE && trap_from_user(tf) && deliver_divide_error(tf))
        return;
    const char *name = tf->trapno < 32 && exception_names[tf->trapno]
                       ? exception_names[tf->trapno] : "unknown exception";
    char why[96];
    format_string(why, sizeof(why), "%s (vector %u, error 0x%x)",
                  name, tf->trapno, tf->error_code);
    if (trap_from_user(tf))
        proc_kill(why);
    panic("kernel %s at eip 0x%08x", why, tf->eip);
}

#ifdef PV
/* Events replace the PIC's interrupts: one upcall, and a bitmap that says
 * from where. Console input first: the timer may switch processes. The
 * disk's event needs nothing here: its driver reads the ring (pv/block.c). */
static void event_upcall(struct trapframe *tf)
{
    uint32_t pending = arch_take_pending_events();
    if (pending & (1u << PV_EVENT_CONSOLE))
        console_input_interrupt();
    if (pending & (1u << PV_EVENT_TIMER)) {
        arch_timer_rearm();
        timer_interrupt(tf);
    }
}
#endif

void trap(struct trapframe *tf)
{
    /* An interrupt gate cleared IF; our copy must agree until we return. */
    bool was_enabled = irq_enabled();
    irq_set_state(false);
    if (tf->trapno == T_SYSCALL)
        syscall(tf);
#ifdef PV
    else if (tf->trapno == PV_UPCALL_VECTOR)
        event_upcall(tf);
#endif
    else if (tf->trapno >= T_IRQ0 && tf->trapno < T_IRQ0 + 16)
        hardware_interrupt(tf);
    else
        exception(tf);
    irq_set_state(was_enabled);
}
