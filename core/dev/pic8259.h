/*
 * pic8259.h - the two cascaded Intel 8259A programmable interrupt controllers
 * of a PC: the master at ports 0x20-0x21 takes IRQ 0-7, the slave at
 * 0xa0-0xa1 takes IRQ 8-15 and drives the master's IR2.
 *
 * Implemented (Intel 8259A datasheet): ICW1-ICW4 initialisation, edge and
 * level triggering (ICW1 LTIM), OCW1 mask, OCW2 non-specific / specific EOI,
 * rotation and set-priority, OCW3 IRR/ISR read, poll and special mask mode,
 * automatic EOI, special fully nested mode, spurious IR7 / IR15.
 * Not implemented: MCS-80/85 mode (ICW4 uPM = 0; reported on stderr, the
 * chip then behaves as in 8086 mode) and buffered mode (no effect in a VM).
 */
#ifndef VMLAB_PIC8259_H
#define VMLAB_PIC8259_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

struct pic8259 {
    uint8_t irr;            /* interrupt request register */
    uint8_t isr;            /* in-service register */
    uint8_t imr;            /* interrupt mask register (OCW1) */
    uint8_t line_levels;    /* current level of the IR inputs, for edge detection */
    uint8_t vector_base;    /* ICW2, bits 7-3 */
    uint8_t icw3;           /* master: which IRs have a slave; slave: its id */
    uint8_t lowest_priority;/* the IR with the lowest priority (7 after ICW1) */
    int init_step;          /* 0: ready; 2, 3, 4: the next ICW expected */
    bool expect_icw4;
    bool single;            /* ICW1 SNGL: no cascade */
    bool level_triggered;   /* ICW1 LTIM */
    bool auto_eoi;          /* ICW4 AEOI */
    bool rotate_on_auto_eoi;
    bool special_fully_nested; /* ICW4 SFNM */
    bool special_mask;      /* OCW3 SMM */
    bool read_isr;          /* OCW3 RIS: port A0=0 reads ISR instead of IRR */
    bool poll;              /* OCW3 P: the next read is a poll */
    bool warned_mcs80;      /* said "not implemented" once already */
};

struct pic_pair {
    struct pic8259 master, slave;
    /* The master's INT output to the CPU, recomputed after every change. */
    bool intr;
};

/* The state a PC BIOS leaves: vectors 0x08 and 0x70, cascade on IR2,
 * every line masked except the cascade, edge triggered. */
void pic_init(struct pic_pair *pair);
/* Claims 0x20-0x21 and 0xa0-0xa1. Returns 0 or -1. */
int pic_register(struct pic_pair *pair, struct bus *bus);
/* Drives IRQ line irq (0-15); usable as struct irq_line.set_level. */
void pic_set_irq(void *pic_pair, int irq, int level);
/* The CPU's interrupt acknowledge cycle: returns the vector to deliver. */
int pic_acknowledge(struct pic_pair *pair);

#endif
