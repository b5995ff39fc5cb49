/*
 * test_uart.c - the 16550A through its ports: transmit, receive, FIFO,
 * loopback, interrupt identification and the IRQ (not gated by OUT2, as
 * QEMU's).
 */
#include <criterion/criterion.h>

#include "core/dev/bus.h"
#include "core/dev/uart16550.h"

#define COM1 0x3f8
#define THR (COM1 + 0)
#define IER (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

struct output_log {
    uint8_t bytes[64];
    int count;
};

struct irq_recorder {
    int level;
    int rising_edges;
};

static struct bus bus;
static struct uart16550 uart;
static struct output_log output;
static struct irq_recorder irq4;

static void collect(void *ctx, uint8_t byte)
{
    struct output_log *log = ctx;
    if (log->count < (int)sizeof log->bytes)
        log->bytes[log->count++] = byte;
}

static void record_level(void *controller, int irq, int level)
{
    struct irq_recorder *recorder = controller;
    cr_assert_eq(irq, 4);
    if (level && !recorder->level)
        recorder->rising_edges++;
    recorder->level = level;
}

static void outb(uint16_t port, uint8_t value) { bus_port_write(&bus, port, 1, value); }
static uint8_t inb(uint16_t port) { return (uint8_t)bus_port_read(&bus, port, 1); }

static void setup(void)
{
    bus = (struct bus){0};
    output = (struct output_log){0};
    irq4 = (struct irq_recorder){0};
    uart_init(&uart, (struct irq_line){ record_level, &irq4, 4 }, collect, &output);
    cr_assert_eq(uart_register(&uart, &bus, COM1), 0);
}

TestSuite(uart, .init = setup);

Test(uart, transmitted_bytes_reach_the_output_in_order)
{
    outb(THR, 'h');
    outb(THR, 'i');
    cr_assert_eq(output.count, 2);
    cr_assert_eq(output.bytes[0], 'h');
    cr_assert_eq(output.bytes[1], 'i');
}

Test(uart, lsr_shows_an_empty_transmitter_and_received_data)
{
    cr_assert_eq(inb(LSR), 0x60, "THRE and TEMT, no data");
    cr_assert(uart_receive(&uart, 'x'));
    cr_assert_eq(inb(LSR), 0x61, "DR once a byte arrived");
    cr_assert_eq(inb(THR), 'x');
    cr_assert_eq(inb(LSR), 0x60, "DR clears when RBR is read");
}

Test(uart, divisor_latch_is_behind_dlab)
{
    outb(LCR, 0x83);
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x02);
    cr_assert_eq(inb(COM1 + 0), 0x01);
    cr_assert_eq(inb(COM1 + 1), 0x02);
    cr_assert_eq(uart.divisor, 0x0201);
    cr_assert_eq(output.count, 0, "a DLL write is not a transmission");
    outb(LCR, 0x03);
    cr_assert_eq(inb(LCR), 0x03);
    cr_assert_eq(inb(IER), 0x00, "with DLAB clear port 1 is IER again");
    outb(THR, 'z');
    cr_assert_eq(output.count, 1);
}

Test(uart, scratch_register_holds_a_byte)
{
    outb(SCR, 0xa5);
    cr_assert_eq(inb(SCR), 0xa5);
}

Test(uart, loopback_returns_transmitted_bytes_and_mirrors_modem_lines)
{
    outb(MCR, 0x10);
    outb(THR, 'L');
    cr_assert_eq(output.count, 0, "loopback keeps the byte off the line");
    cr_assert_eq(inb(LSR) & 0x01, 0x01);
    cr_assert_eq(inb(THR), 'L');
    inb(MSR);                   /* clear the deltas of entering loopback */
    outb(MCR, 0x1f);
    cr_assert_eq(inb(MSR) & 0xf0, 0xf0, "DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD");
    outb(MCR, 0x11);
    cr_assert_eq(inb(MSR), 0x20 | 0x01 | 0x04 | 0x08, "DSR kept; CTS, RI, DCD dropped");
    outb(MCR, 0x15);
    cr_assert_eq(inb(MSR), 0x20 | 0x40, "RI rising is no TERI: only its trailing edge is");
    cr_assert_not(uart_receive(&uart, 'q'), "the serial input is disconnected in loopback");
    cr_assert_eq(uart_receive_space(&uart), 0);
}

Test(uart, msr_outside_loopback_shows_a_ready_terminal)
{
    cr_assert_eq(inb(MSR), 0xb0, "DCD, DSR and CTS asserted");
}

Test(uart, without_fifo_one_byte_fits)
{
    cr_assert_eq(uart_receive_space(&uart), 1);
    cr_assert(uart_receive(&uart, 'a'));
    cr_assert_not(uart_receive(&uart, 'b'), "holding register full: the caller keeps 'b'");
    cr_assert_eq(inb(THR), 'a');
    cr_assert(uart_receive(&uart, 'b'));
    cr_assert_eq(inb(THR), 'b');
}

Test(uart, fifo_holds_sixteen_bytes_and_refuses_the_seventeenth)
{
    outb(FCR, 0x07);
    cr_assert_eq(uart_receive_space(&uart), 16);
    for (int i = 0; i < 16; i++)
        cr_assert(uart_receive(&uart, (uint8_t)('a' + i)));
    cr_assert_not(uart_receive(&uart, 'Z'));
    cr_assert_eq(uart_receive_space(&uart), 0);
    cr_assert_eq(inb(THR), 'a');
    cr_assert_eq(uart_receive_space(&uart), 1);
    cr_assert(uart_receive(&uart, 'Z'));
    for (int i = 1; i < 16; i++)
        cr_assert_eq(inb(THR), 'a' + i);
    cr_assert_eq(inb(THR), 'Z', "FIFO order kept across the wrap");
    cr_assert_eq(inb(LSR) & 0x03, 0, "empty, and nothing was overrun");
}

Test(uart, fcr_clear_empties_the_fifo)
{
    outb(FCR, 0x01);
    uart_receive(&uart, '1');
    uart_receive(&uart, '2');
    outb(FCR, 0x03);
    cr_assert_eq(inb(LSR) & 0x01, 0);
    cr_assert_eq(uart_receive_space(&uart), 16);
}

Test(uart, iir_reports_fifo_state_and_priorities)
{
    cr_assert_eq(inb(IIR), 0x01, "no FIFO, no interrupt");
    outb(FCR, 0x01);            /* FIFO on, trigger 1 */
    outb(MCR, 0x10);            /* loopback: raises modem deltas */
    outb(IER, 0x0f);            /* everything; THRE becomes pending */
    for (int i = 0; i < 17; i++)
        outb(THR, (uint8_t)i);  /* the 17th byte overruns */
    cr_assert_eq(inb(IIR), 0xc6, "line status (overrun) first");
    cr_assert_eq(inb(LSR) & 0x02, 0x02, "OE");
    cr_assert_eq(inb(IIR), 0xc4, "then received data");
    for (int i = 0; i < 16; i++)
        cr_assert_eq(inb(THR), i);
    cr_assert_eq(inb(IIR), 0xc2, "then THR empty");
    cr_assert_eq(inb(IIR), 0xc0, "reading IIR cleared THRE; modem status last");
    inb(MSR);
    cr_assert_eq(inb(IIR), 0xc1, "reading MSR cleared the deltas");
}

Test(uart, fifo_below_trigger_reports_a_timeout)
{
    outb(FCR, 0x41);            /* trigger level 4 */
    outb(IER, 0x01);
    uart_receive(&uart, 'a');
    uart_receive(&uart, 'b');
    cr_assert_eq(inb(IIR), 0xcc);
    uart_receive(&uart, 'c');
    uart_receive(&uart, 'd');
    cr_assert_eq(inb(IIR), 0xc4);
}

/* As QEMU's UART: OUT2 does not gate the IRQ (see uart16550.c). */
Test(uart, irq_needs_ier_but_not_out2)
{
    outb(IER, 0x01);
    cr_assert(uart_receive(&uart, 'k'));
    cr_assert_eq(irq4.level, 1, "OUT2 clear: raised anyway, as QEMU does");
    outb(MCR, 0x08);
    cr_assert_eq(irq4.level, 1);
    inb(THR);
    cr_assert_eq(irq4.level, 0, "no data, no interrupt");
    outb(IER, 0x00);
    uart_receive(&uart, 'k');
    cr_assert_eq(irq4.level, 0, "RX interrupt disabled in IER");
    outb(IER, 0x01);
    cr_assert_eq(irq4.level, 1);
    cr_assert_eq(irq4.rising_edges, 2);
}

Test(uart, enabling_thre_interrupt_fires_at_once_and_iir_read_clears_it)
{
    outb(MCR, 0x08);
    outb(IER, 0x02);
    cr_assert_eq(irq4.level, 1);
    cr_assert_eq(inb(IIR), 0x02);
    cr_assert_eq(irq4.level, 0);
    outb(THR, '!');
    cr_assert_eq(irq4.level, 1, "THR empty again after the byte left");
}

/* QEMU raises IRQ 4 in loopback too (a real PC would not: loopback forces
 * OUT2 inactive); vmlab follows QEMU. */
Test(uart, loopback_keeps_the_irq_as_qemu)
{
    outb(MCR, 0x18);
    outb(IER, 0x01);
    outb(THR, 'x');
    cr_assert_eq(inb(IIR), 0x04, "the interrupt exists inside the UART");
    cr_assert_eq(irq4.level, 1, "and reaches IRQ 4, as on QEMU");
}

Test(uart, register_requires_an_aligned_base)
{
    struct bus other = {0};
    cr_assert_eq(uart_register(&uart, &other, 0x3f9), -1);
    cr_assert_eq(uart_register(&uart, &other, 0x2f8), 0);
}
