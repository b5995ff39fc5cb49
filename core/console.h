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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

struct uart16550;
struct stats;
struct stats_counter;

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
    /*
     * A reader that stops reading (`vmlab run g.elf | sleep 60`) must not
     * hold vmlab past --timeout or a signal. A flush waits for stdout to
     * take the output - the guest waits with it, as a UART waits for a slow
     * line, and a guest that exits still has its last words written - but
     * gives up once abandon_output is set (by the stop-signal handler) or
     * give_up_at_ns passes (--timeout). What it could not write is dropped
     * and counted: bytes_dropped, and the statistics row
     * console/output-dropped-bytes when stats is set.
     */
    atomic_bool abandon_output;
    uint64_t give_up_at_ns;              /* host monotonic time; 0: no deadline */
    struct stats *stats;                 /* NULL: count in bytes_dropped only */
    struct stats_counter *dropped_row;   /* looked up on the first drop */
    uint64_t bytes_dropped;
};

void console_init(struct console *console, int input_fd, int output_fd);
void console_write(struct console *console, uint8_t byte);
/* Writes the buffered output; waits while stdout is full, but not once
 * abandon_output is set or give_up_at_ns has passed (see struct console). */
void console_flush(struct console *console);
/* Read what was typed and hand as much as fits to the UART. */
void console_feed(struct console *console, struct uart16550 *uart);
/* Read what was typed and take up to room bytes of it (a pv guest's
 * console ring, instead of the UART). Returns how many. */
size_t console_take(struct console *console, uint8_t *into, size_t room);
/* Sleep until deadline_ns (host monotonic time) or until input arrives. */
void console_wait(struct console *console, uint64_t deadline_ns);
void console_restore(struct console *console);

#endif
