/*
 * pic.c - the two cascaded 8259A programmable interrupt controllers.
 *
 * At reset the master PIC delivers IRQ 0-7 on vectors 8-15, which collide
 * with CPU exceptions (#DF is 8), so every guest that takes interrupts first
 * moves them (8259A data sheet, ICW1-ICW4).
 */
#include "guest.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define ICW1_INIT_ICW4 0x11     /* edge triggered, cascade, ICW4 follows */
#define ICW4_8086 0x01
#define OCW2_EOI 0x20           /* non-specific end of interrupt */
#define OCW3_READ_IRR 0x0a
#define OCW3_READ_ISR 0x0b

void pic_remap(uint8_t master_base, uint8_t slave_base)
{
    outb(PIC1_CMD, ICW1_INIT_ICW4);
    outb(PIC2_CMD, ICW1_INIT_ICW4);
    outb(PIC1_DATA, master_base);   /* ICW2: vector of IRQ 0 / IRQ 8 */
    outb(PIC2_DATA, slave_base);
    outb(PIC1_DATA, 0x04);          /* ICW3: a slave hangs on IRQ 2 */
    outb(PIC2_DATA, 0x02);          /* ICW3: the slave's cascade identity */
    outb(PIC1_DATA, ICW4_8086);
    outb(PIC2_DATA, ICW4_8086);
    outb(PIC1_DATA, 0xfb);          /* mask everything but the cascade */
    outb(PIC2_DATA, 0xff);
}

void pic_mask(int irq, bool masked)
{
    uint16_t port = irq < 8 ? PIC1_DATA : PIC2_DATA;
    uint8_t bit = 1u << (irq & 7);
    uint8_t imr = inb(port);        /* reading the data port gives the IMR */
    outb(port, masked ? (imr | bit) : (imr & ~bit));
}

void pic_eoi(int irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, OCW2_EOI);
    outb(PIC1_CMD, OCW2_EOI);
}

uint8_t pic_read_isr(void)
{
    outb(PIC1_CMD, OCW3_READ_ISR);
    return inb(PIC1_CMD);
}

uint8_t pic_read_irr(void)
{
    outb(PIC1_CMD, OCW3_READ_IRR);
    return inb(PIC1_CMD);
}
