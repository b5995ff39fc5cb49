/*
 * uart.c - COM1's interrupt and the MCR's OUT2 bit. On a real PC the
 * 16550A's interrupt output reaches the 8259 through a buffer that OUT2
 * enables; QEMU's UART raises IRQ 4 whatever OUT2 says, and xv6 (which
 * writes MCR = 0) depends on that. QEMU is the oracle, so vmlab does the
 * same. Printed: how many THR-empty interrupts arrive with MCR = 0, with
 * OUT2 set, and in loopback mode.
 */
#include "platform.h"

#define COM1 0x3f8
static volatile uint32_t interrupts;

static void uart_interrupt(struct trapframe *tf)
{
    (void)tf;
    interrupts++;
    inb(COM1 + 2);          /* reading IIR clears THR empty */
    outb(COM1 + 1, 0);      /* and no more of them */
    pic_eoi(4);
}

/* The count is printed after MCR is back to normal: in loopback mode
 * what the guest writes never leaves the UART. */
static void try_mcr(uint8_t mcr)
{
    interrupts = 0;
    outb(COM1 + 4, mcr);
    outb(COM1 + 1, 0x02);   /* IER: THR empty */
    sti();
    for (volatile int i = 0; i < 1000; i++)
        ;
    cli();
    outb(COM1 + 1, 0);
    outb(COM1 + 4, 0x03);
    while (inb(COM1 + 5) & 0x01)   /* drop what loopback received */
        inb(COM1);
    printf("MCR %x: %u interrupt(s)\n", mcr, interrupts);
}

int probe_uart(void)
{
    gdt_init();
    idt_init();
    pic_remap(0x20, 0x28);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    trap_set_handler(0x24, uart_interrupt);
    pic_mask(4, false);
    try_mcr(0x00);
    try_mcr(0x08);
    try_mcr(0x03);
    try_mcr(0x18);
    outb(COM1 + 4, 0x03);
    pic_mask(4, true);
    return 0;
}
