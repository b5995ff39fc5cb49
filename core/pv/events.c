/*
 * events.c - what replaces the PIC, the PIT, HLT, the UART and the debug
 * exit port for a pv guest: events, the one-shot timer, time without an
 * exit, sched_op and the console.
 *
 * An event sets a bit in the shared info page's `pending`. It is delivered
 * as an upcall - an interrupt at PV_UPCALL_VECTOR through the trap table -
 * when the guest's mask byte is 0; delivering it sets the mask to 1, as an
 * interrupt gate clears IF, and the PV_IRET that ends the handler restores
 * it. The guest changes the mask with a plain store: no exit at all for
 * what cli and sti cost trapemu. The VMM looks at the mask only at its own
 * moments (a hypercall, the end of a slice), so a guest that unmasks with
 * events pending calls PV_EVENT_UNMASK to have them now.
 */
#include "pv_internal.h"

#include <stdio.h>

#include "core/vm.h"
#include "core/x86/emulator.h"

static const char *const channel_names[PV_EVENT_CHANNELS] = {
    [PV_EVENT_TIMER] = "timer", [PV_EVENT_CONSOLE] = "console", [PV_EVENT_SELF] = "self",
    [PV_EVENT_DISK] = "disk",
};

/* ---- time ------------------------------------------------------------------- */

static uint64_t host_tsc(void)
{
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return ((uint64_t)high << 32) | low;
}

/* Nanoseconds per TSC tick as a 32.32 fixed-point number, measured over
 * `ns` nanoseconds of host time. */
static uint32_t ns_per_tick(uint64_t ns, uint64_t ticks)
{
    if (ticks == 0)
        return 0;
    unsigned __int128 mul = ((unsigned __int128)ns << 32) / ticks;
    return mul > UINT32_MAX ? UINT32_MAX : (uint32_t)mul;
}

/* System time 0 is now; the TSC rate is first measured over 1 ms, then
 * over the whole run at each publication. The rate is the host's (the
 * guest's TSC is the host's plus an offset that a technique may set at
 * attach), so time_base_tsc is a host TSC value. */
void pv_time_init(struct pv *pv)
{
    pv->time_base_ns = stats_now_ns();
    pv->time_base_tsc = host_tsc();
    while (stats_now_ns() - pv->time_base_ns < 1000000)
        ;
    pv->tsc_to_ns_mul = ns_per_tick(stats_now_ns() - pv->time_base_ns,
                                    host_tsc() - pv->time_base_tsc);
}

void pv_time_publish(struct pv *pv)
{
    struct pv_shared_info *shared = pv_shared(pv);
    uint64_t now = stats_now_ns(), tsc = host_tsc();
    if (now - pv->time_base_ns > 10000000)
        pv->tsc_to_ns_mul = ns_per_tick(now - pv->time_base_ns, tsc - pv->time_base_tsc);
    tsc += (uint64_t)pv->vm->cpu.tsc_offset;             /* as the guest reads it */
    shared->time_version++;                              /* odd: being written */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    shared->tsc_timestamp = tsc;
    shared->system_time_ns = now - pv->time_base_ns;
    shared->tsc_to_ns_mul = pv->tsc_to_ns_mul;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    shared->time_version++;
}

/* ---- events ----------------------------------------------------------------- */

void pv_raise_event(struct pv *pv, unsigned channel)
{
    pv_shared(pv)->pending |= 1u << channel;
    pv_update_upcall(pv);
}

void pv_update_upcall(struct pv *pv)
{
    if (!pv->initialised) {
        pv->upcall_due = false;
        return;
    }
    struct pv_shared_info *shared = pv_shared(pv);
    pv->upcall_due = pv->upcall_registered && shared->pending && !shared->event_mask;
}

int pv_acknowledge_upcall(struct pv *pv)
{
    struct pv_shared_info *shared = pv_shared(pv);
    uint32_t pending = shared->pending;
    uint64_t now = stats_now_ns();
    for (unsigned channel = 0; channel < PV_EVENT_CHANNELS; channel++) {
        if (!(pending & (1u << channel)))
            continue;
        if (!pv->event_rows[channel])
            pv->event_rows[channel] = stats_counter(&pv->vm->stats, "pv-event", channel_names[channel]);
        stats_log(&pv->vm->stats, pv->event_rows[channel], 0, now, pv->vm->cpu.eip, NULL);
    }
    shared->event_mask = 1;
    pv->upcall_due = false;
    pv->vm->cpu.halted = false;
    /* The frame says "IF was set": events were unmasked, and PV_IRET
     * restores the mask from it. */
    pv->vm->cpu.eflags |= EFLAGS_IF;
    return PV_UPCALL_VECTOR;
}

void pv_note_page_fault(struct pv *pv, uint32_t cr2)
{
    if (pv->initialised)
        pv_shared(pv)->cr2 = cr2;
}

/* Typed input into the shared info page's ring. The consumer index is the
 * guest's: one that claims more than the ring holds gets nothing. */
static void feed_console(struct pv *pv)
{
    struct pv_shared_info *shared = pv_shared(pv);
    uint32_t producer = shared->console_in_producer, held = producer - shared->console_in_consumer;
    if (held >= PV_CONSOLE_RING_SIZE)
        return;
    uint8_t bytes[PV_CONSOLE_RING_SIZE];
    size_t taken = console_take(&pv->vm->console, bytes, PV_CONSOLE_RING_SIZE - held);
    for (size_t i = 0; i < taken; i++)
        shared->console_in[(producer + i) % PV_CONSOLE_RING_SIZE] = bytes[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    shared->console_in_producer = producer + (uint32_t)taken;
    if (taken)
        pv_raise_event(pv, PV_EVENT_CONSOLE);
}

void pv_service(struct pv *pv, uint64_t now_ns)
{
    if (!pv->initialised)
        return;
    feed_console(pv);
    if (pv->timer_deadline_ns && now_ns >= pv->timer_deadline_ns) {
        pv->timer_deadline_ns = 0;
        pv_raise_event(pv, PV_EVENT_TIMER);
    }
    pv_time_publish(pv);
    pv_update_upcall(pv);
}

uint64_t pv_next_deadline(const struct pv *pv)
{
    return pv->initialised && pv->timer_deadline_ns ? pv->timer_deadline_ns : UINT64_MAX;
}

bool pv_can_wake(const struct pv *pv)
{
    return pv->timer_deadline_ns || pv->upcall_due || pv->vm->console.input_open;
}

/* ---- hypercalls ----------------------------------------------------------- */

/* A one-shot deadline in system time; one already past fires at once. */
int32_t pv_set_timer(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    (void)e;
    uint64_t deadline = args[0] | (uint64_t)args[1] << 32;
    if (deadline == 0) {
        pv->timer_deadline_ns = 0;
        return 0;
    }
    if (deadline > UINT64_MAX / 2)
        return pv_refuse(pv, PV_EINVAL, "timer-deadline", NULL);
    pv->timer_deadline_ns = pv->time_base_ns + deadline;
    pv_service(pv, stats_now_ns());
    return 0;
}

int32_t pv_sched_op(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    char reason[96];
    switch (args[0]) {
    case PV_SCHED_YIELD:
        return 0;
    case PV_SCHED_BLOCK:
        /* As sti; hlt: unmask, and sleep unless an event is already there. */
        pv_shared(pv)->event_mask = 0;
        pv_update_upcall(pv);
        if (!pv->upcall_due)
            e->cpu->halted = true;
        return 0;
    case PV_SCHED_SHUTDOWN:
        if (args[1] > 127)
            return pv_refuse(pv, PV_EINVAL, "shutdown-status", NULL);
        snprintf(reason, sizeof reason, "the guest shut down with status %u (PV_SCHED_SHUTDOWN)",
                 args[1]);
        vm_request_stop(pv->vm, (int)(args[1] << 1 | 1), reason);
        e->cpu->halted = true;                    /* nothing more runs */
        return 0;
    default:
        return pv_refuse(pv, PV_ENOSYS, "sched-op", NULL);
    }
}

int32_t pv_console_write(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    static uint8_t bytes[PV_CONSOLE_WRITE_MAX];
    uint32_t length = args[1];
    if (length > PV_CONSOLE_WRITE_MAX)
        return pv_refuse(pv, PV_E2BIG, "console-write-length", NULL);
    if (pv_copy_from_guest(pv, e, bytes, args[0], length) < 0)
        return pv_refuse(pv, PV_EFAULT, "console-write-pointer", NULL);
    for (uint32_t i = 0; i < length; i++)
        console_write(&pv->vm->console, bytes[i]);
    return (int32_t)length;
}

/* Only the guest's own channel can be raised by the guest: the timer and
 * the console are the VMM's. */
int32_t pv_event_send(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    (void)e;
    if (args[0] >= PV_EVENT_CHANNELS)
        return pv_refuse(pv, PV_EINVAL, "event-channel", NULL);
    if (args[0] != PV_EVENT_SELF)
        return pv_refuse(pv, PV_EPERM, "event-channel-vmm", NULL);
    pv_raise_event(pv, args[0]);
    return 0;
}

int32_t pv_event_unmask(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    (void)pv;
    (void)e;
    (void)args;
    return 0;                  /* pv_hypercall looks at the mask after every call */
}
