/*
 * uart16550.c - the 16550A UART. Register numbers and bits follow the
 * National Semiconductor PC16550D datasheet, table II.
 */
#include "uart16550.h"

enum uart_register {
    UART_RBR_THR = 0,   /* DLAB = 1: divisor latch low */
    UART_IER = 1,       /* DLAB = 1: divisor latch high */
    UART_IIR_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
};

#define IER_RX_DATA 0x01
#define IER_THR_EMPTY 0x02
#define IER_LINE_STATUS 0x04
#define IER_MODEM_STATUS 0x08

#define IIR_NO_INTERRUPT 0x01
#define IIR_MODEM_STATUS 0x00
#define IIR_THR_EMPTY 0x02
#define IIR_RX_DATA 0x04
#define IIR_LINE_STATUS 0x06
#define IIR_RX_TIMEOUT 0x0c
#define IIR_FIFOS_ENABLED 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static unsigned rx_capacity(const struct uart16550 *uart)
{
    return uart->fifo_enabled ? UART_FIFO_SIZE : 1;
}

static bool loopback(const struct uart16550 *uart)
{
    return uart->mcr & MCR_LOOP;
}

/* The modem inputs (MSR bits 7-4). In loopback the datasheet wires DTR to
 * DSR, RTS to CTS, OUT1 to RI and OUT2 to DCD; otherwise a terminal is
 * attached and ready: DCD, DSR and CTS asserted, no ring. */
static uint8_t modem_inputs(const struct uart16550 *uart)
{
    if (!loopback(uart))
        return MSR_DCD | MSR_DSR | MSR_CTS;
    uint8_t lines = 0;
    if (uart->mcr & MCR_DTR)
        lines |= MSR_DSR;
    if (uart->mcr & MCR_RTS)
        lines |= MSR_CTS;
    if (uart->mcr & MCR_OUT1)
        lines |= MSR_RI;
    if (uart->mcr & MCR_OUT2)
        lines |= MSR_DCD;
    return lines;
}

/* The highest-priority pending interrupt, as IIR bits 3-0 (datasheet,
 * table IV: line status > RX data / timeout > THR empty > modem status). */
static uint8_t interrupt_id(const struct uart16550 *uart)
{
    if ((uart->ier & IER_LINE_STATUS) && uart->line_errors)
        return IIR_LINE_STATUS;
    if ((uart->ier & IER_RX_DATA) && uart->rx_count) {
        if (!uart->fifo_enabled || uart->rx_count >= uart->rx_trigger)
            return IIR_RX_DATA;
        return IIR_RX_TIMEOUT;
    }
    if ((uart->ier & IER_THR_EMPTY) && uart->thr_empty_interrupt)
        return IIR_THR_EMPTY;
    if ((uart->ier & IER_MODEM_STATUS) && uart->modem_deltas)
        return IIR_MODEM_STATUS;
    return IIR_NO_INTERRUPT;
}

/* On a real PC the UART's INTRPT pin reaches the PIC through a buffer
 * enabled by the OUT2 pin (and loopback forces OUT2 inactive). QEMU, the
 * oracle, raises IRQ 4 whatever MCR says, and guests depend on it (xv6
 * writes MCR = 0 and expects COM1 interrupts), so vmlab does as QEMU does:
 * the IRQ follows the pending interrupt alone (labs/guests/platform/uart.c
 * checks it against QEMU). */
static void update_irq(struct uart16550 *uart)
{
    bool level = interrupt_id(uart) != IIR_NO_INTERRUPT;
    if (level != uart->irq_level) {
        uart->irq_level = level;
        irq_set(&uart->irq, level);
    }
}

static void rx_clear(struct uart16550 *uart)
{
    uart->rx_head = 0;
    uart->rx_count = 0;
}

/* Returns false when there is no room; the caller decides what is lost. */
static bool rx_push(struct uart16550 *uart, uint8_t byte)
{
    if (uart->rx_count >= rx_capacity(uart))
        return false;
    uart->rx_fifo[(uart->rx_head + uart->rx_count) % UART_FIFO_SIZE] = byte;
    uart->rx_count++;
    return true;
}

static uint8_t rx_pop(struct uart16550 *uart)
{
    if (!uart->rx_count)
        return 0;
    uint8_t byte = uart->rx_fifo[uart->rx_head];
    uart->rx_head = (uart->rx_head + 1) % UART_FIFO_SIZE;
    uart->rx_count--;
    return byte;
}

void uart_init(struct uart16550 *uart, struct irq_line irq,
               void (*output)(void *ctx, uint8_t byte), void *output_ctx)
{
    *uart = (struct uart16550){
        .irq = irq, .output = output, .output_ctx = output_ctx,
        .rx_trigger = 1,
        .divisor = 12,   /* 9600 baud: 115200 / 12 */
        .lcr = 0x03,     /* 8 data bits, no parity, 1 stop bit */
    };
}

unsigned uart_receive_space(const struct uart16550 *uart)
{
    if (loopback(uart))
        return 0;
    return rx_capacity(uart) - uart->rx_count;
}

bool uart_receive(struct uart16550 *uart, uint8_t byte)
{
    if (loopback(uart) || !rx_push(uart, byte))
        return false;
    update_irq(uart);
    return true;
}

/* THR: the byte leaves at once; in loopback it comes back into RX, and a
 * full FIFO loses it with an overrun error (LSR.OE). */
static void transmit(struct uart16550 *uart, uint8_t byte)
{
    if (loopback(uart)) {
        if (!rx_push(uart, byte))
            uart->line_errors |= LSR_OE;
    } else if (uart->output) {
        uart->output(uart->output_ctx, byte);
    }
    /* THR is empty again: a new THRE interrupt. */
    uart->thr_empty_interrupt = true;
}

static void write_fcr(struct uart16550 *uart, uint8_t value)
{
    static const unsigned trigger_levels[4] = { 1, 4, 8, 14 };
    bool enable = value & FCR_ENABLE;
    /* Changing the FIFO enable resets the FIFOs (datasheet, FCR bit 0). */
    if (enable != uart->fifo_enabled)
        rx_clear(uart);
    uart->fifo_enabled = enable;
    if (!enable)
        return;   /* the other FCR bits need bit 0 set */
    if (value & FCR_CLEAR_RX)
        rx_clear(uart);
    uart->rx_trigger = trigger_levels[value >> 6];
}

static void write_mcr(struct uart16550 *uart, uint8_t value)
{
    uint8_t before = modem_inputs(uart);
    uart->mcr = value & 0x1f;
    uint8_t after = modem_inputs(uart);
    uint8_t changed = before ^ after;
    if (changed & MSR_CTS)
        uart->modem_deltas |= MSR_DCTS;
    if (changed & MSR_DSR)
        uart->modem_deltas |= MSR_DDSR;
    if ((before & MSR_RI) && !(after & MSR_RI))
        uart->modem_deltas |= MSR_TERI;   /* trailing edge of ring only */
    if (changed & MSR_DCD)
        uart->modem_deltas |= MSR_DDCD;
}

static void write_register(struct uart16550 *uart, unsigned reg, uint8_t value)
{
    bool dlab = uart->lcr & LCR_DLAB;
    switch (reg) {
    case UART_RBR_THR:
        if (dlab)
            uart->divisor = (uint16_t)((uart->divisor & 0xff00) | value);
        else
            transmit(uart, value);
        break;
    case UART_IER:
        if (dlab) {
            uart->divisor = (uint16_t)((uart->divisor & 0x00ff) | value << 8);
        } else {
            /* Enabling the THRE interrupt while THR is empty (it always
             * is) raises it at once, as on a real 16550. */
            if ((value & IER_THR_EMPTY) && !(uart->ier & IER_THR_EMPTY))
                uart->thr_empty_interrupt = true;
            uart->ier = value & 0x0f;
        }
        break;
    case UART_IIR_FCR:
        write_fcr(uart, value);
        break;
    case UART_LCR:
        uart->lcr = value;
        break;
    case UART_MCR:
        write_mcr(uart, value);
        break;
    case UART_SCR:
        uart->scr = value;
        break;
    default:
        break;   /* LSR and MSR writes are for factory testing only */
    }
}

static uint8_t read_iir(struct uart16550 *uart)
{
    uint8_t id = interrupt_id(uart);
    /* Reading IIR while it reports THRE is what clears THRE. */
    if (id == IIR_THR_EMPTY)
        uart->thr_empty_interrupt = false;
    return (uint8_t)(id | (uart->fifo_enabled ? IIR_FIFOS_ENABLED : 0));
}

static uint8_t read_lsr(struct uart16550 *uart)
{
    uint8_t value = uart->line_errors | LSR_THRE | LSR_TEMT;
    if (uart->rx_count)
        value |= LSR_DR;
    uart->line_errors = 0;
    return value;
}

static uint8_t read_register(struct uart16550 *uart, unsigned reg)
{
    bool dlab = uart->lcr & LCR_DLAB;
    uint8_t value;
    switch (reg) {
    case UART_RBR_THR:
        return dlab ? (uint8_t)uart->divisor : rx_pop(uart);
    case UART_IER:
        return dlab ? (uint8_t)(uart->divisor >> 8) : uart->ier;
    case UART_IIR_FCR:
        return read_iir(uart);
    case UART_LCR:
        return uart->lcr;
    case UART_MCR:
        return uart->mcr;
    case UART_LSR:
        return read_lsr(uart);
    case UART_MSR:
        value = modem_inputs(uart) | uart->modem_deltas;
        uart->modem_deltas = 0;
        return value;
    default:
        return uart->scr;
    }
}

/* An 8-bit device: wider accesses are split into byte cycles, as the ISA
 * bus does for it. */
static unsigned register_of(uint16_t port)
{
    return port & 7u;   /* the UART decodes A2-A0; bases are 8-aligned */
}

static uint32_t uart_port_read(void *device, uint16_t port, unsigned size)
{
    struct uart16550 *uart = device;
    uint32_t value = 0;
    for (unsigned i = 0; i < size; i++)
        value |= (uint32_t)read_register(uart, register_of((uint16_t)(port + i))) << (8 * i);
    update_irq(uart);
    return value;
}

static void uart_port_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    struct uart16550 *uart = device;
    for (unsigned i = 0; i < size; i++)
        write_register(uart, register_of((uint16_t)(port + i)), (uint8_t)(value >> (8 * i)));
    update_irq(uart);
}

int uart_register(struct uart16550 *uart, struct bus *bus, uint16_t base)
{
    if (base & 7)
        return -1;   /* a 16550 decodes three address lines: 8-aligned only */
    return bus_register_ports(bus, base, 8, "uart16550", uart, uart_port_read,
                              uart_port_write);
}
