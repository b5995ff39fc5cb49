/*
 * pit8254.h - the Intel 8254 programmable interval timer at ports 0x40-0x43,
 * and the bits of the PC's system control port B (0x61) that belong to it:
 * bit 0 is channel 2's GATE, bit 5 reads channel 2's OUT (how kernels
 * calibrate their TSC).
 *
 * The counters run in real time: the count is computed from the host clock
 * at 1.193182 MHz whenever it is needed, never decremented tick by tick. The
 * clock is a function pointer so tests can drive a fake one.
 *
 * Implemented: channels 0-2; modes 0-5 (6 and 7 are aliases of 2 and 3);
 * lobyte, hibyte and lobyte/hibyte access; the counter latch command; the
 * read-back command (count and status); GATE for channel 2.
 * Not implemented: BCD counting (reported on stderr; counts in binary).
 * Simplification: a new count written while a mode 2 or 3 counter runs takes
 * effect at once instead of at the end of the current period.
 */
#ifndef VMLAB_PIT8254_H
#define VMLAB_PIT8254_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "irq.h"

#define PIT_FREQUENCY_HZ 1193182u

enum pit_access {
    PIT_ACCESS_LATCH = 0,   /* only in a control word: the counter latch command */
    PIT_ACCESS_LOBYTE = 1,
    PIT_ACCESS_HIBYTE = 2,
    PIT_ACCESS_WORD = 3,    /* lobyte then hibyte */
};

struct pit_channel {
    uint8_t mode;           /* 0-5 */
    uint8_t access;         /* enum pit_access */
    bool bcd;
    bool warned_bcd;        /* said "not implemented" once already */
    uint32_t reload;        /* the initial count, 1-65536 (0 written means 65536) */
    bool counting;          /* a count was written and GATE lets it run */
    bool triggered;         /* modes 1 and 5: a GATE rising edge started it */
    uint64_t start_tick;    /* the input clock tick at which counting began */
    uint32_t start_count;   /* the count at start_tick (modes 0, 1, 4, 5) */
    uint16_t held_count;    /* the count shown while not counting */
    bool held_output;       /* OUT while not counting */
    bool terminal_reached;  /* mode 0: OUT went high before GATE paused it */
    bool gate;
    bool null_count;        /* a count was written but not yet loaded (status bit 6) */
    /* Programming and reading the two bytes of a count. */
    uint8_t write_low;      /* first byte of a WORD write */
    bool write_high_next;
    bool read_high_next;
    bool latched;
    uint16_t latch_value;
    bool latch_high_next;
    bool status_latched;
    uint8_t status;
    /* Channel 0 only: the OUT edges already turned into IRQ0 pulses. */
    uint64_t edges_delivered;
};

struct pit {
    struct pit_channel channels[3];
    struct irq_line irq0;
    uint64_t (*now_ns)(void *ctx);
    void *clock_ctx;
    uint64_t epoch_ns;      /* host time of input clock tick 0 */
    uint8_t port_b;         /* port 0x61 bits 0-3 as last written */
    /* Timer interrupts the guest never saw because it fell behind. */
    uint64_t ticks_lost;
};

void pit_init(struct pit *pit, struct irq_line irq0, uint64_t (*now_ns)(void *ctx),
              void *clock_ctx);
/* Claims 0x40-0x43 and 0x61. Returns 0 or -1. */
int pit_register(struct pit *pit, struct bus *bus);
/* Raises IRQ0 for channel 0's OUT edges up to now. */
void pit_update(struct pit *pit);
/* Host time of channel 0's next IRQ0 edge, or UINT64_MAX if none is due. */
uint64_t pit_next_deadline_ns(const struct pit *pit);

/* Channel's OUT pin and current count now (for tests and the dashboard). */
bool pit_output(const struct pit *pit, int channel);
uint16_t pit_current_count(const struct pit *pit, int channel);

#endif
