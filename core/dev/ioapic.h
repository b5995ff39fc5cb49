/*
 * ioapic.h - the I/O APIC at 0xFEC00000 (Intel 82093AA I/O APIC datasheet),
 * with 24 input pins as QEMU's: ISA IRQ n arrives on pin n, except the
 * PIT's IRQ 0, which arrives on pin 2 (the MP table says so,
 * core/boot/bios_tables.c).
 *
 * Implemented: IOREGSEL/IOWIN, the ID, version and arbitration registers,
 * 24 redirection entries (vector, delivery mode, destination mode,
 * polarity, trigger mode with remote IRR, mask, destination), the EOI
 * register of version 0x20, fixed and
 * lowest-priority delivery to the one local APIC, EOI from the local APIC
 * for level-triggered entries. Not implemented, and counted as
 * "apic"/"unsupported-ioapic-..." when a pin would deliver that way: the
 * SMI, NMI, INIT and ExtINT delivery modes.
 */
#ifndef VMLAB_IOAPIC_H
#define VMLAB_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "../stats.h"
#include "bus.h"
#include "lapic.h"

#define IOAPIC_BASE 0xFEC00000u
#define IOAPIC_SIZE 0x1000u
#define IOAPIC_PINS 24

struct ioapic {
    struct lapic *lapic;             /* where interrupts go */
    uint32_t id;                     /* bits 24-27 of register 0 */
    uint8_t select;                  /* IOREGSEL */
    uint64_t redirection[IOAPIC_PINS];
    uint32_t levels;                 /* the input pins' levels, bit per pin */
    struct stats *stats;
    struct stats_counter *interrupt_counter;
};

void ioapic_init(struct ioapic *ioapic, struct lapic *lapic, struct stats *stats);
int ioapic_register(struct ioapic *ioapic, struct bus *bus);

/* An input pin changed level (an ISA device's IRQ line). */
void ioapic_set_pin(struct ioapic *ioapic, int pin, int level);
/* The local APIC retired a level-triggered vector (82093AA 3.2.4: the
 * remote IRR of the entries with that vector clears). */
void ioapic_eoi(void *ioapic, int vector);

#endif
