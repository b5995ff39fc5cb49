/*
 * console.h - the host terminal as the guest's serial console.
 *
 * Guest UART output goes to stdout; typed input goes to the UART's receive
 * FIFO. Input that the FIFO cannot take yet waits here, so no keystroke is
 * lost. On a terminal, stdin is put in raw mode (no echo, no line editing:
 * the guest echoes) and restored at exit; Ctrl-C still stops vmlab.
 */
#ifndef VMLAB_CONSOLE_H
#define VMLAB_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

struct uart16550;

struct console {
    int input_fd, output_fd;
    bool input_open;               /* false after EOF or when stdin is not readable */
    bool raw_mode;                 /* we changed the terminal and must restore it */
    struct termios saved_terminal;
    uint8_t pending[256];          /* typed but not yet accepted by the UART */
    size_t pending_length;
    uint8_t output[4096];
    size_t output_length;
    uint64_t bytes_written;
};

void console_init(struct console *console, int input_fd, int output_fd);
void console_write(struct console *console, uint8_t byte);
void console_flush(struct console *console);
/* Read what was typed and hand as much as fits to the UART. */
void console_feed(struct console *console, struct uart16550 *uart);
/* Sleep until deadline_ns (host monotonic time) or until input arrives. */
void console_wait(struct console *console, uint64_t deadline_ns);
void console_restore(struct console *console);

#endif
