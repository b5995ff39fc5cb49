/*
 * terminal.h - give the user's terminal back, however vmlab ends.
 *
 * Two parts of vmlab change the terminal: the console puts stdin in raw
 * mode (core/console.c), and the dashboard takes the screen with ncurses
 * (alternate screen, hidden cursor, cbreak). Both undo it on every normal
 * way out, and both arm this rescue while the terminal is changed, so that
 * an internal fault - a crash signal in the VMM's own code (SIGSEGV,
 * SIGBUS, SIGABRT, SIGFPE, SIGILL), or trapemu's handler finding a fault
 * outside the guest (core/direct/traps.c) - restores it before the process
 * dies: cooked mode, cursor on, alternate screen off.
 */
#ifndef VMLAB_TERMINAL_H
#define VMLAB_TERMINAL_H

#include <stddef.h>
#include <termios.h>

/* While armed, a crash restores `saved` on tty_fd and writes `sequence`
 * (terminfo's sgr0, cnorm, rmcup; may be empty) to output_fd. Installs the
 * crash handlers over the default action only (a technique or sanitizer
 * that handles a signal keeps it). One owner at a time. */
void terminal_rescue_arm(int tty_fd, const struct termios *saved, int output_fd,
                         const char *sequence, size_t sequence_length);
/* The dashboard redirects stderr while the screen is its own: the rescue
 * puts the saved descriptor back so the crash message reaches the user. */
void terminal_rescue_set_stderr(int saved_stderr);
/* The terminal was restored the normal way: nothing left to rescue. */
void terminal_rescue_disarm(void);
/* Restore now, if armed (async-signal-safe; does it once). */
void terminal_rescue_now(void);

#endif
