/*
 * pit.c - channel 0 of the 8254 programmable interval timer, which drives
 * IRQ 0. Its input clock runs at 1.193182 MHz (8254 data sheet; IBM PC).
 */
#include "guest.h"

#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_HZ 1193182u
#define CMD_CH0_LOHI_MODE2 0x34   /* channel 0, lobyte/hibyte, mode 2 rate generator */
#define CMD_CH0_LATCH 0x00        /* counter latch command for channel 0 */

static uint16_t reload;

void pit_start_periodic(uint32_t hz)
{
    reload = (uint16_t)((PIT_HZ + hz / 2) / hz);
    outb(PIT_CMD, CMD_CH0_LOHI_MODE2);
    outb(PIT_CH0, reload & 0xff);
    outb(PIT_CH0, reload >> 8);
}

uint16_t pit_read_count(void)
{
    outb(PIT_CMD, CMD_CH0_LATCH);   /* freeze the count so lo/hi match */
    uint8_t lo = inb(PIT_CH0);
    uint8_t hi = inb(PIT_CH0);
    return (uint16_t)(lo | hi << 8);
}

/* Busy-wait until channel 0 has reloaded `periods` times, without
 * interrupts: the counter counts down, so a reload shows as a rise. Missing
 * a reload (the host did not run us for a while) only makes the wait longer. */
void pit_wait_periods(int periods)
{
    uint16_t prev = pit_read_count();
    while (periods > 0) {
        uint16_t now = pit_read_count();
        if (now > prev)
            periods--;
        prev = now;
    }
}
