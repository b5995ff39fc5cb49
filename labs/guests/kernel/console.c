/*
 * console.c - kprintf and line input on top of the UART.
 *
 * Input arrives one byte per interrupt into a ring buffer; readers sleep
 * until a whole line is there. Echo of typed characters is optional: the
 * interactive shell wants it, but a test that pipes its input would then
 * see the echo wherever the input happened to arrive, which depends on
 * timing. Scenarios print what they read instead, at a fixed place.
 */
#include "kernel.h"

#define INPUT_SIZE 256

static struct {
    char data[INPUT_SIZE];
    uint32_t read, write;   /* free-running indices; write - read bytes held */
    uint32_t lines;         /* complete lines not yet read */
} input;
static bool echo;

void console_init(void)
{
    uart_init();
}

void console_set_echo(bool on)
{
    echo = on;
}

void console_write(const char *text, size_t len)
{
    irq_push_off();
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            uart_put('\r');
        uart_put(text[i]);
    }
    irq_pop();
}

static void put_console(char c, void *unused)
{
    (void)unused;
    console_write(&c, 1);
}

void kvprintf(const char *fmt, va_list args)
{
    format(put_console, NULL, fmt, args);
}

void kprintf(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    kvprintf(fmt, args);
    va_end(args);
}

/* IRQ 4: move every received byte into the buffer. A terminal in raw
 * mode sends CR for Enter, a pipe sends LF; both end a line. When the
 * buffer is nearly full only a line end still fits, so that a reader
 * waiting for a whole line always gets one. */
void console_input_interrupt(void)
{
    while (uart_has_input()) {
        char c = uart_get();
        if (c == '\r')
            c = '\n';
        uint32_t held = input.write - input.read;
        if (held == INPUT_SIZE || (held == INPUT_SIZE - 1 && c != '\n'))
            continue;                    /* dropped */
        input.data[input.write++ % INPUT_SIZE] = c;
        if (echo)
            console_write(&c, 1);
        if (c == '\n') {
            input.lines++;
            proc_wakeup(&input);
        }
    }
}

/* Read one line (without its '\n') into buffer, sleeping until a whole
 * line has been typed. Returns its length. Called with interrupts off. */
int console_read_line(char *buffer, size_t size)
{
    while (input.lines == 0)
        proc_sleep_on(&input);
    size_t n = 0;
    for (;;) {
        char c = input.data[input.read++ % INPUT_SIZE];
        if (c == '\n')
            break;
        if (n + 1 < size)
            buffer[n++] = c;
    }
    input.lines--;
    buffer[n] = '\0';
    return (int)n;
}
