/*
 * lapic.h - the local APIC of the one CPU, xAPIC mode, memory-mapped at
 * 0xFEE00000 (Intel SDM vol. 3, ch. 10 "Advanced Programmable Interrupt
 * Controller (APIC)").
 *
 * Implemented: ID, version, TPR, PPR, EOI, LDR, DFR, SVR, ISR/TMR/IRR, ESR,
 * the ICR (fixed and lowest-priority IPIs to this CPU; delivery status is
 * always idle because a send completes at once), the six LVT entries, the
 * timer (one-shot and periodic, divide configuration, initial and current
 * count) counting at 1 GHz / divisor on the core's clock, as QEMU's does;
 * delivery to the CPU by the priority rules of SDM 10.8.3.1; LINT0 in
 * ExtINT mode passes the 8259's INTR through (virtual wire, MP spec 3.6.2.2).
 * Not implemented, and counted as "apic"/"unsupported-..." when asked for:
 * NMI, SMI, INIT and SIPI deliveries, LINT0/LINT1 in any mode but ExtINT
 * (LINT1's NMI never fires: nothing drives it), the TSC-deadline timer
 * (CPUID does not offer it), the thermal and performance-counter sources
 * (their LVT entries hold what is written), relocating the APIC base.
 */
#ifndef VMLAB_LAPIC_H
#define VMLAB_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "../stats.h"
#include "bus.h"

#define LAPIC_BASE 0xFEE00000u
#define LAPIC_SIZE 0x1000u
/* IA32_APIC_BASE (MSR 0x1b, SDM 10.4.4): bit 8 BSP, bit 11 global enable. */
#define LAPIC_MSR_BSP    (1u << 8)
#define LAPIC_MSR_ENABLE (1u << 11)
#define LAPIC_MSR_RESET  (LAPIC_BASE | LAPIC_MSR_BSP | LAPIC_MSR_ENABLE)

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

struct lapic {
    const uint64_t *apic_base_msr;     /* the CPU's IA32_APIC_BASE (struct cpu) */
    uint32_t id, tpr, ldr, dfr, svr;
    uint32_t esr, esr_pending;         /* ESR, and errors not yet latched into it */
    uint32_t icr_low, icr_high;
    uint32_t lvt[LVT_COUNT];
    uint32_t irr[8], isr[8], tmr[8];   /* 256 bits each, vector v = word v/32, bit v%32 */
    /* The timer: counting from timer_initial since timer_start_ns, one count
     * per divisor ns; timer_next_ns is when it next reaches zero. */
    uint32_t timer_initial, timer_divide;
    uint64_t timer_start_ns, timer_next_ns;
    uint64_t (*clock)(void *context);
    void *clock_context;
    /* Called when an EOI retires a level-triggered vector (the I/O APIC
     * clears its remote IRR, 82093AA 3.2.4). May be NULL. */
    void (*eoi_broadcast)(void *context, int vector);
    void *eoi_context;
    /* INTR towards the CPU from this APIC's own IRR (cached, see lapic.c). */
    bool fixed_pending;
    struct stats *stats;
    struct stats_counter *timer_counter, *eoi_counter, *ipi_counter;
};

void lapic_init(struct lapic *lapic, const uint64_t *apic_base_msr, struct stats *stats,
                uint64_t (*clock)(void *context), void *clock_context);
int lapic_register(struct lapic *lapic, struct bus *bus);

/* An interrupt message for this CPU (an IPI, the timer, the I/O APIC):
 * sets its IRR bit; level sets its TMR bit too (SDM 10.8.4). */
void lapic_accept(struct lapic *lapic, int vector, bool level);

/* Whether a message's destination (SDM 10.6.2) names this APIC. */
bool lapic_is_destination(const struct lapic *lapic, uint8_t destination, bool logical);

/* Whether the CPU's INTR pin is asserted: this APIC has a deliverable
 * vector, or LINT0 lets the 8259's INTR (pic_intr) through. */
static inline bool lapic_intr(const struct lapic *lapic, bool pic_intr)
{
    if (!(*lapic->apic_base_msr & LAPIC_MSR_ENABLE))
        return pic_intr;    /* SDM 10.4.3: as a processor without an APIC */
    if (lapic->fixed_pending)
        return true;
    uint32_t lint0 = lapic->lvt[LVT_LINT0];
    return pic_intr && !(lint0 & (1u << 16)) && (lint0 >> 8 & 7) == 7;   /* unmasked ExtINT */
}
/* The interrupt acknowledge: the vector of this APIC's highest deliverable
 * interrupt, moved from IRR to ISR, or -1 if the 8259 should answer (ExtINT). */
int lapic_acknowledge(struct lapic *lapic);

/* Time: fire the timer if it expired; when it next does (UINT64_MAX: never). */
void lapic_update(struct lapic *lapic);
uint64_t lapic_next_deadline_ns(const struct lapic *lapic);

#endif
