/*
 * uart.c - polled output on the 16550A UART at COM1.
 *
 * Polling (rather than the THR-empty interrupt on IRQ 4) keeps every guest
 * free of interrupt handling it does not test, and makes output reach the
 * host before a guest that is about to crash on purpose does so.
 */
#include "guest.h"

#define COM1 0x3f8
#define UART_THR 0   /* transmit holding register (DLAB = 0) */
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_LSR 5
#define LSR_THRE 0x20 /* THR empty: the UART can take another byte */

void uart_init(void)
{
    outb(COM1 + UART_IER, 0x00);    /* no UART interrupts */
    outb(COM1 + UART_LCR, 0x80);    /* DLAB = 1 to reach the divisor latch */
    outb(COM1 + 0, 1);              /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0);
    outb(COM1 + UART_LCR, 0x03);    /* 8 data bits, no parity, 1 stop, DLAB = 0 */
    outb(COM1 + UART_FCR, 0x07);    /* enable and clear the FIFOs */
}

void uart_putc(char c)
{
    while (!(inb(COM1 + UART_LSR) & LSR_THRE))
        ;
    outb(COM1 + UART_THR, (uint8_t)c);
}

void putstr(const char *s)
{
    while (*s)
        uart_putc(*s++);
}
