/*
 * uart.c - the 16550A serial port COM1: the console.
 *
 * Transmit is polled (wait until the holding register is empty, then write
 * the byte); receive is interrupt-driven (console.c takes each byte from
 * the IRQ 4 handler). The FIFOs stay off: switching them on discards bytes
 * that arrived before we got here (16550A datasheet, FCR bit 0), and one
 * byte per interrupt is plenty for a keyboard.
 */
#include "kernel.h"
#include "arch.h"
#include "trapnum.h"

#define COM1      0x3f8
#define DATA      (COM1 + 0)   /* receive buffer / transmit holding */
#define IER       (COM1 + 1)   /* interrupt enable */
#define FCR       (COM1 + 2)
#define LCR       (COM1 + 3)   /* line control */
#define MCR       (COM1 + 4)   /* modem control */
#define LSR       (COM1 + 5)   /* line status */
#define LCR_DLAB  0x80         /* DATA and IER become the divisor latch */
#define LCR_8N1   0x03
#define MCR_DTR_RTS_OUT2 0x0b  /* OUT2 gates the IRQ line on a PC */
#define IER_RECEIVED 0x01
#define LSR_DATA_READY 0x01
#define LSR_TX_EMPTY   0x20

void uart_init(void)
{
    arch_outb(IER, 0);
    arch_outb(LCR, LCR_DLAB);
    arch_outb(DATA, 1);          /* divisor 1: 115200 baud */
    arch_outb(IER, 0);
    arch_outb(LCR, LCR_8N1);
    arch_outb(FCR, 0);
    arch_outb(MCR, MCR_DTR_RTS_OUT2);
}

/* Called once the PIC is ready. The PIC is edge-triggered and its
 * initialization forgets earlier edges (8259A datasheet, "Initialization
 * Command Words": an IR input must then go from low to high), so if input
 * had raised the line before, it would stay high and never interrupt.
 * Enabling the interrupt only now makes the edge happen after that. */
void uart_enable_receive_interrupt(void)
{
    arch_outb(IER, IER_RECEIVED);
}

void uart_put(char c)
{
    while (!(arch_inb(LSR) & LSR_TX_EMPTY))
        ;
    arch_outb(DATA, (uint8_t)c);
}

bool uart_has_input(void)
{
    return arch_inb(LSR) & LSR_DATA_READY;
}

char uart_get(void)
{
    return (char)arch_inb(DATA);
}
