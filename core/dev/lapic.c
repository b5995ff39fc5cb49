/*
 * lapic.c - the local APIC (Intel SDM vol. 3, ch. 10). See lapic.h for what
 * is and is not modelled.
 *
 * The register file is 4 KiB of 32-bit registers on 16-byte boundaries
 * (SDM table 10-1); an access that is not an aligned dword reads the
 * register's bytes it covers and its write is dropped (the SDM leaves such
 * accesses undefined). An offset with no register sets ESR bit 7, "illegal
 * register address", as QEMU does.
 */
#include "lapic.h"

#include <string.h>

/* Register offsets (SDM table 10-1). */
enum {
    REG_ID = 0x20, REG_VERSION = 0x30, REG_TPR = 0x80, REG_APR = 0x90, REG_PPR = 0xa0,
    REG_EOI = 0xb0, REG_LDR = 0xd0, REG_DFR = 0xe0, REG_SVR = 0xf0, REG_ISR = 0x100,
    REG_TMR = 0x180, REG_IRR = 0x200, REG_ESR = 0x280, REG_ICR_LOW = 0x300,
    REG_ICR_HIGH = 0x310, REG_LVT = 0x320, REG_TIMER_INITIAL = 0x380,
    REG_TIMER_CURRENT = 0x390, REG_TIMER_DIVIDE = 0x3e0,
};

/* Version register (SDM 10.4.8): version 0x14 (an integrated xAPIC), max
 * LVT entry 5 (six entries), as QEMU's. */
#define VERSION ((uint32_t)(LVT_COUNT - 1) << 16 | 0x14)

#define SVR_ENABLE     (1u << 8)
#define LVT_MASKED     (1u << 16)
#define LVT_PERIODIC   (1u << 17)
#define LVT_MODE(v)    ((v) >> 8 & 7)
#define MODE_FIXED     0
#define MODE_LOWEST    1
#define MODE_EXTINT    7
#define ESR_SEND_ILLEGAL_VECTOR    (1u << 5)
#define ESR_RECEIVE_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER       (1u << 7)
/* The smallest timer period the run loop is asked to keep: below it the
 * periodic timer still counts, but interrupts are spaced 10 us apart
 * (one IRR bit cannot hold more than one pending interrupt anyway). */
#define TIMER_MIN_PERIOD_NS 10000u

/* Writable bits of each LVT entry (SDM figure 10-8): timer = vector, mask,
 * periodic; LINT0/1 = vector, delivery mode, polarity, trigger, mask;
 * error = vector, mask; thermal and performance = vector, mode, mask. */
static const uint32_t lvt_writable[LVT_COUNT] = {
    [LVT_TIMER] = 0x300ff, [LVT_THERMAL] = 0x107ff, [LVT_PERF] = 0x107ff,
    [LVT_LINT0] = 0x1a7ff, [LVT_LINT1] = 0x1a7ff, [LVT_ERROR] = 0x100ff,
};

static bool globally_enabled(const struct lapic *lapic)
{
    return (*lapic->apic_base_msr & LAPIC_MSR_ENABLE) != 0;
}

static bool software_enabled(const struct lapic *lapic)
{
    return (lapic->svr & SVR_ENABLE) != 0;
}

/* The highest vector set in a 256-bit register, or -1. */
static int highest(const uint32_t bits[8])
{
    for (int word = 7; word >= 0; word--)
        if (bits[word])
            return word * 32 + 31 - __builtin_clz(bits[word]);
    return -1;
}

static void set_bit(uint32_t bits[8], int vector) { bits[vector / 32] |= 1u << (vector % 32); }
static void clear_bit(uint32_t bits[8], int vector) { bits[vector / 32] &= ~(1u << (vector % 32)); }
static bool test_bit(const uint32_t bits[8], int vector) { return bits[vector / 32] >> (vector % 32) & 1; }

/* SDM 10.8.3.1: PPR is TPR if TPR's class is at least the class of the
 * highest in-service vector, else that class with sub-class 0. */
static uint32_t processor_priority(const struct lapic *lapic)
{
    int isrv = highest(lapic->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
    return (lapic->tpr & 0xf0) >= isr_class ? lapic->tpr : isr_class;
}

/* The IRR's highest vector is delivered only if its class is above PPR's. */
static void update_pending(struct lapic *lapic)
{
    int irrv = highest(lapic->irr);
    lapic->fixed_pending = globally_enabled(lapic) && software_enabled(lapic) && irrv >= 0 &&
                           ((uint32_t)irrv & 0xf0) > (processor_priority(lapic) & 0xf0);
}

static void count_unsupported(struct lapic *lapic, const char *what)
{
    if (lapic->stats)
        stats_count(stats_counter(lapic->stats, "apic", what), 0);
}

void lapic_accept(struct lapic *lapic, int vector, bool level)
{
    /* SDM 10.5.3: vectors 0-15 are illegal; the receiver flags them. */
    if (vector < 16 || vector > 255) {
        lapic->esr_pending |= ESR_RECEIVE_ILLEGAL_VECTOR;
        return;
    }
    set_bit(lapic->irr, vector);
    if (level)
        set_bit(lapic->tmr, vector);
    else
        clear_bit(lapic->tmr, vector);
    update_pending(lapic);
}

int lapic_acknowledge(struct lapic *lapic)
{
    if (!globally_enabled(lapic) || !lapic->fixed_pending)
        return -1;
    int vector = highest(lapic->irr);
    clear_bit(lapic->irr, vector);
    set_bit(lapic->isr, vector);
    update_pending(lapic);
    return vector;
}

/* SDM 10.8.5: EOI retires the highest in-service vector. */
static void end_of_interrupt(struct lapic *lapic)
{
    int vector = highest(lapic->isr);
    if (vector < 0)
        return;
    clear_bit(lapic->isr, vector);
    bool level = test_bit(lapic->tmr, vector);
    update_pending(lapic);
    if (lapic->eoi_counter)
        stats_count(lapic->eoi_counter, 0);
    if (level && lapic->eoi_broadcast)
        lapic->eoi_broadcast(lapic->eoi_context, vector);
}

/* ---- the timer (SDM 10.5.4) ---------------------------------------------- */

/* Divide configuration bits 0, 1 and 3: 000 = 2 ... 110 = 128, 111 = 1. */
static uint32_t timer_divisor(const struct lapic *lapic)
{
    uint32_t code = (lapic->timer_divide & 3) | (lapic->timer_divide & 8) >> 1;
    return code == 7 ? 1 : 2u << code;
}

static uint64_t timer_period_ns(const struct lapic *lapic)
{
    return (uint64_t)lapic->timer_initial * timer_divisor(lapic);
}

static bool timer_periodic(const struct lapic *lapic)
{
    return (lapic->lvt[LVT_TIMER] & LVT_PERIODIC) != 0;
}

static void timer_start(struct lapic *lapic, uint64_t now)
{
    lapic->timer_start_ns = now;
    lapic->timer_next_ns = lapic->timer_initial ? now + timer_period_ns(lapic) : UINT64_MAX;
}

static uint32_t timer_current(const struct lapic *lapic)
{
    if (!lapic->timer_initial)
        return 0;
    uint64_t period = timer_period_ns(lapic);
    uint64_t elapsed = lapic->clock(lapic->clock_context) - lapic->timer_start_ns;
    if (elapsed >= period && !timer_periodic(lapic))
        return 0;
    elapsed %= period;
    return lapic->timer_initial - (uint32_t)(elapsed / timer_divisor(lapic));
}

void lapic_update(struct lapic *lapic)
{
    uint64_t now = lapic->clock(lapic->clock_context);
    if (now < lapic->timer_next_ns)
        return;
    uint32_t lvt = lapic->lvt[LVT_TIMER];
    if (!(lvt & LVT_MASKED)) {
        lapic_accept(lapic, (int)(lvt & 0xff), false);
        if (lapic->timer_counter)
            stats_count(lapic->timer_counter, 0);
    }
    if (!timer_periodic(lapic)) {
        lapic->timer_next_ns = UINT64_MAX;
        return;
    }
    /* Periods that passed while the guest was not running are lost, as the
     * PIT's are: one interrupt, then the next period boundary after now. */
    uint64_t period = timer_period_ns(lapic);
    uint64_t periods = (now - lapic->timer_start_ns) / period + 1;
    lapic->timer_next_ns = lapic->timer_start_ns + periods * period;
    if (lapic->timer_next_ns < now + TIMER_MIN_PERIOD_NS)
        lapic->timer_next_ns = now + TIMER_MIN_PERIOD_NS;
}

uint64_t lapic_next_deadline_ns(const struct lapic *lapic)
{
    return globally_enabled(lapic) ? lapic->timer_next_ns : UINT64_MAX;
}

/* ---- the interrupt command register (SDM 10.6) ----------------------------- */

/* Whether an ICR destination names this APIC (SDM 10.6.2): physical mode
 * compares the APIC ID (0xff: everyone); logical mode the LDR, in the flat
 * (DFR 1111) or cluster (DFR 0000) model. */
bool lapic_is_destination(const struct lapic *lapic, uint8_t destination, bool logical)
{
    if (!logical)
        return destination == 0xff || destination == lapic->id >> 24;
    uint8_t logical_id = (uint8_t)(lapic->ldr >> 24);
    if (destination == 0xff)
        return true;
    if ((lapic->dfr >> 28) == 0xf)
        return (destination & logical_id) != 0;
    return (destination >> 4) == (logical_id >> 4) && (destination & logical_id & 0xf) != 0;
}

static void send_ipi(struct lapic *lapic)
{
    uint32_t icr = lapic->icr_low;
    int vector = (int)(icr & 0xff), mode = (int)LVT_MODE(icr);
    unsigned shorthand = icr >> 18 & 3;
    uint8_t destination = (uint8_t)(lapic->icr_high >> 24);
    bool to_self = shorthand == 1 || shorthand == 2 ||
                   (shorthand == 0 && lapic_is_destination(lapic, destination, icr >> 11 & 1));
    if (lapic->ipi_counter)
        stats_count(lapic->ipi_counter, 0);
    if (mode != MODE_FIXED && mode != MODE_LOWEST) {
        static const char *names[8] = {"", "", "unsupported-ipi-smi", "unsupported-ipi-mode3",
                                       "unsupported-ipi-nmi", "unsupported-ipi-init",
                                       "unsupported-ipi-sipi", "unsupported-ipi-mode7"};
        count_unsupported(lapic, names[mode]);
        return;
    }
    if (vector < 16) {
        lapic->esr_pending |= ESR_SEND_ILLEGAL_VECTOR;
        return;
    }
    if (to_self)
        lapic_accept(lapic, vector, (icr >> 15 & 1) != 0);
}

/* ---- the register file ------------------------------------------------------ */

static uint32_t read_register(struct lapic *lapic, uint32_t reg)
{
    if (reg >= REG_ISR && reg < REG_ISR + 0x80)
        return lapic->isr[(reg - REG_ISR) / 16];
    if (reg >= REG_TMR && reg < REG_TMR + 0x80)
        return lapic->tmr[(reg - REG_TMR) / 16];
    if (reg >= REG_IRR && reg < REG_IRR + 0x80)
        return lapic->irr[(reg - REG_IRR) / 16];
    if (reg >= REG_LVT && reg < REG_LVT + 0x10 * LVT_COUNT)
        return lapic->lvt[(reg - REG_LVT) / 16];
    switch (reg) {
    case REG_ID: return lapic->id;
    case REG_VERSION: return VERSION;
    case REG_TPR: return lapic->tpr;
    case REG_APR: return 0;   /* arbitration: one CPU on the bus always wins */
    case REG_PPR: return processor_priority(lapic);
    case REG_EOI: return 0;   /* write-only */
    case REG_LDR: return lapic->ldr;
    case REG_DFR: return lapic->dfr;
    case REG_SVR: return lapic->svr;
    case REG_ESR: return lapic->esr;
    case REG_ICR_LOW: return lapic->icr_low;   /* delivery status 0: sent */
    case REG_ICR_HIGH: return lapic->icr_high;
    case REG_TIMER_INITIAL: return lapic->timer_initial;
    case REG_TIMER_CURRENT: return timer_current(lapic);
    case REG_TIMER_DIVIDE: return lapic->timer_divide;
    default:
        lapic->esr_pending |= ESR_ILLEGAL_REGISTER;
        return 0;
    }
}

/* SDM 10.4.7.2: while the APIC is software-disabled every LVT mask bit is
 * set and cannot be cleared. */
static void write_lvt(struct lapic *lapic, int index, uint32_t value)
{
    value &= lvt_writable[index];
    if (!software_enabled(lapic))
        value |= LVT_MASKED;
    bool mode_changed = index == LVT_TIMER &&
                        ((value ^ lapic->lvt[index]) & LVT_PERIODIC) != 0;
    lapic->lvt[index] = value;
    if (index == LVT_LINT0 || index == LVT_LINT1) {
        unsigned mode = LVT_MODE(value);
        if (!(value & LVT_MASKED) && mode != MODE_EXTINT && !(index == LVT_LINT1 && mode == 4))
            count_unsupported(lapic, "unsupported-lint-mode");
    }
    if (mode_changed)
        timer_start(lapic, lapic->clock(lapic->clock_context));
}

static void write_svr(struct lapic *lapic, uint32_t value)
{
    lapic->svr = value & 0x1ff;   /* vector and enable; no focus checking, as QEMU */
    if (!software_enabled(lapic))
        for (int i = 0; i < LVT_COUNT; i++)
            lapic->lvt[i] |= LVT_MASKED;
    update_pending(lapic);
}

static void write_register(struct lapic *lapic, uint32_t reg, uint32_t value)
{
    if (reg >= REG_LVT && reg < REG_LVT + 0x10 * LVT_COUNT) {
        write_lvt(lapic, (int)(reg - REG_LVT) / 16, value);
        return;
    }
    switch (reg) {
    case REG_ID: lapic->id = value & 0xff000000u; break;
    case REG_TPR: lapic->tpr = value & 0xff; update_pending(lapic); break;
    case REG_EOI: end_of_interrupt(lapic); break;
    case REG_LDR: lapic->ldr = value & 0xff000000u; break;
    case REG_DFR: lapic->dfr = value | 0x0fffffffu; break;
    case REG_SVR: write_svr(lapic, value); break;
    case REG_ESR:   /* SDM 10.5.3: a write latches the errors seen since the last */
        lapic->esr = lapic->esr_pending;
        lapic->esr_pending = 0;
        break;
    case REG_ICR_LOW: lapic->icr_low = value & 0x000ccfffu; send_ipi(lapic); break;
    case REG_ICR_HIGH: lapic->icr_high = value & 0xff000000u; break;
    case REG_TIMER_INITIAL:
        lapic->timer_initial = value;
        timer_start(lapic, lapic->clock(lapic->clock_context));
        break;
    case REG_TIMER_DIVIDE:
        /* The SDM does not say what a new divisor does to a running count:
         * here the count starts again from the initial count. */
        lapic->timer_divide = value & 0xb;
        timer_start(lapic, lapic->clock(lapic->clock_context));
        break;
    case REG_VERSION: case REG_APR: case REG_PPR: case REG_TIMER_CURRENT:
        break;   /* read-only */
    default:
        if (!(reg >= REG_ISR && reg < REG_IRR + 0x80))
            lapic->esr_pending |= ESR_ILLEGAL_REGISTER;
        break;
    }
}

/* While IA32_APIC_BASE[11] is clear the APIC is not there (SDM 10.4.3):
 * its page reads as all ones like unclaimed memory, writes are dropped. */
static uint32_t lapic_mmio_read(void *device, uint32_t offset, unsigned size)
{
    struct lapic *lapic = device;
    if (!globally_enabled(lapic))
        return 0xffffffffu;
    uint32_t within = offset & 0xf;
    if (within + size > 4)
        return 0;
    return read_register(lapic, offset & 0xff0) >> (8 * within);
}

static void lapic_mmio_write(void *device, uint32_t offset, unsigned size, uint32_t value)
{
    struct lapic *lapic = device;
    if (!globally_enabled(lapic))
        return;
    if ((offset & 0xf) != 0 || size != 4) {
        count_unsupported(lapic, "unsupported-partial-write");
        return;
    }
    write_register(lapic, offset & 0xff0, value);
}

/* The state QEMU's SeaBIOS leaves for the operating system: software
 * enabled with spurious vector 0xff, LINT0 = ExtINT and LINT1 = NMI, both
 * level-triggered (virtual-wire mode, MP spec 3.6.2.2), the rest masked
 * (SDM 10.4.7.1 power-up state). */
void lapic_init(struct lapic *lapic, const uint64_t *apic_base_msr, struct stats *stats,
                uint64_t (*clock)(void *context), void *clock_context)
{
    memset(lapic, 0, sizeof *lapic);
    lapic->apic_base_msr = apic_base_msr;
    lapic->stats = stats;
    lapic->clock = clock;
    lapic->clock_context = clock_context;
    lapic->dfr = 0xffffffffu;
    lapic->svr = SVR_ENABLE | 0xff;
    for (int i = 0; i < LVT_COUNT; i++)
        lapic->lvt[i] = LVT_MASKED;
    lapic->lvt[LVT_LINT0] = 0x8700;
    lapic->lvt[LVT_LINT1] = 0x8400;
    lapic->timer_next_ns = UINT64_MAX;
    if (stats) {
        lapic->timer_counter = stats_counter(stats, "apic", "timer");
        lapic->eoi_counter = stats_counter(stats, "apic", "eoi");
        lapic->ipi_counter = stats_counter(stats, "apic", "ipi");
    }
}

int lapic_register(struct lapic *lapic, struct bus *bus)
{
    return bus_register_mmio(bus, LAPIC_BASE, LAPIC_SIZE, "lapic", lapic, lapic_mmio_read,
                             lapic_mmio_write);
}
