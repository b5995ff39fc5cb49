/*
 * uart16550.h - a National Semiconductor 16550A UART (a PC serial port).
 *
 * Transmission is instantaneous: every byte written to THR goes straight to
 * the output callback, so THR and the transmitter are always empty again
 * (LSR THRE and TEMT stay set). Reception goes through a 16-byte RX FIFO
 * (one holding register when FIFOs are off) filled by uart_receive.
 *
 * Implemented: RBR/THR, IER, IIR with the four 16550 priorities, FCR (FIFO
 * enable and clear, RX trigger level), LCR with DLAB and the divisor latch,
 * MCR (OUT2 gates the IRQ as on a PC; loopback), LSR, MSR with delta bits,
 * SCR. The character timeout interrupt is reported as soon as the FIFO holds
 * data below the trigger level: a VM has no character time to wait for.
 * Parity, framing and break errors never happen (the line is perfect).
 */
#ifndef VMLAB_UART16550_H
#define VMLAB_UART16550_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "irq.h"

#define UART_FIFO_SIZE 16

struct uart16550 {
    struct irq_line irq;
    void (*output)(void *ctx, uint8_t byte);
    void *output_ctx;

    uint8_t rx_fifo[UART_FIFO_SIZE];
    unsigned rx_head;        /* index of the oldest byte */
    unsigned rx_count;
    bool fifo_enabled;       /* FCR bit 0 */
    unsigned rx_trigger;     /* FCR bits 7-6: 1, 4, 8 or 14 bytes */

    uint16_t divisor;        /* DLL/DLM, visible when LCR.DLAB = 1 */
    uint8_t ier;
    uint8_t lcr;
    uint8_t mcr;
    uint8_t line_errors;     /* LSR OE/PE/FE/BI, cleared by reading LSR */
    uint8_t modem_deltas;    /* MSR bits 3-0, cleared by reading MSR */
    uint8_t scr;
    bool thr_empty_interrupt;/* cleared by reading IIR or writing THR */
    bool irq_level;          /* what we drive on the IRQ line */
};

void uart_init(struct uart16550 *uart, struct irq_line irq,
               void (*output)(void *ctx, uint8_t byte), void *output_ctx);
/* Claims 8 ports from base (COM1: 0x3f8). Returns 0 or -1. */
int uart_register(struct uart16550 *uart, struct bus *bus, uint16_t base);
/* A byte arrives on the serial line. False if there is no room (or the
 * UART is in loopback, where the line is disconnected): keep it and retry. */
bool uart_receive(struct uart16550 *uart, uint8_t byte);
unsigned uart_receive_space(const struct uart16550 *uart);

#endif
