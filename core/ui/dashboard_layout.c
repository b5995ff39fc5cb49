/*
 * dashboard_layout.c - splitting the terminal into panes.
 */
#include "core/ui/dashboard_layout.h"

#include <string.h>

#define HEADER_LINES 3
#define HISTORY_LINES 2
#define BT_LINES 1

static struct pane pane_at(int y, int x, int height, int width)
{
    return (struct pane){.y = y, .x = x, .height = height, .width = width};
}

/* 80x24 and anything narrow: the panes stacked, the table and the console
 * sharing what the fixed panes leave. */
static void one_column(int lines, int columns, struct dashboard_layout *layout)
{
    int y = 0;
    layout->header = pane_at(y, 0, HEADER_LINES, columns);
    y += HEADER_LINES;
    layout->status = pane_at(y++, 0, 1, columns);
    layout->keys = pane_at(lines - 1, 0, 1, columns);
    int memory = 2, log = 3 + (lines - LAYOUT_MIN_LINES) / 6;
    int flexible = lines - 1 - y - HISTORY_LINES - memory - BT_LINES - log;
    int table = flexible / 2;
    int console = flexible - table;
    layout->table = pane_at(y, 0, table, columns);
    y += table;
    layout->history = pane_at(y, 0, HISTORY_LINES, columns);
    y += HISTORY_LINES;
    layout->memory = pane_at(y, 0, memory, columns);
    y += memory;
    layout->bt = pane_at(y, 0, BT_LINES, columns);
    y += BT_LINES;
    layout->console = pane_at(y, 0, console, columns);
    y += console;
    layout->log = pane_at(y, 0, log, columns);
}

static void two_columns(int lines, int columns, struct dashboard_layout *layout)
{
    int left = columns / 2;
    int right = columns - left - 1;   /* one column of space between */
    int y = 0;
    layout->header = pane_at(y, 0, HEADER_LINES, columns);
    y += HEADER_LINES;
    layout->status = pane_at(y++, 0, 1, columns);
    layout->keys = pane_at(lines - 1, 0, 1, columns);
    int body = lines - 1 - y;
    int memory = 7;
    int table = body - HISTORY_LINES - memory - BT_LINES;
    layout->table = pane_at(y, 0, table, left);
    layout->history = pane_at(y + table, 0, HISTORY_LINES, left);
    layout->memory = pane_at(y + table + HISTORY_LINES, 0, memory, left);
    layout->bt = pane_at(y + table + HISTORY_LINES + memory, 0, BT_LINES, left);
    int console = body * 3 / 5;
    layout->console = pane_at(y, left + 1, console, right);
    layout->log = pane_at(y + console, left + 1, body - console, right);
}

void dashboard_layout_compute(int lines, int columns, struct dashboard_layout *layout)
{
    memset(layout, 0, sizeof *layout);
    if (lines < LAYOUT_MIN_LINES || columns < LAYOUT_MIN_COLUMNS) {
        layout->too_small = true;
        return;
    }
    layout->two_columns = columns >= 120 && lines >= 30;
    if (layout->two_columns)
        two_columns(lines, columns, layout);
    else
        one_column(lines, columns, layout);
}
