/*
 * ioapic.c - the I/O APIC (Intel 82093AA datasheet, 3.0-3.2).
 *
 * The CPU sees two registers: IOREGSEL at offset 0x00 selects an internal
 * register, IOWIN at 0x10 reads or writes it, 32 bits at a time. Internal
 * registers: 0x00 ID, 0x01 version, 0x02 arbitration, 0x10-0x3F the
 * redirection table (entry n is 0x10 + 2n, low half, and 0x11 + 2n, high).
 * An access of another size or at another offset reads 0 and writes
 * nothing.
 */
#include "ioapic.h"

#include <string.h>

#define REG_SELECT 0x00
#define REG_WINDOW 0x10
#define IOAPIC_ID  0x00
#define IOAPIC_VER 0x01
#define IOAPIC_ARB 0x02
#define IOAPIC_REDIRECTION 0x10
/* Maximum redirection entry 23 and version 0x20, as QEMU's I/O APIC: the
 * version of the I/O APICs in later chipsets, which adds the EOI register
 * at offset 0x40 (a directed EOI: the vector written clears the remote IRR
 * of the entries that carry it). The MP table still says 0x11, as QEMU's
 * firmware does. */
#define VERSION ((uint32_t)(IOAPIC_PINS - 1) << 16 | 0x20)
#define REG_EOI 0x40

/* Redirection entry bits (82093AA 3.2.4). */
#define RTE_VECTOR(e)      ((int)((e) & 0xff))
#define RTE_MODE(e)        ((int)((e) >> 8 & 7))
#define RTE_LOGICAL        (1ull << 11)
#define RTE_PENDING        (1ull << 12)   /* delivery status, read-only */
#define RTE_ACTIVE_LOW     (1ull << 13)
#define RTE_REMOTE_IRR     (1ull << 14)   /* read-only */
#define RTE_LEVEL          (1ull << 15)
#define RTE_MASKED         (1ull << 16)
#define RTE_READ_ONLY      (RTE_PENDING | RTE_REMOTE_IRR)
/* Everything else is stored as written, reserved bits 17-55 included, as
 * QEMU does (the datasheet only says "reserved"). */
#define RTE_WRITABLE       (~RTE_READ_ONLY)

static bool asserted(const struct ioapic *ioapic, int pin)
{
    bool level = ioapic->levels >> pin & 1;
    return (ioapic->redirection[pin] & RTE_ACTIVE_LOW) ? !level : level;
}

/* Send the pin's interrupt message to the local APIC (82093AA 3.2.4):
 * fixed and lowest priority go to the one CPU if the destination names
 * it; a level-triggered one sets remote IRR until the EOI comes back. */
static void deliver(struct ioapic *ioapic, int pin)
{
    uint64_t entry = ioapic->redirection[pin];
    int mode = RTE_MODE(entry);
    if (mode != 0 && mode != 1) {
        static const char *names[8] = {"", "", "unsupported-ioapic-smi", "unsupported-ioapic-mode3",
                                       "unsupported-ioapic-nmi", "unsupported-ioapic-init",
                                       "unsupported-ioapic-mode6", "unsupported-ioapic-extint"};
        if (ioapic->stats)
            stats_count(stats_counter(ioapic->stats, "apic", names[mode]), 0);
        return;
    }
    if (!lapic_is_destination(ioapic->lapic, (uint8_t)(entry >> 56), (entry & RTE_LOGICAL) != 0))
        return;
    bool level = (entry & RTE_LEVEL) != 0;
    if (level)
        ioapic->redirection[pin] |= RTE_REMOTE_IRR;
    if (ioapic->interrupt_counter)
        stats_count(ioapic->interrupt_counter, 0);
    lapic_accept(ioapic->lapic, RTE_VECTOR(entry), level);
}

/* Edge: a rising edge is one interrupt. Level: an asserted, unmasked pin
 * is delivered whenever remote IRR is clear. */
static void evaluate(struct ioapic *ioapic, int pin, bool rising)
{
    uint64_t entry = ioapic->redirection[pin];
    if (entry & RTE_MASKED)
        return;
    if (entry & RTE_LEVEL) {
        if (asserted(ioapic, pin) && !(entry & RTE_REMOTE_IRR))
            deliver(ioapic, pin);
    } else if (rising) {
        deliver(ioapic, pin);
    }
}

void ioapic_set_pin(struct ioapic *ioapic, int pin, int level)
{
    if (pin < 0 || pin >= IOAPIC_PINS)
        return;
    bool before = asserted(ioapic, pin);
    if (level)
        ioapic->levels |= 1u << pin;
    else
        ioapic->levels &= ~(1u << pin);
    evaluate(ioapic, pin, !before && asserted(ioapic, pin));
}

void ioapic_eoi(void *device, int vector)
{
    struct ioapic *ioapic = device;
    for (int pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t entry = ioapic->redirection[pin];
        if ((entry & RTE_LEVEL) && (entry & RTE_REMOTE_IRR) && RTE_VECTOR(entry) == vector) {
            ioapic->redirection[pin] &= ~RTE_REMOTE_IRR;
            evaluate(ioapic, pin, false);
        }
    }
}

static uint32_t read_register(const struct ioapic *ioapic)
{
    uint8_t reg = ioapic->select;
    if (reg >= IOAPIC_REDIRECTION && reg < IOAPIC_REDIRECTION + 2 * IOAPIC_PINS) {
        uint64_t entry = ioapic->redirection[(reg - IOAPIC_REDIRECTION) / 2];
        return (uint32_t)(reg & 1 ? entry >> 32 : entry);
    }
    switch (reg) {
    case IOAPIC_ID: return ioapic->id;
    case IOAPIC_VER: return VERSION;
    case IOAPIC_ARB: return ioapic->id;   /* 3.2.3: loaded with the ID */
    default: return 0xffffffffu;          /* no such register */
    }
}

static void write_register(struct ioapic *ioapic, uint32_t value)
{
    uint8_t reg = ioapic->select;
    if (reg == IOAPIC_ID) {
        ioapic->id = value & 0x0f000000u;
        return;
    }
    if (reg < IOAPIC_REDIRECTION || reg >= IOAPIC_REDIRECTION + 2 * IOAPIC_PINS)
        return;   /* read-only or absent */
    int pin = (reg - IOAPIC_REDIRECTION) / 2;
    uint64_t entry = ioapic->redirection[pin];
    uint64_t half = reg & 1 ? (uint64_t)value << 32 : value;
    uint64_t mask = reg & 1 ? 0xffffffff00000000ull : 0xffffffffull;
    entry = (entry & ~(mask & RTE_WRITABLE)) | (half & mask & RTE_WRITABLE);
    if (!(entry & RTE_LEVEL))
        entry &= ~RTE_REMOTE_IRR;   /* remote IRR means nothing for edge */
    ioapic->redirection[pin] = entry;
    evaluate(ioapic, pin, false);   /* unmasking an asserted level pin */
}

/* Byte and word accesses reach IOREGSEL (an 8-bit register); IOWIN is
 * 32-bit only (82093AA 3.1): a narrower access is dropped or reads 0. */
static uint32_t ioapic_mmio_read(void *device, uint32_t offset, unsigned size)
{
    struct ioapic *ioapic = device;
    if (offset == REG_SELECT)
        return ioapic->select;
    if (offset == REG_WINDOW && size == 4)
        return read_register(ioapic);
    return 0;
}

static void ioapic_mmio_write(void *device, uint32_t offset, unsigned size, uint32_t value)
{
    struct ioapic *ioapic = device;
    if (offset == REG_SELECT)
        ioapic->select = (uint8_t)value;
    else if (offset == REG_WINDOW && size == 4)
        write_register(ioapic, value);
    else if (offset == REG_EOI && size == 4)
        ioapic_eoi(ioapic, (int)(value & 0xff));
}

void ioapic_init(struct ioapic *ioapic, struct lapic *lapic, struct stats *stats)
{
    memset(ioapic, 0, sizeof *ioapic);
    ioapic->lapic = lapic;
    ioapic->stats = stats;
    for (int pin = 0; pin < IOAPIC_PINS; pin++)
        ioapic->redirection[pin] = RTE_MASKED;   /* 3.2.4: masked at reset */
    if (stats)
        ioapic->interrupt_counter = stats_counter(stats, "apic", "ioapic-interrupt");
}

int ioapic_register(struct ioapic *ioapic, struct bus *bus)
{
    return bus_register_mmio(bus, IOAPIC_BASE, IOAPIC_SIZE, "ioapic", ioapic, ioapic_mmio_read,
                             ioapic_mmio_write);
}
