/*
 * dashboard_console.c - scrollback for the guest's serial output.
 */
#include "core/ui/dashboard_console.h"

#include <string.h>

enum { ESCAPE_NONE, ESCAPE_SEEN, ESCAPE_CSI };

void console_pane_init(struct console_pane *pane)
{
    memset(pane, 0, sizeof *pane);
}

static char *current_line(struct console_pane *pane)
{
    return pane->lines[pane->line_next % CONSOLE_PANE_LINES];
}

static void new_line(struct console_pane *pane)
{
    pane->line_next++;
    current_line(pane)[0] = '\0';
    pane->column = 0;
    if (pane->scroll > 0 && pane->scroll < CONSOLE_PANE_LINES - 1)
        pane->scroll++;   /* someone reading the scrollback keeps their place */
}

static void put_char(struct console_pane *pane, char c)
{
    if (pane->column >= CONSOLE_PANE_WIDTH)
        new_line(pane);
    char *line = current_line(pane);
    size_t length = strlen(line);
    /* After '\r' or backspace the cursor may be left of the end: overwrite;
     * a cursor beyond the end (tab) pads with spaces. */
    while ((int)length < pane->column)
        line[length++] = ' ';
    line[pane->column] = c;
    if ((int)length <= pane->column)
        line[pane->column + 1] = '\0';
    pane->column++;
}

/* Returns 1 if the byte belonged to an escape sequence. */
static int skip_escape(struct console_pane *pane, uint8_t byte)
{
    switch (pane->escape_state) {
    case ESCAPE_SEEN:
        pane->escape_state = byte == '[' ? ESCAPE_CSI : ESCAPE_NONE;
        return 1;
    case ESCAPE_CSI:
        if (byte >= 0x40 && byte <= 0x7e)   /* the final byte of a CSI sequence */
            pane->escape_state = ESCAPE_NONE;
        return 1;
    default:
        if (byte == 0x1b) {
            pane->escape_state = ESCAPE_SEEN;
            return 1;
        }
        return 0;
    }
}

static void feed_byte(struct console_pane *pane, uint8_t byte)
{
    if (skip_escape(pane, byte))
        return;
    if (byte == '\n') {
        new_line(pane);
    } else if (byte == '\r') {
        pane->column = 0;
    } else if (byte == '\b' || byte == 0x7f) {
        if (pane->column > 0)
            pane->column--;
    } else if (byte == '\t') {
        int stop = (pane->column / 8 + 1) * 8;
        pane->column = stop < CONSOLE_PANE_WIDTH ? stop : CONSOLE_PANE_WIDTH;
    } else if (byte >= 0x20 && byte < 0x7f) {
        put_char(pane, (char)byte);
    } else if (byte >= 0x80) {
        put_char(pane, '?');
    }
}

void console_pane_feed(struct console_pane *pane, const uint8_t *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++)
        feed_byte(pane, bytes[i]);
    pane->bytes += length;
}

int console_pane_line_count(const struct console_pane *pane)
{
    uint64_t lines = pane->line_next + 1;
    return lines < CONSOLE_PANE_LINES ? (int)lines : CONSOLE_PANE_LINES;
}

const char *console_pane_line(const struct console_pane *pane, int from_bottom)
{
    int back = from_bottom + pane->scroll;
    if (back < 0 || back >= console_pane_line_count(pane))
        return "";
    return pane->lines[(pane->line_next - (uint64_t)back) % CONSOLE_PANE_LINES];
}

void console_pane_scroll(struct console_pane *pane, int lines, int visible)
{
    int most = console_pane_line_count(pane) - visible;
    int scroll = pane->scroll + lines;
    if (scroll > most)
        scroll = most;
    if (scroll < 0)
        scroll = 0;
    pane->scroll = scroll;
}
