/*
 * pic.c - the two cascaded 8259A interrupt controllers of a PC.
 *
 * At reset they deliver IRQ 0-7 on vectors 8-15, which the 386 already
 * uses for exceptions (double fault is 8), so we reprogram them to 32-47
 * with the four initialization words (8259A datasheet, "Initialization
 * Command Words"). Every line starts masked; drivers unmask their own.
 */
#include "kernel.h"
#include "arch.h"
#include "trapnum.h"

#define MASTER_CMD  0x20
#define MASTER_DATA 0x21
#define SLAVE_CMD   0xa0
#define SLAVE_DATA  0xa1
#define ICW1_INIT_WITH_ICW4 0x11
#define ICW4_8086   0x01
#define OCW2_EOI    0x20
#define OCW3_READ_ISR 0x0b
#define CASCADE_IRQ 2

static uint16_t mask = 0xffff;   /* bit n set: IRQ n masked */

static void write_mask(void)
{
    arch_outb(MASTER_DATA, (uint8_t)mask);
    arch_outb(SLAVE_DATA, (uint8_t)(mask >> 8));
}

void pic_init(void)
{
    arch_outb(MASTER_CMD, ICW1_INIT_WITH_ICW4);
    arch_outb(SLAVE_CMD, ICW1_INIT_WITH_ICW4);
    arch_outb(MASTER_DATA, T_IRQ0);          /* ICW2: vector of IRQ 0 */
    arch_outb(SLAVE_DATA, T_IRQ0 + 8);       /* ICW2: vector of IRQ 8 */
    arch_outb(MASTER_DATA, 1 << CASCADE_IRQ);/* ICW3: the slave is on IRQ 2 */
    arch_outb(SLAVE_DATA, CASCADE_IRQ);      /* ICW3: the slave's identity */
    arch_outb(MASTER_DATA, ICW4_8086);
    arch_outb(SLAVE_DATA, ICW4_8086);
    mask = 0xffff & ~(1 << CASCADE_IRQ);
    write_mask();
}

void pic_unmask(int irq)
{
    mask &= (uint16_t)~(1u << irq);
    write_mask();
}

/* Tell the PIC the interrupt was handled, so it may deliver the next one at
 * this priority. A slave interrupt needs both chips told. */
void pic_end_of_interrupt(int irq)
{
    if (irq >= 8)
        arch_outb(SLAVE_CMD, OCW2_EOI);
    arch_outb(MASTER_CMD, OCW2_EOI);
}

/* IRQ 7 and 15 are also what a PIC reports when a request vanished before
 * the CPU acknowledged it. Then the in-service bit is clear and no EOI is
 * due (except to the master for a spurious slave interrupt). */
bool pic_is_spurious(int irq)
{
    if (irq != 7 && irq != 15)
        return false;
    uint16_t cmd = irq == 7 ? MASTER_CMD : SLAVE_CMD;
    arch_outb(cmd, OCW3_READ_ISR);
    if (arch_inb(cmd) & 0x80)
        return false;
    if (irq == 15)
        arch_outb(MASTER_CMD, OCW2_EOI);
    return true;
}
