/*
 * dashboard_console.h - the guest's serial output as a scrollback of lines.
 *
 * A minimal terminal: '\n' starts a line, '\r' returns to its start (later
 * characters overwrite), backspace moves left, tab goes to the next multiple
 * of 8, and escape sequences (ESC [ ... letter) are skipped rather than shown
 * as garbage. Other control bytes are dropped; bytes >= 0x80 show as '?'.
 * No ncurses here.
 */
#ifndef VMLAB_DASHBOARD_CONSOLE_H
#define VMLAB_DASHBOARD_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_PANE_LINES 500
#define CONSOLE_PANE_WIDTH 160   /* longer lines wrap */

struct console_pane {
    char lines[CONSOLE_PANE_LINES][CONSOLE_PANE_WIDTH + 1];
    uint64_t line_next;          /* the line being written is line_next % size */
    int column;                  /* cursor in the current line */
    int escape_state;            /* 0 none, 1 after ESC, 2 inside ESC [ */
    int scroll;                  /* lines scrolled back from the bottom (0: follow) */
    uint64_t bytes;
};

void console_pane_init(struct console_pane *pane);
void console_pane_feed(struct console_pane *pane, const uint8_t *bytes, size_t length);
/* Lines kept, counting the one being written. */
int console_pane_line_count(const struct console_pane *pane);
/* Line `from_bottom` lines above the newest (0: the current line), after
 * applying the scroll offset; "" past the top. */
const char *console_pane_line(const struct console_pane *pane, int from_bottom);
/* Scroll back (positive) or forward; clamped. */
void console_pane_scroll(struct console_pane *pane, int lines, int visible);

#endif
