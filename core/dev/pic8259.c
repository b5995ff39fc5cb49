/*
 * pic8259.c - the PC's master/slave pair of Intel 8259A interrupt controllers.
 *
 * Priorities rotate: IR (lowest_priority + 1) mod 8 has the highest priority
 * and lowest_priority itself the lowest (8259A datasheet, "Rotating
 * Priority"); after ICW1 lowest_priority is 7, which gives the fixed order
 * IR0 > IR1 > ... > IR7. The slave's INT output is wired to the master's IR2,
 * so the slave's requests rank where IR2 ranks on the master.
 */
#include "pic8259.h"

#include <stdio.h>

#define PIC_MASTER_PORT 0x20
#define PIC_SLAVE_PORT 0xa0
#define PIC_CASCADE_IR 2   /* the slave's INT output drives the master's IR2 */

/* 0 is the highest priority, 7 the lowest. */
static int priority_of(const struct pic8259 *chip, int ir)
{
    return (ir - (chip->lowest_priority + 1)) & 7;
}

/* The IR in mask with the highest priority, or -1 if mask is empty. */
static int highest_priority_ir(const struct pic8259 *chip, uint8_t mask)
{
    for (int rank = 0; rank < 8; rank++) {
        int ir = (chip->lowest_priority + 1 + rank) & 7;
        if (mask & (1u << ir))
            return ir;
    }
    return -1;
}

/*
 * The IR this chip would signal on INT, or -1. A request is signalled only if
 * it is unmasked and of higher priority than everything in service
 * (datasheet: "Fully Nested Mode"). Special mask mode lets masked in-service
 * levels stop inhibiting lower ones; special fully nested mode lets the
 * master accept a new request from a slave that is already in service.
 */
static int pending_ir(const struct pic8259 *chip, bool is_master)
{
    uint8_t requests = chip->irr & ~chip->imr;
    int ir = highest_priority_ir(chip, requests);
    if (ir < 0)
        return -1;
    uint8_t in_service = chip->isr;
    if (chip->special_mask)
        in_service &= ~chip->imr;
    if (is_master && chip->special_fully_nested && !chip->single)
        in_service &= ~chip->icw3;
    int current = highest_priority_ir(chip, in_service);
    if (current >= 0 && priority_of(chip, ir) >= priority_of(chip, current))
        return -1;
    return ir;
}

/* An IR input changes level. Edge mode latches a rising edge into the IRR
 * and keeps it after the line falls; level mode makes the IRR follow the
 * line (datasheet, ICW1 LTIM). */
static void chip_set_line(struct pic8259 *chip, int ir, bool level)
{
    uint8_t bit = (uint8_t)(1u << ir);
    if (chip->level_triggered) {
        if (level)
            chip->irr |= bit;
        else
            chip->irr &= ~bit;
    } else if (level && !(chip->line_levels & bit)) {
        chip->irr |= bit;
    }
    if (level)
        chip->line_levels |= bit;
    else
        chip->line_levels &= ~bit;
}

/* Recompute the slave's INT (into the master's IR2) and the master's INT. */
static void pair_update(struct pic_pair *pair)
{
    bool slave_int = pending_ir(&pair->slave, false) >= 0;
    chip_set_line(&pair->master, PIC_CASCADE_IR, slave_int);
    pair->intr = pending_ir(&pair->master, true) >= 0;
}

/* The INTA pulses as seen by one chip: the request moves from IRR to ISR,
 * or is forgotten at once in automatic EOI mode. */
static void chip_acknowledge(struct pic8259 *chip, int ir)
{
    uint8_t bit = (uint8_t)(1u << ir);
    chip->irr &= ~bit;
    if (chip->level_triggered && (chip->line_levels & bit))
        chip->irr |= bit;   /* a level request is still asserted */
    if (chip->auto_eoi) {
        if (chip->rotate_on_auto_eoi)
            chip->lowest_priority = (uint8_t)ir;
    } else {
        chip->isr |= bit;
    }
}

static void chip_power_on(struct pic8259 *chip, uint8_t vector_base, uint8_t icw3, uint8_t imr)
{
    *chip = (struct pic8259){
        .vector_base = vector_base,
        .icw3 = icw3,
        .imr = imr,
        .lowest_priority = 7,
    };
}

void pic_init(struct pic_pair *pair)
{
    chip_power_on(&pair->master, 0x08, 1u << PIC_CASCADE_IR, (uint8_t)~(1u << PIC_CASCADE_IR));
    chip_power_on(&pair->slave, 0x70, PIC_CASCADE_IR, 0xff);
    pair->intr = false;
}

void pic_set_irq(void *pic_pair, int irq, int level)
{
    struct pic_pair *pair = pic_pair;
    if (irq < 0 || irq > 15 || irq == PIC_CASCADE_IR) {
        fprintf(stderr, "pic8259: IRQ %d is not a device line (0-15, except the cascade IRQ 2)\n",
                irq);
        return;
    }
    if (irq < 8)
        chip_set_line(&pair->master, irq, level != 0);
    else
        chip_set_line(&pair->slave, irq - 8, level != 0);
    pair_update(pair);
}

static bool is_cascade_ir(const struct pic8259 *master, int ir)
{
    return !master->single && (master->icw3 & (1u << ir));
}

int pic_acknowledge(struct pic_pair *pair)
{
    struct pic8259 *master = &pair->master, *slave = &pair->slave;
    int vector;
    int ir = pending_ir(master, true);
    if (ir < 0) {
        /* Datasheet: if the request is gone by the INTA pulse, the 8259A
         * answers as if IR7 had asked, without setting ISR7. */
        vector = master->vector_base + 7;
    } else if (is_cascade_ir(master, ir)) {
        chip_acknowledge(master, ir);
        int slave_ir = pending_ir(slave, false);
        if (slave_ir < 0) {
            /* The slave's spurious IR7 (IRQ15). The master has still put
             * IR2 in service, so the guest owes the master an EOI. */
            vector = slave->vector_base + 7;
        } else {
            chip_acknowledge(slave, slave_ir);
            vector = slave->vector_base + slave_ir;
        }
        /* The slave's INT drops during INTA; if it still has a request its
         * INT rises again, which the master latches as a new edge. */
        master->line_levels &= ~(1u << PIC_CASCADE_IR);
    } else {
        chip_acknowledge(master, ir);
        vector = master->vector_base + ir;
    }
    pair_update(pair);
    return vector;
}

/* Once per chip: a guest looping over ICW1 must not flood the terminal. */
static void warn_mcs80_mode(struct pic8259 *chip)
{
    if (chip->warned_mcs80)
        return;
    chip->warned_mcs80 = true;
    fprintf(stderr, "pic8259: MCS-80/85 mode not implemented (ICW4 uPM = 0); "
                    "the controller behaves as in 8086 mode\n");
}

/* ICW1: datasheet, "Initialization Command Words": clears the IMR, resets
 * the edge sense (a line must go low then high again to be seen), gives IR7
 * the lowest priority, clears special mask mode and selects IRR for reads. */
static void write_icw1(struct pic8259 *chip, uint8_t value)
{
    chip->irr = 0;
    chip->isr = 0;
    chip->imr = 0;
    chip->lowest_priority = 7;
    chip->special_mask = false;
    chip->read_isr = false;
    chip->poll = false;
    chip->level_triggered = value & 0x08;
    chip->single = value & 0x02;
    chip->expect_icw4 = value & 0x01;
    if (!chip->expect_icw4) {
        /* "If IC4 = 0, then all functions selected in ICW4 are set to zero." */
        chip->auto_eoi = false;
        chip->rotate_on_auto_eoi = false;
        chip->special_fully_nested = false;
        warn_mcs80_mode(chip);
    }
    chip->init_step = 2;
}

/* OCW2: end of interrupt and priority rotation (R, SL, EOI in bits 7-5). */
static void write_ocw2(struct pic8259 *chip, uint8_t value)
{
    int level = value & 7;
    int highest = highest_priority_ir(chip, chip->isr);
    switch (value >> 5) {
    case 1: /* non-specific EOI */
        if (highest >= 0)
            chip->isr &= ~(1u << highest);
        break;
    case 3: /* specific EOI */
        chip->isr &= ~(1u << level);
        break;
    case 5: /* rotate on non-specific EOI */
        if (highest >= 0) {
            chip->isr &= ~(1u << highest);
            chip->lowest_priority = (uint8_t)highest;
        }
        break;
    case 7: /* rotate on specific EOI */
        chip->isr &= ~(1u << level);
        chip->lowest_priority = (uint8_t)level;
        break;
    case 6: /* set priority */
        chip->lowest_priority = (uint8_t)level;
        break;
    case 4: /* set rotate in automatic EOI mode */
        chip->rotate_on_auto_eoi = true;
        break;
    case 0: /* clear rotate in automatic EOI mode */
        chip->rotate_on_auto_eoi = false;
        break;
    default: /* 2: no operation */
        break;
    }
}

/* OCW3: ESMM/SMM in bits 6-5, poll in bit 2, RR/RIS in bits 1-0. */
static void write_ocw3(struct pic8259 *chip, uint8_t value)
{
    if (value & 0x40)
        chip->special_mask = value & 0x20;
    if (value & 0x04)
        chip->poll = true;
    if (value & 0x02)
        chip->read_isr = value & 0x01;
}

/* A write with A0 = 1: the next ICW of the sequence, or OCW1 (the mask). */
static void write_data(struct pic8259 *chip, uint8_t value)
{
    switch (chip->init_step) {
    case 2:
        chip->vector_base = value & 0xf8;
        if (!chip->single)
            chip->init_step = 3;
        else
            chip->init_step = chip->expect_icw4 ? 4 : 0;
        break;
    case 3:
        chip->icw3 = value;
        chip->init_step = chip->expect_icw4 ? 4 : 0;
        break;
    case 4:
        if (!(value & 0x01))
            warn_mcs80_mode(chip);
        chip->auto_eoi = value & 0x02;
        chip->special_fully_nested = value & 0x10;
        chip->init_step = 0;
        break;
    default:
        chip->imr = value;
        break;
    }
}

static void chip_write(struct pic8259 *chip, bool a0, uint8_t value)
{
    if (a0)
        write_data(chip, value);
    else if (value & 0x10)
        write_icw1(chip, value);
    else if (value & 0x08)
        write_ocw3(chip, value);
    else
        write_ocw2(chip, value);
}

/* Poll mode: the read acts as an INTA and returns 0x80 | IR if a request is
 * pending, else 0 (datasheet, "The Poll Command"). */
static uint8_t chip_poll(struct pic8259 *chip, bool is_master)
{
    chip->poll = false;
    int ir = pending_ir(chip, is_master);
    if (ir < 0)
        return 0;
    chip_acknowledge(chip, ir);
    return (uint8_t)(0x80 | ir);
}

static uint8_t chip_read(struct pic8259 *chip, bool is_master, bool a0)
{
    if (chip->poll)
        return chip_poll(chip, is_master);
    if (a0)
        return chip->imr;
    return chip->read_isr ? chip->isr : chip->irr;
}

static struct pic8259 *chip_for_port(struct pic_pair *pair, uint16_t port)
{
    return (port & ~1u) == PIC_SLAVE_PORT ? &pair->slave : &pair->master;
}

/* Wider accesses are split into byte cycles, as the ISA bus does for an
 * 8-bit device. */
static uint32_t pic_port_read(void *device, uint16_t port, unsigned size)
{
    struct pic_pair *pair = device;
    uint32_t value = 0;
    for (unsigned i = 0; i < size; i++) {
        uint16_t byte_port = (uint16_t)(port + i);
        struct pic8259 *chip = chip_for_port(pair, byte_port);
        value |= (uint32_t)chip_read(chip, chip == &pair->master, byte_port & 1) << (8 * i);
    }
    pair_update(pair);
    return value;
}

static void pic_port_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    struct pic_pair *pair = device;
    for (unsigned i = 0; i < size; i++) {
        uint16_t byte_port = (uint16_t)(port + i);
        chip_write(chip_for_port(pair, byte_port), byte_port & 1, (uint8_t)(value >> (8 * i)));
    }
    pair_update(pair);
}

int pic_register(struct pic_pair *pair, struct bus *bus)
{
    if (bus_register_ports(bus, PIC_MASTER_PORT, 2, "pic-master", pair,
                           pic_port_read, pic_port_write) < 0)
        return -1;
    return bus_register_ports(bus, PIC_SLAVE_PORT, 2, "pic-slave", pair,
                              pic_port_read, pic_port_write);
}
