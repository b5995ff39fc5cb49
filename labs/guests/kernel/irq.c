/*
 * irq.c - turning interrupts off and on, with a nesting counter.
 *
 * Code that must not be interrupted calls irq_push_off() ... irq_pop();
 * pairs may nest, and only the outermost pop turns interrupts back on, and
 * only if they were on before (the rule of xv6's pushcli/popcli).
 *
 * Whether interrupts are on is kept in a variable, not read back from
 * EFLAGS with pushf: under trap-and-emulate the guest kernel runs at real
 * ring 3 and pushf shows the host's IF, not its own (Popek and Goldberg's
 * "sensitive but not privileged"; see sensitive.c). cli and sti do trap,
 * so the monitor keeps the real flag right, and this copy stays honest.
 */
#include "kernel.h"
#include "arch.h"

static bool enabled;      /* the interrupt flag, as the kernel last set it */
static int depth;         /* irq_push_off() calls not yet popped */
static bool enabled_before;

bool irq_enabled(void)
{
    return enabled;
}

/* For trap() and the scheduler: the CPU changed IF behind our back (an
 * interrupt gate clears it, iret restores it), so they tell us. */
void irq_set_state(bool on)
{
    enabled = on;
}

void irq_push_off(void)
{
    bool was = enabled;
    arch_irq_disable();
    enabled = false;
    if (depth++ == 0)
        enabled_before = was;
}

void irq_pop(void)
{
    if (depth <= 0)
        panic("irq_pop without irq_push_off");
    if (--depth == 0 && enabled_before) {
        enabled = true;
        arch_irq_enable();
    }
}
