/*
 * pit.c - the 8254 programmable interval timer, channel 0, as the tick.
 *
 * The PIT counts down from a divisor at 1.193182 MHz; in mode 2 ("rate
 * generator") it raises IRQ 0 each time the count wraps, so the divisor
 * sets the tick rate (8254 datasheet, "Mode 2").
 */
#include "kernel.h"
#include "arch.h"
#include "trapnum.h"

#define PIT_CHANNEL0 0x40
#define PIT_COMMAND  0x43
#define PIT_HZ       1193182u
#define CHANNEL0_LOHI_MODE2 0x34   /* channel 0, low then high byte, mode 2 */

volatile uint32_t ticks;

void pit_init(void)
{
    uint32_t divisor = (PIT_HZ + TIMER_HZ / 2) / TIMER_HZ;
    arch_outb(PIT_COMMAND, CHANNEL0_LOHI_MODE2);
    arch_outb(PIT_CHANNEL0, (uint8_t)divisor);
    arch_outb(PIT_CHANNEL0, (uint8_t)(divisor >> 8));
    pic_unmask(IRQ_TIMER);
}
